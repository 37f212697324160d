//! `SqliteStore`: the `Store` trait over SQLite, writes through the group-commit writer.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Row, params};
use sipprov_credentials::{
    Account, ApiToken, AuditEvent, AuditKind, AuditQuery, Ban, CredentialState, DeviceProfile, DeviceQuery,
    DeviceRecord, DeviceSecrets, DeviceUpdate, Document, FleetFacts, FleetQuery, FleetRow, LastSeen, MAX_PENDING_KEYS,
    PendingDevice, PendingQuery, RegistrarEntry, RevealToken, Sealed, Sighting, Srtp, Store, StoreError,
    StoredAuditEvent, Timestamp, TokenUse, Transport, UpdateDone, check_document,
};
use sipprov_identity::Mac;

use crate::compaction::{Compaction, CompactionPacing};
use crate::connection::{connect, connect_reader};
use crate::device_update::{Changed, update_device_row};
use crate::errors::{backend, parse_mac};
use crate::schema::{self, MigrateError};
use crate::writer::Writer;

/// How a [`SqliteStore`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    /// Let concurrent writes share one commit (and fsync). On by default; off only to measure.
    pub group_commit: bool,
    /// When [`Store::compact`] runs, and when it gives way to writes.
    pub compaction: CompactionPacing,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self { group_commit: true, compaction: CompactionPacing::default() }
    }
}

/// A [`Store`] in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    writer: Writer,
    compaction: Compaction,
    // WAL lets these connections read committed data while the writer writes; one per
    // concurrent reader, so a long listing never holds up a phone's fetch.
    readers: Mutex<Vec<Connection>>,
    path: PathBuf,
}

/// Reader connections kept open between reads; more are opened when more read at once.
const IDLE_READERS: usize = 8;

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` with group commit, and migrates it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        Self::open_with(path, SqliteOptions::default())
    }

    /// Opens the database at `path` with `options`.
    ///
    /// Durability: WAL, `synchronous=FULL`, and `secure_delete` so the cells of deleted secrets
    /// are overwritten. Opening folds the WAL into the database and truncates it, so old page
    /// images left by a crash do not linger.
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, OpenError> {
        let path = path.as_ref();
        create_private(path).map_err(|source| OpenError::Create { path: path.to_owned(), source })?;
        let fail = |source: rusqlite::Error| OpenError::Sqlite { path: path.to_owned(), source };
        let mut conn = connect(path).map_err(fail)?;
        schema::migrate(&mut conn).map_err(|e| match e {
            MigrateError::TooNew(found) => OpenError::SchemaTooNew { path: path.to_owned(), found },
            MigrateError::Sqlite(source) => OpenError::Sqlite { path: path.to_owned(), source },
        })?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(fail)?;
        let reader = connect_reader(path).map_err(fail)?;
        let writer = Writer::start(conn, options.group_commit).map_err(|e| OpenError::Thread(e.to_string()))?;
        let compaction = Compaction::new(options.compaction);
        Ok(Self { writer, compaction, readers: Mutex::new(vec![reader]), path: path.to_owned() })
    }

    /// Looks at an existing database without changing it (read-only, no migration): its schema
    /// version against this build's, and SQLite's `quick_check`. For `sipprovd check`.
    pub fn inspect(path: impl AsRef<Path>) -> Result<Inspection, OpenError> {
        let path = path.as_ref();
        let fail = |source: rusqlite::Error| OpenError::Sqlite { path: path.to_owned(), source };
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(fail)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(fail)?;
        let check: String = conn.query_row("PRAGMA quick_check", [], |row| row.get(0)).map_err(fail)?;
        Ok(Inspection { version, newest: schema::newest(), integrity: (check != "ok").then_some(check) })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs SQLite's `PRAGMA integrity_check`; `Ok(())` when the database is sound.
    pub fn integrity_check(&self) -> Result<(), StoreError> {
        let result: String =
            self.read(|conn| conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).map_err(backend))?;
        if result == "ok" { Ok(()) } else { Err(StoreError::Corrupt(result)) }
    }

    /// How many rows each kind of record has: what a move to another backend must carry.
    pub fn counts(&self) -> Result<Counts, StoreError> {
        self.read(|conn| {
            let count = |table: &str| -> Result<u64, StoreError> {
                let n: i64 =
                    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get(0)).map_err(backend)?;
                Ok(u64::try_from(n).unwrap_or(0))
            };
            Ok(Counts {
                devices: count("devices")?,
                audit: count("audit")?,
                pending: count("pending")?,
                bans: count("bans")?,
                api_tokens: count("api_tokens")?,
                reveal_tokens: count("reveal_tokens")?,
            })
        })
    }

    /// Every operator document, by name.
    pub fn documents(&self) -> Result<Vec<(String, Document)>, StoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare("SELECT name, version, body FROM documents ORDER BY name").map_err(backend)?;
            let rows = statement
                .query_map([], |row| {
                    let version = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                    Ok((row.get::<_, String>(0)?, Document { version, body: row.get(2)? }))
                })
                .map_err(backend)?;
            rows.map(|row| row.map_err(backend)).collect()
        })
    }

    /// Every reveal token, with when it was used, by hash.
    pub fn reveal_tokens(&self) -> Result<Vec<(RevealToken, Option<Timestamp>)>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare("SELECT hash, mac, expires_at, used_at FROM reveal_tokens ORDER BY hash")
                .map_err(backend)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, Option<i64>>(3)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|row| {
                let (hash, mac, expires_at, used_at) = row.map_err(backend)?;
                let token = RevealToken {
                    hash: hash.try_into().map_err(|_| StoreError::Corrupt("a reveal token hash".into()))?,
                    mac: parse_mac(&mac)?,
                    expires_at: Timestamp::from_unix(expires_at),
                };
                Ok((token, used_at.map(Timestamp::from_unix)))
            })
            .collect()
        })
    }

    /// Runs `read` on an idle reader connection, opening one if none is idle.
    fn read<R>(&self, read: impl FnOnce(&Connection) -> Result<R, StoreError>) -> Result<R, StoreError> {
        let idle = self.idle_readers().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => connect_reader(&self.path).map_err(backend)?,
        };
        let result = read(&conn);
        let mut idle = self.idle_readers();
        if idle.len() < IDLE_READERS {
            idle.push(conn);
        }
        result
    }

    fn idle_readers(&self) -> MutexGuard<'_, Vec<Connection>> {
        // A panic while holding the list cannot leave a connection half-used: it only moves them.
        self.readers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Creates a missing database file readable by its owner only (mode 0600): it holds sealed
/// secrets, the audit log and token hashes. SQLite gives its WAL and shared-memory files the
/// database file's mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

const DEVICE_COLUMNS: &str = "mac, state, state_time, admin_password, pinned_spki, disabled, enrolled_at, last_fetch,
     vendor, model, site, settings, last_peer, last_user_agent, keys, enrolment_secret";

/// One device with its accounts, one row per account: a phone's poll is one statement (one
/// read transaction), not one for the device and another for its accounts.
///
/// Written so SQLite never re-prepares it: with a bare `?1` here, or an `ORDER BY`, SQLite
/// recompiles the statement for every new MAC bound (its query planner may take a bound
/// value into account), which cost a polling phone more than the read itself. The
/// `CAST` keeps the value out of planning; the accounts are sorted by line after reading.
/// `a_polls_statement_is_prepared_once` holds this.
const SELECT_DEVICE: &str = "SELECT d.mac, d.state, d.state_time, d.admin_password, d.pinned_spki, d.disabled,
     d.enrolled_at, d.last_fetch, d.vendor, d.model, d.site, d.settings, d.last_peer, d.last_user_agent, d.keys,
     d.enrolment_secret, a.line, a.user_name, a.auth_name, a.display_name, a.registrar, a.outbound_proxy, a.transport, a.srtp,
     a.sip_password
     FROM devices d LEFT JOIN accounts a ON a.mac = d.mac WHERE d.mac = CAST(?1 AS TEXT)";

/// Where an account's columns start in a [`SELECT_DEVICE`] row.
const ACCOUNT_COLUMNS_AT: usize = 16;

const INSERT_DEVICE: &str = "INSERT INTO devices (mac, state, state_time, admin_password, pinned_spki, disabled,
     enrolled_at, last_fetch, vendor, model, site, settings, last_peer, last_user_agent, keys, enrolment_secret)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

const SELECT_ACCOUNTS: &str = "SELECT line, user_name, auth_name, display_name, registrar, outbound_proxy, transport,
     srtp, sip_password FROM accounts WHERE mac = CAST(?1 AS TEXT)";

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (mac, line, user_name, auth_name, display_name, registrar,
     outbound_proxy, transport, srtp, sip_password) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";

fn select_device(conn: &Connection, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
    let mut statement = conn.prepare_cached(SELECT_DEVICE).map_err(backend)?;
    let mut rows = statement.query([mac.to_string()]).map_err(backend)?;
    let mut device = None;
    let mut accounts = Vec::new();
    while let Some(row) = rows.next().map_err(backend)? {
        if device.is_none() {
            device = Some(read_device(row).map_err(backend)??);
        }
        // A device without accounts has one row of NULLs here: `attach_accounts` refuses it.
        if row.get_ref(ACCOUNT_COLUMNS_AT).map_err(backend)? != rusqlite::types::ValueRef::Null {
            accounts
                .push(read_account(row, ACCOUNT_COLUMNS_AT).map_err(backend)?.map_err(|e| corrupt_account(*mac, e))?);
        }
    }
    let Some(mut device) = device else { return Ok(None) };
    attach_accounts(&mut device, accounts)?;
    Ok(Some(device))
}

/// Reads a device's accounts, and their sealed passwords into its secrets.
fn load_accounts(conn: &Connection, device: &mut DeviceRecord) -> Result<(), StoreError> {
    let mac = device.mac;
    let mut statement = conn.prepare_cached(SELECT_ACCOUNTS).map_err(backend)?;
    let rows = statement.query_map([mac.to_string()], |row| read_account(row, 0)).map_err(backend)?;
    let mut accounts = Vec::new();
    for row in rows {
        accounts.push(row.map_err(backend)?.map_err(|e| corrupt_account(mac, e))?);
    }
    attach_accounts(device, accounts)
}

/// Puts a device's accounts into the record, and their sealed passwords into its secrets beside
/// the admin password [`read_device`] left there.
fn attach_accounts(device: &mut DeviceRecord, accounts: Vec<StoredAccount>) -> Result<(), StoreError> {
    let admin_password = device.secrets.take().and_then(|secrets| secrets.admin_password);
    let accounts = accounts.into_iter().map(|(account, sealed)| (account, sealed.map(Sealed::from_bytes))).collect();
    sipprov_credentials::columns::attach_accounts(device, admin_password, accounts)
        .map_err(|reason| corrupt_account(device.mac, reason))
}

fn corrupt_account(mac: Mac, reason: String) -> StoreError {
    StoreError::Corrupt(format!("device {mac}: {reason}"))
}

/// An account as stored, with its sealed password if it still holds one.
type StoredAccount = (Account, Option<Vec<u8>>);

/// Reads one account's columns, from column `at` of a row (outer `Result` SQLite's, inner one
/// the values'), with its sealed password, if any.
fn read_account(row: &Row<'_>, at: usize) -> rusqlite::Result<Result<StoredAccount, String>> {
    let (transport, srtp): (Option<String>, Option<String>) = (row.get(at + 6)?, row.get(at + 7)?);
    let line: i64 = row.get(at)?;
    let Ok(line) = u16::try_from(line) else { return Ok(Err(format!("account line {line} is out of range"))) };
    let transport = match transport.map(|name| Transport::from_name(&name).ok_or(name)).transpose() {
        Ok(transport) => transport,
        Err(name) => return Ok(Err(format!("unknown transport {name:?}"))),
    };
    let srtp = match srtp.map(|name| Srtp::from_name(&name).ok_or(name)).transpose() {
        Ok(srtp) => srtp,
        Err(name) => return Ok(Err(format!("unknown SRTP setting {name:?}"))),
    };
    let account = Account {
        line,
        user_name: row.get(at + 1)?,
        auth_name: row.get(at + 2)?,
        display_name: row.get(at + 3)?,
        registrar: row.get(at + 4)?,
        outbound_proxy: row.get(at + 5)?,
        transport,
        srtp,
    };
    Ok(Ok((account, row.get(at + 8)?)))
}

/// Inserts a new device's row and its accounts.
fn insert_device(conn: &Connection, device: &DeviceRecord) -> rusqlite::Result<()> {
    let seen = device.last_seen.as_ref();
    let settings = sipprov_credentials::columns::settings_to_json(&device.profile.settings);
    conn.prepare_cached(INSERT_DEVICE)?.execute(params![
        device.mac.to_string(),
        device.state.name(),
        device.state.time().map(Timestamp::unix),
        device.secrets.as_ref().and_then(|s| s.admin_password.as_ref()).map(Sealed::as_bytes),
        device.pinned_spki.as_ref().map(|p| &p[..]),
        device.disabled,
        device.enrolled_at.unix(),
        seen.map(|seen| seen.at.unix()),
        device.profile.vendor,
        device.profile.model,
        device.profile.site,
        settings,
        seen.map(|seen| &seen.peer),
        seen.and_then(|seen| seen.user_agent.as_ref()),
        sipprov_credentials::columns::keys_to_json(&device.profile.keys),
        device.enrolment_secret.as_ref().map(Sealed::as_bytes),
    ])?;
    write_accounts(conn, device)
}

/// Replaces a device's account rows with its accounts.
fn write_accounts(conn: &Connection, device: &DeviceRecord) -> rusqlite::Result<()> {
    let mac = device.mac.to_string();
    conn.prepare_cached("DELETE FROM accounts WHERE mac = ?1")?.execute([&mac])?;
    let mut statement = conn.prepare_cached(INSERT_ACCOUNT)?;
    for account in &device.accounts {
        let sealed = device.secrets.as_ref().and_then(|secrets| secrets.sip_password(account.line));
        statement.execute(params![
            mac,
            account.line,
            account.user_name,
            account.auth_name,
            account.display_name,
            account.registrar,
            account.outbound_proxy,
            account.transport.map(Transport::name),
            account.srtp.map(Srtp::name),
            sealed.map(Sealed::as_bytes),
        ])?;
    }
    Ok(())
}

/// One device update inside the writer's transaction: read, change, write the columns that
/// changed (and the account rows only if they did: a delivery leaves them, and their pages,
/// alone) and the audit events.
fn apply_update(conn: &Connection, mac: Mac, update: DeviceUpdate) -> Result<Option<DeviceRecord>, StoreError> {
    let Some(mut device) = select_device(conn, &mac)? else { return Ok(None) };
    let before = device.clone();
    let events = update(&mut device).map_err(|abort| StoreError::Aborted(abort.0))?;
    if device.mac != mac {
        return Err(StoreError::Aborted("an update may not change the MAC".into()));
    }
    update_device_row(conn, &device, Changed::between(&before, &device)).map_err(backend)?;
    if (&before.accounts, sip_passwords(&before)) != (&device.accounts, sip_passwords(&device)) {
        write_accounts(conn, &device).map_err(backend)?;
    }
    insert_events(conn, &events).map_err(backend)?;
    Ok(Some(device))
}

fn insert_events(conn: &Connection, events: &[AuditEvent]) -> rusqlite::Result<()> {
    crate::writer::log_when_committed(events);
    let mut statement = conn.prepare_cached("INSERT INTO audit (at, mac, kind, detail) VALUES (?1, ?2, ?3, ?4)")?;
    for event in events {
        statement.execute(params![
            event.at.unix(),
            event.mac.map(|m| m.to_string()),
            event.kind.name(),
            event.detail
        ])?;
        if !event.registrar.is_empty() {
            crate::registrar::queue(conn, conn.last_insert_rowid(), &event.registrar)?;
        }
    }
    Ok(())
}

impl Store for SqliteStore {
    fn insert_device(&self, record: DeviceRecord, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        self.writer.submit(move |conn| {
            if select_device(conn, &record.mac)?.is_some() {
                return Ok(false);
            }
            insert_device(conn, &record).map_err(backend)?;
            conn.prepare_cached("DELETE FROM pending WHERE mac = ?1")
                .and_then(|mut statement| statement.execute([record.mac.to_string()]))
                .map_err(backend)?;
            insert_events(conn, &events).map_err(backend)?;
            Ok(true)
        })
    }

    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
        self.read(|conn| select_device(conn, mac))
    }

    fn update_device(&self, mac: &Mac, update: DeviceUpdate) -> Result<Option<DeviceRecord>, StoreError> {
        let mac = *mac;
        self.writer.submit(move |conn| apply_update(conn, mac, update))
    }

    fn update_device_then(&self, mac: &Mac, update: DeviceUpdate, done: UpdateDone) {
        let mac = *mac;
        self.writer.submit_then(move |conn| apply_update(conn, mac, update), done);
    }

    fn updates_on_own_thread(&self) -> bool {
        true
    }

    fn delete_device(&self, mac: &Mac, event: AuditEvent) -> Result<bool, StoreError> {
        let mac = *mac;
        self.writer.submit(move |conn| {
            let deleted = conn.execute("DELETE FROM devices WHERE mac = ?1", [mac.to_string()]).map_err(backend)?;
            conn.execute("DELETE FROM accounts WHERE mac = ?1", [mac.to_string()]).map_err(backend)?;
            if deleted == 1 {
                insert_events(conn, std::slice::from_ref(&event)).map_err(backend)?;
            }
            Ok(deleted == 1)
        })
    }

    fn devices(&self, query: &DeviceQuery) -> Result<Vec<DeviceRecord>, StoreError> {
        // Only the filters that are set go into the SQL, so the vendor and site indexes serve them.
        let mut conditions = vec!["mac > ?".to_owned()];
        let mut values: Vec<rusqlite::types::Value> =
            vec![query.after.map(|m| m.to_string()).unwrap_or_default().into()];
        let mut filter = |condition: &str, value: rusqlite::types::Value| {
            conditions.push(condition.to_owned());
            values.push(value);
        };
        if let Some(state) = query.state {
            filter("state = ?", state.to_owned().into());
        }
        if let Some(vendor) = &query.vendor {
            filter("vendor = ?", vendor.clone().into());
        }
        if let Some(site) = &query.site {
            filter("site = ?", site.clone().into());
        }
        if let Some(since) = query.seen_since {
            filter("last_fetch >= ?", since.unix().into());
        }
        if let Some(since) = query.not_seen_since {
            filter("(last_fetch IS NULL OR last_fetch < ?)", since.unix().into());
        }
        values.push(i64::try_from(query.limit).unwrap_or(i64::MAX).into());
        let sql =
            format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE {} ORDER BY mac LIMIT ?", conditions.join(" AND "));
        self.read(|conn| {
            // One read transaction: the devices and their accounts as of one moment, so a
            // device deleted or rotated meanwhile is listed whole or not at all.
            let tx = conn.unchecked_transaction().map_err(backend)?;
            let mut statement = tx.prepare_cached(&sql).map_err(backend)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), read_device).map_err(backend)?;
            let mut devices: Vec<DeviceRecord> = rows.map(|row| row.map_err(backend)?).collect::<Result<_, _>>()?;
            for device in &mut devices {
                load_accounts(&tx, device)?;
            }
            Ok(devices)
        })
    }

    fn devices_with_secrets(&self, after: Option<Mac>, limit: usize) -> Result<Vec<Mac>, StoreError> {
        // The sweep's query serves resealing too: one query to keep right, not two.
        Ok(self.secret_states(after, limit)?.into_iter().map(|(mac, _)| mac).collect())
    }

    fn secret_states(&self, after: Option<Mac>, limit: usize) -> Result<Vec<(Mac, CredentialState)>, StoreError> {
        let after = after.map(|m| m.to_string()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT mac, state, state_time FROM devices WHERE mac IN (SELECT DISTINCT mac FROM accounts
                     WHERE sip_password IS NOT NULL AND mac > ?1 ORDER BY mac LIMIT ?2) ORDER BY mac",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(params![after, limit], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get::<_, Option<i64>>(2)?))
                })
                .map_err(backend)?;
            rows.map(|row| {
                let (mac, state, time) = row.map_err(backend)?;
                let mac = parse_mac(&mac)?;
                let state = CredentialState::from_parts(&state, time.map(Timestamp::from_unix))
                    .ok_or_else(|| StoreError::Corrupt(format!("device {mac}: invalid state {state:?}")))?;
                Ok((mac, state))
            })
            .collect()
        })
    }

    fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.writer.submit(move |conn| insert_events(conn, &events).map_err(backend))
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEvent>, StoreError> {
        self.read(|conn| {
            let order = if query.newest_first { "DESC" } else { "ASC" };
            let mut statement = conn
                .prepare_cached(&format!(
                    "SELECT id, at, mac, kind, detail FROM audit
                     WHERE (?1 IS NULL OR mac = ?1) AND (?2 IS NULL OR kind = ?2) AND (?3 IS NULL OR at >= ?3)
                       AND (?4 IS NULL OR at < ?4) AND id > ?5 AND (?7 IS NULL OR id < ?7)
                     ORDER BY id {order} LIMIT ?6"
                ))
                .map_err(backend)?;
            let rows = statement
                .query_map(
                    params![
                        query.mac.map(|m| m.to_string()),
                        query.kind.map(AuditKind::name),
                        query.since.map(Timestamp::unix),
                        query.until.map(Timestamp::unix),
                        query.after_id.map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX)),
                        i64::try_from(query.limit).unwrap_or(i64::MAX),
                        query.before_id.map(|id| i64::try_from(id).unwrap_or(i64::MAX)),
                    ],
                    |row| {
                        Ok((
                            row.get::<_, i64>(0)?,
                            row.get::<_, i64>(1)?,
                            row.get::<_, Option<String>>(2)?,
                            row.get::<_, String>(3)?,
                            row.get::<_, String>(4)?,
                        ))
                    },
                )
                .map_err(backend)?;
            rows.map(|row| {
                let (id, at, mac, kind, detail) = row.map_err(backend)?;
                Ok(StoredAuditEvent {
                    id: u64::try_from(id).map_err(|_| StoreError::Corrupt(format!("audit id {id}")))?,
                    event: AuditEvent {
                        at: Timestamp::from_unix(at),
                        mac: mac.as_deref().map(parse_mac).transpose()?,
                        kind: kind.parse().map_err(StoreError::Corrupt)?,
                        detail,
                        registrar: Vec::new(),
                    },
                })
            })
            .collect()
        })
    }

    fn record_pending(&self, sighting: PendingDevice, event: AuditEvent) -> Result<(), StoreError> {
        self.writer.submit(move |conn| {
            let mac = sighting.mac.to_string();
            // A new key is kept only while the MAC has fewer than MAX_PENDING_KEYS.
            conn.prepare_cached(
                "INSERT INTO pending (mac, spki, vendor, first_seen, last_seen, count)
                 SELECT ?1, ?2, ?3, ?4, ?4, 1
                 WHERE EXISTS (SELECT 1 FROM pending WHERE mac = ?1 AND spki = ?2)
                    OR (SELECT count(*) FROM pending WHERE mac = ?1) < ?5
                 ON CONFLICT (mac, spki) DO UPDATE SET vendor = ?3, last_seen = ?4, count = count + 1",
            )
            .and_then(|mut statement| {
                statement.execute(params![
                    mac,
                    &sighting.spki_sha256[..],
                    sighting.vendor,
                    sighting.last_seen.unix(),
                    i64::try_from(MAX_PENDING_KEYS).unwrap_or(i64::MAX),
                ])
            })
            .map_err(backend)?;
            insert_events(conn, std::slice::from_ref(&event)).map_err(backend)
        })
    }

    fn pending(&self, query: &PendingQuery) -> Result<Vec<PendingDevice>, StoreError> {
        let (after_mac, after_spki) = match query.after {
            Some((mac, spki)) => (mac.to_string(), spki.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let values = params![
            query.mac.map(|mac| mac.to_string()),
            after_mac,
            after_spki,
            i64::try_from(query.limit).unwrap_or(i64::MAX)
        ];
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT mac, vendor, spki, first_seen, last_seen, count FROM pending
                     WHERE (?1 IS NULL OR mac = ?1) AND (mac, spki) > (?2, ?3)
                     ORDER BY mac, spki LIMIT ?4",
                )
                .map_err(backend)?;
            let rows = statement
                .query_map(values, |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, i64>(4)?,
                        row.get::<_, i64>(5)?,
                    ))
                })
                .map_err(backend)?;
            rows.map(|row| {
                let (mac, vendor, spki, first_seen, last_seen, count) = row.map_err(backend)?;
                Ok(PendingDevice {
                    mac: parse_mac(&mac)?,
                    vendor,
                    spki_sha256: spki
                        .try_into()
                        .map_err(|_| StoreError::Corrupt(format!("pending {mac}: key hash")))?,
                    first_seen: Timestamp::from_unix(first_seen),
                    last_seen: Timestamp::from_unix(last_seen),
                    count: u64::try_from(count).unwrap_or(0),
                })
            })
            .collect()
        })
    }

    fn record_sightings(&self, sightings: &[Sighting]) -> Result<(), StoreError> {
        let sightings = sightings.to_vec();
        self.writer.submit_keeping_secrets(move |conn| {
            // Only a later sighting replaces a stored one: batches from several nodes may cross.
            // Every right-hand side reads the row as it was, so `firmware_since` compares the
            // stored firmware.
            let mut update = conn
                .prepare_cached(
                    "UPDATE devices SET last_fetch = ?2, last_peer = ?3, last_user_agent = ?4, rating = ?5,
                        ua_vendor = coalesce(?6, ua_vendor), ua_model = coalesce(?7, ua_model),
                        firmware = coalesce(?8, firmware),
                        firmware_since = CASE WHEN ?8 IS NOT NULL AND ?8 IS NOT firmware THEN ?2 ELSE firmware_since END,
                        ua_mismatch = ?9
                     WHERE mac = ?1 AND (last_fetch IS NULL OR last_fetch <= ?2)",
                )
                .map_err(backend)?;
            let mut alerts = Vec::new();
            for Sighting { mac, seen, facts, .. } in &sightings {
                let mac_text = mac.to_string();
                if let Some(mismatch) = &facts.mismatch {
                    let stored: Option<Option<String>> = conn
                        .prepare_cached(
                            "SELECT ua_mismatch FROM devices WHERE mac = ?1 AND (last_fetch IS NULL OR last_fetch <= ?2)",
                        )
                        .and_then(|mut statement| {
                            statement.query_row(params![mac_text, seen.at.unix()], |row| row.get(0)).optional()
                        })
                        .map_err(backend)?;
                    if stored.is_some_and(|stored| stored.as_ref() != Some(mismatch)) {
                        alerts.push(AuditEvent::new(seen.at, *mac, AuditKind::UaMismatch, mismatch.clone()));
                    }
                }
                update
                    .execute(params![
                        mac_text,
                        seen.at.unix(),
                        seen.peer,
                        seen.user_agent,
                        facts.rating,
                        facts.vendor,
                        facts.model,
                        facts.firmware,
                        facts.mismatch
                    ])
                    .map_err(backend)?;
            }
            insert_events(conn, &alerts).map_err(backend)
        })
    }

    fn fleet(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        let mut conditions = vec!["mac > ?1"];
        if query.mismatched {
            conditions.push("ua_mismatch IS NOT NULL");
        }
        if query.not_seen_since.is_some() {
            conditions.push("(last_fetch IS NULL OR last_fetch < ?3)");
        }
        let sql = format!(
            "SELECT mac, vendor, model, site, state, disabled, enrolled_at, last_fetch, rating, ua_vendor, ua_model,
                firmware, ua_mismatch, firmware_since
             FROM devices WHERE {} ORDER BY mac LIMIT ?2",
            conditions.join(" AND ")
        );
        let after = query.after.map(|mac| mac.to_string()).unwrap_or_default();
        let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
        let since = query.not_seen_since.map(Timestamp::unix);
        self.read(|conn| {
            let mut statement = conn.prepare_cached(&sql).map_err(backend)?;
            let values: Vec<rusqlite::types::Value> = if let Some(since) = since {
                vec![after.into(), limit.into(), since.into()]
            } else {
                vec![after.into(), limit.into()]
            };
            let rows = statement.query_map(rusqlite::params_from_iter(values), read_fleet_row).map_err(backend)?;
            rows.map(|row| row.map_err(backend)?).collect()
        })
    }

    fn document(&self, name: &str) -> Result<Option<Document>, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT version, body FROM documents WHERE name = ?1")
                .and_then(|mut statement| {
                    statement
                        .query_row([name], |row| {
                            Ok(Document {
                                version: u64::try_from(row.get::<_, i64>(0)?).unwrap_or(0),
                                body: row.get(1)?,
                            })
                        })
                        .optional()
                })
                .map_err(backend)
        })
    }

    fn put_document(&self, name: &str, expected: u64, body: &str, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        let expected = check_document(name, expected, body)?;
        let (name, body) = (name.to_owned(), body.to_owned());
        self.writer.submit(move |conn| {
            let stored: i64 = conn
                .prepare_cached("SELECT version FROM documents WHERE name = ?1")
                .and_then(|mut statement| statement.query_row([&name], |row| row.get(0)).optional())
                .map_err(backend)?
                .unwrap_or(0);
            if stored != expected {
                return Ok(false);
            }
            conn.prepare_cached(
                "INSERT INTO documents (name, version, body) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET version = ?2, body = ?3",
            )
            .and_then(|mut statement| statement.execute(params![name, expected + 1, body]))
            .map_err(backend)?;
            insert_events(conn, &events).map_err(backend)?;
            Ok(true)
        })
    }

    fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.writer.submit(move |conn| {
            conn.prepare_cached(
                "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY id LIMIT ?2)",
            )
            .and_then(|mut statement| statement.execute(params![before.unix(), limit]))
            .map_err(backend)
        })
    }

    fn put_ban(&self, ban: &Ban, event: AuditEvent) -> Result<(), StoreError> {
        let ban = ban.clone();
        self.writer.submit(move |conn| {
            conn.execute(
                "INSERT INTO bans (key, reason, until) VALUES (?1, ?2, ?3)
                 ON CONFLICT (key) DO UPDATE SET reason = ?2, until = ?3",
                params![ban.key, ban.reason, ban.until.unix()],
            )
            .map_err(backend)?;
            insert_events(conn, std::slice::from_ref(&event)).map_err(backend)
        })
    }

    fn bans(&self, now: Timestamp) -> Result<Vec<Ban>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT key, reason, until FROM bans WHERE until > ?1 ORDER BY key")
                .map_err(backend)?;
            let rows = statement
                .query_map([now.unix()], |row| {
                    Ok(Ban { key: row.get(0)?, reason: row.get(1)?, until: Timestamp::from_unix(row.get(2)?) })
                })
                .map_err(backend)?;
            rows.map(|row| row.map_err(backend)).collect()
        })
    }

    fn remove_ban(&self, key: &str, event: AuditEvent) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.writer.submit(move |conn| {
            let removed = conn.execute("DELETE FROM bans WHERE key = ?1", [key]).map_err(backend)? == 1;
            if removed {
                insert_events(conn, std::slice::from_ref(&event)).map_err(backend)?;
            }
            Ok(removed)
        })
    }

    fn insert_api_token(&self, token: &ApiToken, event: AuditEvent) -> Result<(), StoreError> {
        let token = token.clone();
        self.writer.submit(move |conn| {
            conn.execute(
                "INSERT INTO api_tokens (hash, name, role, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![&token.hash[..], token.name, token.role.name(), token.created_at.unix()],
            )
            .map_err(backend)?;
            insert_events(conn, std::slice::from_ref(&event)).map_err(backend)
        })
    }

    fn api_token(&self, hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT hash, name, role, created_at FROM api_tokens WHERE hash = ?1")
                .map_err(backend)?;
            let mut rows = statement.query_map([&hash[..]], read_api_token).map_err(backend)?;
            rows.next().map(|row| row.map_err(backend)?).transpose()
        })
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached("SELECT hash, name, role, created_at FROM api_tokens ORDER BY created_at, hash")
                .map_err(backend)?;
            let rows = statement.query_map([], read_api_token).map_err(backend)?;
            rows.map(|row| row.map_err(backend)?).collect()
        })
    }

    fn remove_api_token(&self, hash: &[u8; 32], event: AuditEvent) -> Result<bool, StoreError> {
        let hash = *hash;
        self.writer.submit(move |conn| {
            let removed = conn.execute("DELETE FROM api_tokens WHERE hash = ?1", [&hash[..]]).map_err(backend)? == 1;
            if removed {
                insert_events(conn, std::slice::from_ref(&event)).map_err(backend)?;
            }
            Ok(removed)
        })
    }

    fn registrar_pending(&self, limit: usize) -> Result<Vec<RegistrarEntry>, StoreError> {
        self.read(|conn| crate::registrar::pending(conn, limit))
    }

    fn registrar_entries(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<RegistrarEntry>, StoreError> {
        self.read(|conn| crate::registrar::entries(conn, after, limit))
    }

    fn registrar_pushed(&self, realm: &str, user: &str, seq: u64, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        let (realm, user) = (realm.to_owned(), user.to_owned());
        self.writer.submit(move |conn| {
            let found = crate::registrar::pushed(conn, &realm, &user, seq).map_err(backend)?;
            insert_events(conn, &events).map_err(backend)?;
            Ok(found)
        })
    }

    fn registrar_reseal(&self, realm: &str, user: &str, seq: u64, ha1: Sealed) -> Result<bool, StoreError> {
        let (realm, user) = (realm.to_owned(), user.to_owned());
        self.writer.submit(move |conn| crate::registrar::reseal(conn, &realm, &user, seq, &ha1).map_err(backend))
    }

    fn compact(&self) -> Result<(), StoreError> {
        // VACUUM and checkpoint hold the write lock throughout: it waits for a quiet writer
        // and gives way to a waiting write, within a bound (see `compaction`). Skipped when
        // nothing but last-seen facts was written since the last one began: stale copies are
        // then all of secrets still in their records, and a quiet fleet's polls write only
        // those facts.
        self.compaction.run(&self.writer, &self.path)
    }

    fn insert_reveal_token(&self, token: &RevealToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.writer.submit(move |conn| {
            conn.execute(
                "INSERT INTO reveal_tokens (hash, mac, expires_at) VALUES (?1, ?2, ?3)",
                params![&token.hash[..], token.mac.to_string(), token.expires_at.unix()],
            )
            .map(drop)
            .map_err(backend)
        })
    }

    fn consume_reveal_token(&self, hash: &[u8; 32], now: Timestamp) -> Result<TokenUse, StoreError> {
        let hash = *hash;
        self.writer.submit(move |conn| {
            let row: Option<(String, i64, Option<i64>)> = conn
                .query_row("SELECT mac, expires_at, used_at FROM reveal_tokens WHERE hash = ?1", [&hash[..]], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
                .map_err(backend)?;
            let Some((mac, expires_at, used_at)) = row else { return Ok(TokenUse::Unknown) };
            if used_at.is_some() {
                return Ok(TokenUse::AlreadyUsed);
            }
            if now.unix() >= expires_at {
                return Ok(TokenUse::Expired);
            }
            conn.execute("UPDATE reveal_tokens SET used_at = ?2 WHERE hash = ?1", params![&hash[..], now.unix()])
                .map_err(backend)?;
            Ok(TokenUse::Valid(parse_mac(&mac)?))
        })
    }
}

/// A row of [`Store::fleet`]'s statement.
fn read_fleet_row(row: &Row<'_>) -> rusqlite::Result<Result<FleetRow, StoreError>> {
    let mac: String = row.get(0)?;
    let state: String = row.get(4)?;
    let timestamp = |at: Option<i64>| at.map(Timestamp::from_unix);
    let profile =
        DeviceProfile { vendor: row.get(1)?, model: row.get(2)?, site: row.get(3)?, ..DeviceProfile::default() };
    let facts = FleetFacts {
        rating: row.get::<_, Option<i64>>(8)?.and_then(|rating| u8::try_from(rating).ok()),
        vendor: row.get(9)?,
        model: row.get(10)?,
        firmware: row.get(11)?,
        mismatch: row.get(12)?,
    };
    let (disabled, enrolled_at, last_seen, firmware_since) = (
        row.get::<_, i64>(5)? != 0,
        Timestamp::from_unix(row.get(6)?),
        timestamp(row.get(7)?),
        timestamp(row.get(13)?),
    );
    Ok(parse_mac(&mac).and_then(|mac| {
        let state = DeviceQuery::STATES
            .into_iter()
            .find(|name| *name == state)
            .ok_or_else(|| StoreError::Corrupt(format!("device {mac}: state {state:?}")))?;
        Ok(FleetRow { mac, profile, state, disabled, enrolled_at, last_seen, facts, firmware_since })
    }))
}

/// Reads one `devices` row. The outer `Result` is SQLite's; the inner one rejects values that
/// SQLite stored but this version cannot interpret.
fn read_device(row: &Row<'_>) -> rusqlite::Result<Result<DeviceRecord, StoreError>> {
    let mac: String = row.get(0)?;
    let state: String = row.get(1)?;
    let state_time: Option<i64> = row.get(2)?;
    let admin: Option<Vec<u8>> = row.get(3)?;
    let pinned: Option<Vec<u8>> = row.get(4)?;
    let settings: String = row.get(11)?;
    let keys: String = row.get(14)?;
    let parsed = (|| {
        let mac = parse_mac(&mac)?;
        let state = CredentialState::from_parts(&state, state_time.map(Timestamp::from_unix))
            .ok_or_else(|| StoreError::Corrupt(format!("device {mac}: invalid state {state:?}")))?;
        let pinned_spki = pinned
            .map(|p| p.try_into().map_err(|_| StoreError::Corrupt(format!("device {mac}: key pin is not 32 bytes"))))
            .transpose()?;
        let settings = sipprov_credentials::columns::settings_from_json(&settings).map_err(|e| {
            StoreError::Corrupt(format!("device {mac}: settings are not a JSON object of strings: {e}"))
        })?;
        let keys = sipprov_credentials::columns::keys_from_json(&keys)
            .map_err(|e| StoreError::Corrupt(format!("device {mac}: its keys are not readable: {e}")))?;
        Ok((mac, state, pinned_spki, settings, keys))
    })();
    let (mac, state, pinned_spki, settings, keys) = match parsed {
        Ok(parts) => parts,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(DeviceRecord {
        mac,
        // Filled in by `load_accounts`, which also moves the admin password where it belongs.
        accounts: Vec::new(),
        state,
        secrets: admin
            .map(|admin| DeviceSecrets { sip_passwords: Vec::new(), admin_password: Some(Sealed::from_bytes(admin)) }),
        pinned_spki,
        enrolment_secret: row.get::<_, Option<Vec<u8>>>(15)?.map(Sealed::from_bytes),
        disabled: row.get(5)?,
        enrolled_at: Timestamp::from_unix(row.get(6)?),
        last_seen: match row.get::<_, Option<i64>>(7)? {
            Some(at) => Some(LastSeen {
                at: Timestamp::from_unix(at),
                peer: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                user_agent: row.get(13)?,
            }),
            None => None,
        },
        profile: DeviceProfile { vendor: row.get(8)?, model: row.get(9)?, site: row.get(10)?, settings, keys },
    }))
}

/// A device's sealed SIP passwords, to tell whether an update changed its accounts' rows.
fn sip_passwords(device: &DeviceRecord) -> Option<Vec<(u16, Sealed)>> {
    device.secrets.as_ref().map(|secrets| secrets.sip_passwords.clone())
}

/// Reads one `api_tokens` row (outer `Result` SQLite's, inner one the values').
fn read_api_token(row: &Row<'_>) -> rusqlite::Result<Result<ApiToken, StoreError>> {
    let (hash, name, role, created_at): (Vec<u8>, String, String, i64) =
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
    Ok((|| {
        Ok(ApiToken {
            hash: hash.try_into().map_err(|_| StoreError::Corrupt("an API token hash is not 32 bytes".into()))?,
            name,
            role: role.parse().map_err(StoreError::Corrupt)?,
            created_at: Timestamp::from_unix(created_at),
        })
    })())
}

/// Rows per kind of record, from [`SqliteStore::counts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Enrolled devices.
    pub devices: u64,
    /// Audit events.
    pub audit: u64,
    /// Pending sightings (one per MAC and key).
    pub pending: u64,
    /// Bans, expired ones included.
    pub bans: u64,
    /// Admin API tokens.
    pub api_tokens: u64,
    /// Reveal tokens.
    pub reveal_tokens: u64,
}

/// What [`SqliteStore::inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The file's schema version.
    pub version: i64,
    /// The version this build migrates to at start.
    pub newest: i64,
    /// SQLite's complaint, if the file is damaged.
    pub integrity: Option<String>,
}

impl Inspection {
    /// Whether the file was written by a newer sipprov (this build refuses to open it).
    pub fn too_new(&self) -> bool {
        self.version > self.newest
    }
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
    /// The database file could not be created.
    #[error("cannot create SQLite database {path}: {source}")]
    Create {
        /// The database file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was written by a newer sipprov; this build will not guess at its meaning.
    #[error("SQLite database {path} has schema version {found}, which this build does not know; upgrade sipprov")]
    SchemaTooNew {
        /// The database file.
        path: PathBuf,
        /// The schema version found in the file.
        found: i64,
    },
    /// The writer thread could not be started.
    #[error("cannot start the SQLite writer thread: {0}")]
    Thread(String),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use rusqlite::StatementStatus;
    use sipprov_credentials::{Account, DeviceProfile};

    use super::*;

    /// A phone's poll runs [`SELECT_DEVICE`] with its own MAC; SQLite must reuse the compiled
    /// statement for every MAC, not recompile it per phone.
    #[test]
    fn a_polls_statement_is_prepared_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        let macs: Vec<Mac> = (1..=20u8).map(|n| Mac::from_bytes([0, 0x15, 0x65, 0, 0, n])).collect();
        for mac in &macs {
            let device = DeviceRecord {
                mac: *mac,
                accounts: vec![Account::new(2, "1002", "a2", "Two"), Account::new(1, "1001", "a1", "One")],
                state: CredentialState::Purged,
                secrets: None,
                pinned_spki: None,
                enrolment_secret: None,
                disabled: false,
                enrolled_at: Timestamp::from_unix(0),
                last_seen: None,
                profile: DeviceProfile::default(),
            };
            store.insert_device(device, Vec::new()).unwrap();
        }
        let conn = connect_reader(&path).unwrap();
        for mac in macs.iter().chain(&macs) {
            let device = select_device(&conn, mac).unwrap().unwrap();
            assert_eq!(device.accounts.iter().map(|a| a.line).collect::<Vec<_>>(), [1, 2], "in line order");
        }
        let statement = conn.prepare_cached(SELECT_DEVICE).unwrap();
        assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "recompiled for a new MAC");
    }
}
