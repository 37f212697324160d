//! `SqliteStore`: the `Store` trait over one SQLite connection.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use sipprov_credentials::{CredentialState, DeviceRecord, SipPassword, Store, StoreError, Timestamp};
use sipprov_identity::Mac;

use crate::schema::{self, MigrateError};

/// A [`Store`] in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    // One connection, serialised: SQLite has one writer at a time anyway, and a mutex makes the
    // read-modify-write of `update_device` trivially exclusive within the process.
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref();
        let fail = |source: rusqlite::Error| OpenError::Sqlite { path: path.to_owned(), source };
        let mut conn = Connection::open(path).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(fail)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(fail)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            MigrateError::TooNew(found) => OpenError::SchemaTooNew { path: path.to_owned(), found },
            MigrateError::Sqlite(source) => OpenError::Sqlite { path: path.to_owned(), source },
        })?;
        Ok(Self { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-applied transaction behind (SQLite
        // rolls it back), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

const SELECT_DEVICE: &str = "SELECT mac, user_name, auth_name, display_name, state, delivered_at, password, enrolled_at
     FROM devices WHERE mac = ?1";

impl Store for SqliteStore {
    fn insert_device(&self, record: &DeviceRecord) -> Result<bool, StoreError> {
        let (state, delivered_at) = state_columns(record.state);
        let inserted = self
            .conn()
            .execute(
                "INSERT INTO devices (mac, user_name, auth_name, display_name, state, delivered_at, password, enrolled_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (mac) DO NOTHING",
                params![
                    record.mac.to_string(),
                    record.user_name,
                    record.auth_name,
                    record.display_name,
                    state,
                    delivered_at,
                    record.password.as_ref().map(SipPassword::expose),
                    record.enrolled_at.unix(),
                ],
            )
            .map_err(backend)?;
        Ok(inserted == 1)
    }

    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
        let conn = self.conn();
        let row = conn.query_row(SELECT_DEVICE, [mac.to_string()], read_device).optional().map_err(backend)?;
        row.transpose()
    }

    fn update_device(
        &self,
        mac: &Mac,
        apply: &mut dyn FnMut(&mut DeviceRecord),
    ) -> Result<Option<DeviceRecord>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(backend)?;
        let Some(mut device) =
            tx.query_row(SELECT_DEVICE, [mac.to_string()], read_device).optional().map_err(backend)?.transpose()?
        else {
            return Ok(None);
        };
        apply(&mut device);
        let (state, delivered_at) = state_columns(device.state);
        tx.execute(
            "UPDATE devices SET user_name = ?2, auth_name = ?3, display_name = ?4, state = ?5,
                    delivered_at = ?6, password = ?7
             WHERE mac = ?1",
            params![
                mac.to_string(),
                device.user_name,
                device.auth_name,
                device.display_name,
                state,
                delivered_at,
                device.password.as_ref().map(SipPassword::expose),
            ],
        )
        .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(Some(device))
    }
}

fn state_columns(state: CredentialState) -> (&'static str, Option<i64>) {
    let delivered_at = match state {
        CredentialState::Delivered { at } => Some(at.unix()),
        _ => None,
    };
    (state.name(), delivered_at)
}

/// Reads one `devices` row. The outer `Result` is SQLite's; the inner one rejects values that
/// SQLite stored but this version cannot interpret.
fn read_device(row: &Row<'_>) -> rusqlite::Result<Result<DeviceRecord, StoreError>> {
    let mac: String = row.get(0)?;
    let state: String = row.get(4)?;
    let delivered_at: Option<i64> = row.get(5)?;
    let password: Option<String> = row.get(6)?;
    let Ok(mac) = Mac::parse(&mac) else {
        return Ok(Err(StoreError::Corrupt(format!("device key {mac:?} is not a MAC"))));
    };
    let state = match (state.as_str(), delivered_at) {
        ("issued", None) => CredentialState::Issued,
        ("delivered", Some(at)) => CredentialState::Delivered { at: Timestamp::from_unix(at) },
        ("purged", None) => CredentialState::Purged,
        _ => return Ok(Err(StoreError::Corrupt(format!("device {mac}: invalid state {state:?}")))),
    };
    let record = DeviceRecord {
        mac,
        user_name: row.get(1)?,
        auth_name: row.get(2)?,
        display_name: row.get(3)?,
        state,
        password: password.map(SipPassword::from_string),
        enrolled_at: Timestamp::from_unix(row.get(7)?),
    };
    Ok(Ok(record))
}

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// The database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// SQLite refused to open or migrate the file.
    #[error("cannot open SQLite database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer sipprov; this build will not guess at its meaning.
    #[error("SQLite database {path} has schema version {found}, newer than this build understands; upgrade sipprov")]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
    },
}
