//! Where the guides live, for error messages that send a user to them. Built from the
//! package's `repository` field, so a fork that sets its own points at its own copy.

/// `docs/twitch-setup.md`: registering the two Twitch apps, and what each first-time error means.
pub const TWITCH_SETUP: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/twitch-setup.md"
);

/// The same guide's section on the errors a first login or check meets.
pub const TWITCH_SETUP_ERRORS: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/blob/main/docs/twitch-setup.md#when-something-fails"
);
