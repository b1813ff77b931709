//! Client tokens and the other random names a store makes: both engines keep only a token's
//! SHA-256, so a stolen database or Redis dump cannot connect.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// A new random client token: `onair_` and 64 hex digits (256 bits).
pub fn new_token() -> String {
    format!("onair_{}", random_hex::<32>())
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new epoch name: 32 random hex digits.
pub(crate) fn new_epoch() -> String {
    random_hex::<16>()
}

fn random_hex<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}
