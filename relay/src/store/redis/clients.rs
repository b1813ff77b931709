//! Client tokens in Redis: `client add` on one machine works on every instance.

use ::redis::AsyncCommands;

use super::{Redis, keys};
use crate::store::{self, ClientId, ClientInfo, StoreError};

impl Redis {
    pub(in crate::store) async fn authenticate(
        &self,
        token: &str,
    ) -> Result<Option<ClientId>, StoreError> {
        let mut conn = self.conn.clone();
        let hash = store::hash_token(token);
        self.checked(conn.hget(keys::TOKENS, hash).await)
    }

    pub(in crate::store) async fn client_ids(&self) -> Result<Vec<ClientId>, StoreError> {
        let mut conn = self.conn.clone();
        self.checked(conn.hvals(keys::TOKENS).await)
    }

    pub(in crate::store) async fn add_client(&self, name: &str) -> Result<String, StoreError> {
        let token = store::new_token();
        let mut conn = self.conn.clone();
        let r: Result<i64, _> = self
            .scripts
            .add_client
            .key(keys::CLIENTS)
            .key(keys::TOKENS)
            .key(keys::CLIENT_IDS)
            .arg(name)
            .arg(store::hash_token(&token))
            .arg(onair_common::time::now())
            .invoke_async(&mut conn)
            .await;
        match self.checked(r)? {
            0 => Err(store::taken(name)),
            _ => Ok(token),
        }
    }

    pub(in crate::store) async fn clients(&self) -> Result<Vec<ClientInfo>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = self.checked(conn.hgetall(keys::CLIENTS).await)?;
        let mut list: Vec<ClientInfo> = all
            .into_iter()
            .filter_map(|(name, record)| {
                let mut parts = record.split('\t');
                let id = parts.next()?.parse().ok()?;
                let _hash = parts.next()?;
                Some(ClientInfo {
                    id,
                    name,
                    created_at: parts.next()?.to_owned(),
                })
            })
            .collect();
        list.sort_by_key(|c| c.id);
        Ok(list)
    }

    pub(in crate::store) async fn remove_client(&self, name: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let r: Result<i64, _> = self
            .scripts
            .remove_client
            .key(keys::CLIENTS)
            .key(keys::TOKENS)
            .arg(name)
            .invoke_async(&mut conn)
            .await;
        match self.checked(r)? {
            0 => Err(store::unknown(name)),
            _ => Ok(()),
        }
    }
}
