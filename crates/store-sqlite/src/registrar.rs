//! The registrar outbox: one row per digest user and realm, its latest change.

use rusqlite::{Connection, Row, params};
use sipprov_credentials::{RegistrarChange, RegistrarEntry, Sealed, StoreError};

use crate::errors::{backend, parse_mac};

/// Queues `changes` as change `seq` (the id of the audit event that carries them), each
/// replacing what its user and realm had queued.
pub(crate) fn queue(conn: &Connection, seq: i64, changes: &[RegistrarChange]) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(
        "INSERT INTO registrar (realm, username, mac, line, ha1, seq, pushed) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
         ON CONFLICT (realm, username) DO UPDATE
         SET mac = excluded.mac, line = excluded.line, ha1 = excluded.ha1, seq = excluded.seq, pushed = 0",
    )?;
    for change in changes {
        statement.execute(params![
            change.realm,
            change.user,
            change.mac.to_string(),
            change.line,
            change.ha1.as_ref().map(Sealed::as_bytes),
            seq
        ])?;
    }
    Ok(())
}

const COLUMNS: &str = "realm, username, mac, line, ha1, seq, pushed";

/// Up to `limit` rows not yet pushed, oldest change first.
pub(crate) fn pending(conn: &Connection, limit: usize) -> Result<Vec<RegistrarEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM registrar WHERE pushed = 0 ORDER BY seq, realm, username LIMIT ?1"
        ))
        .map_err(backend)?;
    let rows = statement.query_map([limit], read_entry).map_err(backend)?;
    rows.map(|row| row.map_err(backend)?).collect()
}

/// Up to `limit` rows after (realm, user), by realm and user.
pub(crate) fn entries(
    conn: &Connection,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Vec<RegistrarEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (realm, user) = after.unwrap_or_default();
    let mut statement = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM registrar WHERE (realm, username) > (?1, ?2) ORDER BY realm, username LIMIT ?3"
        ))
        .map_err(backend)?;
    let rows = statement.query_map(params![realm, user, limit], read_entry).map_err(backend)?;
    rows.map(|row| row.map_err(backend)?).collect()
}

/// Marks change `seq` of (realm, user) pushed, or removes it if it is a deletion; `false` if
/// the row holds another change.
pub(crate) fn pushed(conn: &Connection, realm: &str, user: &str, seq: u64) -> rusqlite::Result<bool> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let removed = conn.execute(
        "DELETE FROM registrar WHERE realm = ?1 AND username = ?2 AND seq = ?3 AND ha1 IS NULL",
        params![realm, user, seq],
    )?;
    let marked = conn.execute(
        "UPDATE registrar SET pushed = 1 WHERE realm = ?1 AND username = ?2 AND seq = ?3",
        params![realm, user, seq],
    )?;
    Ok(removed + marked == 1)
}

/// Replaces the sealed HA1 of change `seq` of (realm, user); `false` if the row holds another.
pub(crate) fn reseal(conn: &Connection, realm: &str, user: &str, seq: u64, ha1: &Sealed) -> rusqlite::Result<bool> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let changed = conn.execute(
        "UPDATE registrar SET ha1 = ?4 WHERE realm = ?1 AND username = ?2 AND seq = ?3 AND ha1 IS NOT NULL",
        params![realm, user, seq, ha1.as_bytes()],
    )?;
    Ok(changed == 1)
}

fn read_entry(row: &Row<'_>) -> rusqlite::Result<Result<RegistrarEntry, StoreError>> {
    let (realm, user, mac, line): (String, String, String, u16) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
    let (ha1, seq, pushed): (Option<Vec<u8>>, i64, i64) = (row.get(4)?, row.get(5)?, row.get(6)?);
    Ok(parse_mac(&mac).and_then(|mac| {
        let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("registrar change {seq}")))?;
        let change = RegistrarChange { realm, user, mac, line, ha1: ha1.map(Sealed::from_bytes) };
        Ok(RegistrarEntry { change, seq, pushed: pushed == 1 })
    }))
}
