//! `onair-relay`: receives Twitch EventSub webhooks, verifies and stores them in SQLite, and
//! republishes them over WebSocket with replay of what a client missed.

pub mod app;
pub mod check;
pub mod cli;
pub mod helix;
pub mod http;
pub mod hub;
pub mod intake;
pub mod metrics;
pub mod net;
pub mod store;
pub mod subs;
pub mod tls;
pub mod twitch_cli;
pub mod verify;

pub use app::{AppState, Relay, Settings, app};
