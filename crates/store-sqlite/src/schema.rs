//! The database schema and its migrations, versioned by `PRAGMA user_version`.

use rusqlite::Connection;

/// Migrations in order; migration `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: devices and their credential state.
    "CREATE TABLE devices (
        mac          TEXT PRIMARY KEY NOT NULL CHECK (length(mac) = 12),
        user_name    TEXT NOT NULL,
        auth_name    TEXT NOT NULL,
        display_name TEXT NOT NULL,
        state        TEXT NOT NULL CHECK (state IN ('issued', 'delivered', 'purged')),
        delivered_at INTEGER,
        password     TEXT,
        enrolled_at  INTEGER NOT NULL,
        CHECK ((state = 'delivered') = (delivered_at IS NOT NULL)),
        CHECK (state <> 'purged' OR password IS NULL)
    ) STRICT;",
];

/// Brings the schema up to the newest version, one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let newest = MIGRATIONS.len() as i64;
    if !(0..=newest).contains(&found) {
        return Err(MigrateError::TooNew(found));
    }
    for (version, sql) in (1..=newest).zip(MIGRATIONS).skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrateError {
    #[error("the database schema is version {0}, which this build does not know")]
    TooNew(i64),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}
