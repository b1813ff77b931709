//! HTTP and WebSocket handlers.

pub mod api;
pub mod auth;
pub mod error;
pub mod eventsub;
pub mod ws;
