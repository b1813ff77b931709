//! What `onair-relay` and `onair` share: the config file, the one event shape, Twitch's EventSub
//! envelope, and the relay's WebSocket wire protocol.

pub mod catalog;
pub mod config;
pub mod event;
pub mod eventsub;
pub mod secret;
pub mod time;
pub mod twitch;
pub mod wire;

pub use config::Config;
pub use event::Event;
pub use secret::Secret;
