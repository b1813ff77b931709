//! `onair`: the terminal app and its scriptable subcommands.

pub mod app;
pub mod auth;
pub mod backoff;
pub mod chat;
pub mod cli;
pub mod direct;
pub mod error;
pub mod helix;
pub mod logging;
pub mod relay;

pub use error::{Error, Result};
