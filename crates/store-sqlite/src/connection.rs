//! How the store's connections are opened.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// A connection to the store: WAL, `synchronous=FULL` (an acknowledged write survives a power
/// cut), `secure_delete` (a deleted secret's bytes are overwritten), and a 10 s wait for a lock.
pub(crate) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "secure_delete", true)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// A connection that only reads: refused any write, whatever a bug would try.
pub(crate) fn connect_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = connect(path)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}
