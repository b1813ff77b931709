//! Client tokens: `client add` makes a random token, shows it once, and stores only its SHA-256.

use rusqlite::{Connection, OptionalExtension};

use crate::store::tokens::{hash_token, new_token};
use crate::store::{ClientId, ClientInfo, StoreError};

/// Adds a client; returns its token, which is not stored anywhere.
pub(crate) fn add(conn: &Connection, name: &str) -> Result<String, StoreError> {
    let token = new_token();
    let inserted = conn.execute(
        "INSERT INTO clients (name, token_hash, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(name) DO NOTHING",
        rusqlite::params![name, hash_token(&token), onair_common::time::now()],
    )?;
    if inserted == 0 {
        return Err(crate::store::taken(name));
    }
    Ok(token)
}

/// Every client, oldest first.
pub(crate) fn list(conn: &Connection) -> Result<Vec<ClientInfo>, StoreError> {
    let mut stmt = conn.prepare("SELECT id, name, created_at FROM clients ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(ClientInfo {
            id: r.get(0)?,
            name: r.get(1)?,
            created_at: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Removes a client by name.
pub(crate) fn remove(conn: &Connection, name: &str) -> Result<(), StoreError> {
    match conn.execute("DELETE FROM clients WHERE name = ?1", [name.trim()])? {
        0 => Err(crate::store::unknown(name)),
        _ => Ok(()),
    }
}

/// The client a token belongs to.
pub(crate) fn authenticate(conn: &Connection, token: &str) -> Result<Option<ClientId>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT id FROM clients WHERE token_hash = ?1")?
        .query_row([hash_token(token)], |r| r.get(0))
        .optional()?)
}

/// The ids of every client, to notice removals made by another process.
pub(crate) fn ids(conn: &Connection) -> Result<Vec<ClientId>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM clients")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&c, std::path::Path::new(":memory:")).unwrap();
        c
    }

    #[test]
    fn add_stores_only_the_hash() {
        let c = db();
        let token = add(&c, "laptop").unwrap();
        assert!(token.starts_with("onair_") && token.len() == 70);
        let stored: String = c
            .query_row("SELECT token_hash FROM clients", [], |r| r.get(0))
            .unwrap();
        assert_ne!(stored, token);
        assert_eq!(stored, hash_token(&token));
        assert!(authenticate(&c, &token).unwrap().is_some());
        assert!(authenticate(&c, "onair_wrong").unwrap().is_none());
    }

    #[test]
    fn names_are_unique_and_removal_revokes() {
        let c = db();
        let token = add(&c, "laptop").unwrap();
        assert!(
            add(&c, "laptop")
                .unwrap_err()
                .to_string()
                .contains("exists already")
        );
        assert_eq!(list(&c).unwrap().len(), 1);
        remove(&c, "laptop").unwrap();
        assert!(authenticate(&c, &token).unwrap().is_none());
        assert!(remove(&c, "laptop").is_err());
    }
}
