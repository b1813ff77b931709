//! Which history the server holds: its epoch, and where a reader starts.

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, RedisError};

use super::{Redis, keys};
use crate::store::tokens;

impl Redis {
    /// The id of the newest status entry ("0" when there is none), where a reader starts.
    pub(super) async fn newest_status(&self) -> Result<String, RedisError> {
        let mut conn = self.conn.clone();
        let newest: Vec<(String, Vec<(String, String)>)> = ::redis::cmd("XREVRANGE")
            .arg(keys::STATUS)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut conn)
            .await?;
        Ok(newest.first().map_or_else(|| "0".into(), |e| e.0.clone()))
    }

    /// The server's epoch and last seq, starting a new epoch first when it was flushed or its
    /// counter went back below `fed` (see [`super::scripts::CHECK`]).
    pub(super) async fn check(&self, epoch: &str, fed: u64) -> Result<(String, u64), RedisError> {
        let mut conn = self.conn.clone();
        self.scripts
            .check
            .key(keys::EPOCH)
            .key(keys::SEQ)
            .arg(epoch)
            .arg(fed)
            .arg(tokens::new_epoch())
            .invoke_async(&mut conn)
            .await
    }
}

/// Sets an epoch when the server has none (a new or flushed Redis), then reads it.
pub(super) async fn ensure_epoch(conn: &mut ConnectionManager) -> Result<String, RedisError> {
    let _: Option<String> = ::redis::cmd("SET")
        .arg(keys::EPOCH)
        .arg(tokens::new_epoch())
        .arg("NX")
        .query_async(conn)
        .await?;
    conn.get(keys::EPOCH).await
}
