//! The registrar outbox: one row per digest user and realm, its latest change.

use deadpool_postgres::{GenericClient, Transaction};
use sipprov_credentials::{RegistrarChange, RegistrarEntry, Sealed, StoreError};
use tokio_postgres::Row;

use crate::rows::{backend, mac};

/// Queues `changes`, each replacing what its user and realm had queued, under a new number
/// from `registrar_seq`.
pub(crate) async fn queue(tx: &Transaction<'_>, changes: &[&RegistrarChange]) -> Result<(), StoreError> {
    let statement = tx
        .prepare_cached(
            "INSERT INTO registrar (realm, username, mac, line, ha1, seq, pushed)
             VALUES ($1, $2, $3, $4, $5, nextval('registrar_seq'), false)
             ON CONFLICT (realm, username) DO UPDATE
             SET mac = EXCLUDED.mac, line = EXCLUDED.line, ha1 = EXCLUDED.ha1, seq = EXCLUDED.seq, pushed = false",
        )
        .await
        .map_err(backend)?;
    for change in changes {
        let line = i32::from(change.line);
        let ha1 = change.ha1.as_ref().map(Sealed::as_bytes);
        tx.execute(&statement, &[&change.realm, &change.user, &change.mac.to_string(), &line, &ha1])
            .await
            .map_err(backend)?;
    }
    Ok(())
}

const COLUMNS: &str = "realm, username, mac, line, ha1, seq, pushed";

/// Up to `limit` rows not yet pushed, oldest change first.
pub(crate) async fn pending(client: &impl GenericClient, limit: usize) -> Result<Vec<RegistrarEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = format!("SELECT {COLUMNS} FROM registrar WHERE NOT pushed ORDER BY seq LIMIT $1");
    let rows = client.query(&sql, &[&limit]).await.map_err(backend)?;
    rows.iter().map(entry).collect()
}

/// Up to `limit` rows after (realm, user), by realm and user.
pub(crate) async fn entries(
    client: &impl GenericClient,
    after: Option<(String, String)>,
    limit: usize,
) -> Result<Vec<RegistrarEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (realm, user) = after.unwrap_or_default();
    let sql =
        format!("SELECT {COLUMNS} FROM registrar WHERE (realm, username) > ($1, $2) ORDER BY realm, username LIMIT $3");
    let rows = client.query(&sql, &[&realm, &user, &limit]).await.map_err(backend)?;
    rows.iter().map(entry).collect()
}

/// Marks change `seq` of (realm, user) pushed, or removes it if it is a deletion; `false` if
/// the row holds another change.
pub(crate) async fn pushed(tx: &Transaction<'_>, realm: &str, user: &str, seq: u64) -> Result<bool, StoreError> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let removed = tx
        .execute(
            "DELETE FROM registrar WHERE realm = $1 AND username = $2 AND seq = $3 AND ha1 IS NULL",
            &[&realm, &user, &seq],
        )
        .await
        .map_err(backend)?;
    let marked = tx
        .execute(
            "UPDATE registrar SET pushed = true WHERE realm = $1 AND username = $2 AND seq = $3",
            &[&realm, &user, &seq],
        )
        .await
        .map_err(backend)?;
    Ok(removed + marked == 1)
}

/// Replaces the sealed HA1 of change `seq` of (realm, user); `false` if the row holds another.
pub(crate) async fn reseal(
    client: &impl GenericClient,
    realm: &str,
    user: &str,
    seq: u64,
    ha1: &Sealed,
) -> Result<bool, StoreError> {
    let seq = i64::try_from(seq).unwrap_or(i64::MAX);
    let changed = client
        .execute(
            "UPDATE registrar SET ha1 = $4 WHERE realm = $1 AND username = $2 AND seq = $3 AND ha1 IS NOT NULL",
            &[&realm, &user, &seq, &ha1.as_bytes()],
        )
        .await
        .map_err(backend)?;
    Ok(changed == 1)
}

fn entry(row: &Row) -> Result<RegistrarEntry, StoreError> {
    let line: i32 = row.try_get(3).map_err(backend)?;
    let seq: i64 = row.try_get(5).map_err(backend)?;
    let ha1: Option<Vec<u8>> = row.try_get(4).map_err(backend)?;
    let change = RegistrarChange {
        realm: row.try_get(0).map_err(backend)?,
        user: row.try_get(1).map_err(backend)?,
        mac: mac(row.try_get(2).map_err(backend)?)?,
        line: u16::try_from(line).map_err(|_| StoreError::Corrupt(format!("registrar line {line}")))?,
        ha1: ha1.map(Sealed::from_bytes),
    };
    let seq = u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("registrar change {seq}")))?;
    Ok(RegistrarEntry { change, seq, pushed: row.try_get(6).map_err(backend)? })
}
