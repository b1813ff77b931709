//! End-to-end test support: local fakes of Twitch that follow `twitch.md` exactly, and harnesses
//! that run onair's programs on loopback.

// Test support: a panic is how a broken fixture or harness reports itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bins;
pub mod direct_env;
pub mod eventsub;
pub mod eventsub_ws;
pub mod helix;
pub mod helix_actions;
pub mod irc;
pub mod load;
pub mod pebble;
pub mod procstat;
pub mod pty;
pub mod redis_server;
pub mod relay;
pub mod relay_process;
pub mod test_ca;
pub mod twitch_auth;
