//! Webhook intake policy: who gets in before a body byte is read ([`gate`]), and how each request
//! ends ([`outcome`]).

pub mod gate;
pub mod outcome;

pub use gate::{Admission, Gate, Shed};
pub use outcome::Outcome;
