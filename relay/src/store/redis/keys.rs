//! Key names. One hash tag, `{onair}`, for all of them: the scripts touch several keys at once,
//! which a Redis Cluster allows only within one slot.

/// The seq counter: the last seq given.
pub(super) const SEQ: &str = "onair:{onair}:seq";
/// The events stream; entry ids are `<seq>-0`.
pub(super) const EVENTS: &str = "onair:{onair}:events";
/// Status frames for every instance's sockets (revocations, syncs); capped.
pub(super) const STATUS: &str = "onair:{onair}:status";
/// The name of this store's history (`welcome.epoch`).
pub(super) const EPOCH: &str = "onair:{onair}:epoch";
/// Channel logins by broadcaster id, to name channels in revocations.
pub(super) const CHANNELS: &str = "onair:{onair}:channels";
/// Revocation records by message id.
pub(super) const REVOCATIONS: &str = "onair:{onair}:revocations";
/// Clients by name: `id \t token hash \t created at`.
pub(super) const CLIENTS: &str = "onair:{onair}:clients";
/// Client ids by token hash.
pub(super) const TOKENS: &str = "onair:{onair}:tokens";
/// The last client id given.
pub(super) const CLIENT_IDS: &str = "onair:{onair}:client_ids";

/// The dedupe key of a Twitch message id.
pub(super) fn seen(message_id: &str) -> String {
    format!("onair:{{onair}}:seen:{message_id}")
}
