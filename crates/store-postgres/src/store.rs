//! `PostgresStore`: the `Store` trait over a pool of PostgreSQL connections.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Object, Pool, Transaction};
use sipprov_credentials::columns::{keys_to_json, settings_to_json};
use sipprov_credentials::{
    ApiToken, AuditEvent, AuditKind, AuditQuery, Ban, CredentialState, DeviceQuery, DeviceRecord, DeviceUpdate,
    Document, FleetQuery, FleetRow, MAX_PENDING_KEYS, PendingDevice, PendingQuery, ReadDone, RegistrarEntry,
    RevealToken, Sealed, Sighting, Srtp, Store, StoreError, StoredAuditEvent, Timestamp, TokenUse, Transport,
    UpdateDone, check_document,
};
use sipprov_identity::Mac;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};
use tokio_postgres::types::ToSql;

use crate::rows::{self, ACCOUNT_COLUMNS, DEVICE_COLUMNS, backend};
use crate::schema::{self, MigrateError};
use crate::{OpenError, PostgresOptions};

/// A [`Store`] in a PostgreSQL database, which several sipprovd nodes may share.
///
/// Every method is one transaction. Lifecycle transitions hold the device's row lock
/// (`SELECT ... FOR UPDATE`), so updates of one device from any node run one after the other
/// and each sees the one before: one delivery per device, one key pin, no secret served after
/// another node purged it.
///
/// The blocking methods run on a small runtime of the store's own, so any thread that may block
/// can call them; work handed over with [`Store::device_then`] and
/// [`Store::update_device_then`] runs as a task on the caller's runtime (if it has a
/// multi-threaded one) and the call returns at once.
pub struct PostgresStore {
    // `None` only while dropping: a runtime may not be dropped where blocking is forbidden
    // (inside another runtime), so `Drop` shuts it down in the background instead.
    runtime: Option<Runtime>,
    handle: Handle,
    /// Connections for the blocking methods, whose tasks run on the store's runtime.
    pool: Pool,
    /// Connections for work handed over by async callers (`device_then`, `update_device_then`),
    /// run on the caller's own runtime: a phone's poll then never wakes another runtime's
    /// threads, whose switches cost more than the query on a busy core.
    callers_pool: Pool,
    timeout: Duration,
    database: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("database", &self.database).finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// What [`PostgresStore::inspect`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The database's schema version (0: no sipprov schema yet).
    pub version: i64,
    /// The version this build migrates to at start.
    pub newest: i64,
}

impl Inspection {
    /// Whether the schema was written by a newer sipprov (this build refuses to use it).
    pub fn too_new(&self) -> bool {
        self.version > self.newest
    }
}

impl PostgresStore {
    /// Connects, and migrates the schema to this build's version. A database that cannot be
    /// reached, or whose schema is newer than this build, is an error: a node must not start
    /// half-working.
    pub fn connect(options: &PostgresOptions) -> Result<Self, OpenError> {
        let store = Self::start(options)?;
        let database = store.database.clone();
        store.block_on(async move |pool| {
            let mut client = pool.get().await.map_err(|e| unreachable(&database, &e))?;
            schema::migrate(&mut client).await.map_err(|e| match e {
                MigrateError::TooNew(found) => OpenError::SchemaTooNew { database, found },
                MigrateError::Postgres(e) => unreachable(&database, &e),
            })
        })??;
        Ok(store)
    }

    /// Reads the schema version without changing anything: for `sipprovd check`.
    pub fn inspect(options: &PostgresOptions) -> Result<Inspection, OpenError> {
        let store = Self::start(options)?;
        let database = store.database.clone();
        let version = store.block_on(async move |pool| {
            let client = pool.get().await.map_err(|e| unreachable(&database, &e))?;
            schema::version_in(&**client).await.map_err(|e| unreachable(&database, &e))
        })??;
        Ok(Inspection { version: version.unwrap_or(0), newest: schema::newest() })
    }

    fn start(options: &PostgresOptions) -> Result<Self, OpenError> {
        // The pools first: a runtime dropped on an error path inside the caller's runtime
        // (as `sipprovd run` opens its store) would panic.
        let (pool, callers_pool) = (options.pool()?, options.pool()?);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("sipprov-postgres")
            .on_thread_start(|| ON_STORE_THREAD.set(true))
            .enable_all()
            .build()
            .map_err(|e| OpenError::Runtime(e.to_string()))?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            callers_pool,
            timeout: options.timeout,
            database: options.describe(),
        })
    }

    /// The host and database this store uses (no password), for messages.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Runs `work` on the store's runtime and waits for it on this thread, without a time
    /// limit (for start-up, which has its own).
    fn block_on<R: Send + 'static, F>(&self, work: impl FnOnce(Pool) -> F) -> Result<R, OpenError>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let work = work(self.pool.clone());
        self.handle.spawn(async move {
            let _ = sender.send(work.await);
        });
        receiver.recv().map_err(|_| OpenError::Runtime("the connection task ended".into()))
    }

    /// Runs `work` on the store's runtime within the store's time limit and waits for it on
    /// this thread (which may be any thread that may block, but not one of the store's own).
    pub(crate) fn run<R: Send + 'static, F>(&self, work: impl FnOnce(Pool) -> F) -> Result<R, StoreError>
    where
        F: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        self.run_within(self.timeout, work)
    }

    /// [`PostgresStore::run`] with a time limit of its own (the slow maintenance calls).
    pub(crate) fn run_within<R: Send + 'static, F>(
        &self,
        limit: Duration,
        work: impl FnOnce(Pool) -> F,
    ) -> Result<R, StoreError>
    where
        F: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        // Waiting here on one of the store's own threads could wait for this very thread.
        if ON_STORE_THREAD.get() {
            return Err(StoreError::Backend("a blocking store call from the store's own thread".into()));
        }
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.spawn_on(&self.handle, &self.pool, limit, work, move |result| {
            let _ = sender.send(result);
        });
        // The task keeps the time limit; this bound only guards against a task never run.
        match receiver.recv_timeout(limit + Duration::from_secs(5)) {
            Ok(result) => result,
            Err(_) => Err(StoreError::Backend("the PostgreSQL task ended without an answer".into())),
        }
    }

    /// Runs `work` on the store's runtime within the store's time limit and hands its result to
    /// `done` there.
    fn spawn<R: Send + 'static, F>(
        &self,
        work: impl FnOnce(Pool) -> F,
        done: impl FnOnce(Result<R, StoreError>) + Send + 'static,
    ) where
        F: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        self.spawn_on(&self.handle, &self.pool, self.timeout, work, done);
    }

    /// Runs `work` on the caller's runtime, if it has a multi-threaded one (else the store's),
    /// and hands its result to `done` there: for async callers, who must not block and need
    /// not hop. (Not a single-threaded one: a caller there that waits for `done` blocking, as
    /// the blocking `Credentials::commit` does, would wait for its own thread.)
    fn spawn_for_caller<R: Send + 'static, F>(
        &self,
        work: impl FnOnce(Pool) -> F,
        done: impl FnOnce(Result<R, StoreError>) + Send + 'static,
    ) where
        F: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        match Handle::try_current() {
            Ok(caller) if caller.runtime_flavor() == RuntimeFlavor::MultiThread => {
                self.spawn_on(&caller, &self.callers_pool, self.timeout, work, done);
            }
            _ => self.spawn(work, done),
        }
    }

    /// Runs `work` with `pool` on `runtime` within the store's time limit and hands its result
    /// to `done` there. A call that runs out of time is dropped, which rolls its transaction back.
    fn spawn_on<R: Send + 'static, F>(
        &self,
        runtime: &Handle,
        pool: &Pool,
        timeout: Duration,
        work: impl FnOnce(Pool) -> F,
        done: impl FnOnce(Result<R, StoreError>) + Send + 'static,
    ) where
        F: Future<Output = Result<R, StoreError>> + Send + 'static,
    {
        let work = work(pool.clone());
        runtime.spawn(async move {
            let result = match tokio::time::timeout(timeout, work).await {
                Ok(result) => result,
                Err(_) => Err(StoreError::Backend(
                    format!("the database did not answer within {} ms", timeout.as_millis()).into(),
                )),
            };
            done(result);
        });
    }
}

thread_local! {
    /// Whether this thread is one of a store's runtime threads.
    static ON_STORE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long compaction may take: VACUUM of large tables runs for minutes.
const COMPACT_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The database could not be used, with every cause in the chain (the pool's own message only
/// says that it could not connect; the cause says why).
fn unreachable(database: &str, error: &(dyn std::error::Error + 'static)) -> OpenError {
    let mut reason = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !reason.contains(&cause_text) {
            reason = format!("{reason}: {cause_text}");
        }
        source = cause.source();
    }
    OpenError::Unreachable { database: database.to_owned(), reason }
}

/// A pooled connection.
pub(crate) async fn connection(pool: &Pool) -> Result<Object, StoreError> {
    pool.get().await.map_err(backend)
}

/// One device with its accounts, one row per account: a phone's poll, one statement.
static SELECT_DEVICE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {DEVICE_COLUMNS}, {ACCOUNT_COLUMNS} FROM devices d LEFT JOIN accounts a ON a.mac = d.mac
         WHERE d.mac = $1"
    )
});

/// One device with its accounts, as of this statement.
async fn select_device(client: &impl GenericClient, mac: Mac) -> Result<Option<DeviceRecord>, StoreError> {
    let statement = client.prepare_cached(&SELECT_DEVICE).await.map_err(backend)?;
    let rows = client.query(&statement, &[&mac.to_string()]).await.map_err(backend)?;
    Ok(rows::devices_with_accounts(&rows)?.pop())
}

/// Takes the device's row lock for the rest of `tx`, waiting for any other transaction that
/// holds it; `false` if there is no such device. A statement of its own: rows a locking
/// statement joins are read as of before the wait, so the device is read by the next one.
async fn lock_device(tx: &Transaction<'_>, mac: Mac) -> Result<bool, StoreError> {
    let statement = tx.prepare_cached("SELECT 1 FROM devices WHERE mac = $1 FOR UPDATE").await.map_err(backend)?;
    Ok(tx.query_opt(&statement, &[&mac.to_string()]).await.map_err(backend)?.is_some())
}

const INSERT_DEVICE: &str = "INSERT INTO devices (mac, state, state_time, admin_password, pinned_spki, disabled,
     enrolled_at, last_fetch, vendor, model, site, settings, last_peer, last_user_agent, keys, enrolment_secret)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) ON CONFLICT (mac) DO NOTHING";

const UPDATE_DEVICE: &str = "UPDATE devices SET state = $2, state_time = $3, admin_password = $4, pinned_spki = $5,
     disabled = $6, enrolled_at = $7, last_fetch = $8, vendor = $9, model = $10, site = $11, settings = $12,
     last_peer = $13, last_user_agent = $14, keys = $15, enrolment_secret = $16
     WHERE mac = $1";

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (mac, line, user_name, auth_name, display_name, registrar,
     outbound_proxy, transport, srtp, sip_password) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

/// Writes the device row (inserting it when `insert`; `false` if it existed), and its accounts
/// when `accounts_changed`.
pub(crate) async fn write_device(
    tx: &Transaction<'_>,
    device: &DeviceRecord,
    insert: bool,
    accounts_changed: bool,
) -> Result<bool, StoreError> {
    let seen = device.last_seen.as_ref();
    let mac = device.mac.to_string();
    let state_time = device.state.time().map(Timestamp::unix);
    let admin_password = device.secrets.as_ref().and_then(|s| s.admin_password.as_ref()).map(Sealed::as_bytes);
    let pinned_spki = device.pinned_spki.as_ref().map(|pin| &pin[..]);
    let last_fetch = seen.map(|seen| seen.at.unix());
    let settings = settings_to_json(&device.profile.settings);
    let keys = keys_to_json(&device.profile.keys);
    let enrolment_secret = device.enrolment_secret.as_ref().map(Sealed::as_bytes);
    let values: [&(dyn ToSql + Sync); 16] = [
        &mac,
        &device.state.name(),
        &state_time,
        &admin_password,
        &pinned_spki,
        &device.disabled,
        &device.enrolled_at.unix(),
        &last_fetch,
        &device.profile.vendor,
        &device.profile.model,
        &device.profile.site,
        &settings,
        &seen.map(|seen| seen.peer.as_str()),
        &seen.and_then(|seen| seen.user_agent.as_deref()),
        &keys,
        &enrolment_secret,
    ];
    let statement = tx.prepare_cached(if insert { INSERT_DEVICE } else { UPDATE_DEVICE }).await.map_err(backend)?;
    if tx.execute(&statement, &values).await.map_err(backend)? == 0 {
        return Ok(false);
    }
    if !(insert || accounts_changed) {
        return Ok(true);
    }
    tx.execute("DELETE FROM accounts WHERE mac = $1", &[&mac]).await.map_err(backend)?;
    let statement = tx.prepare_cached(INSERT_ACCOUNT).await.map_err(backend)?;
    for account in &device.accounts {
        let sealed = device.secrets.as_ref().and_then(|secrets| secrets.sip_password(account.line));
        tx.execute(
            &statement,
            &[
                &mac,
                &i32::from(account.line),
                &account.user_name,
                &account.auth_name,
                &account.display_name,
                &account.registrar,
                &account.outbound_proxy,
                &account.transport.map(Transport::name),
                &account.srtp.map(Srtp::name),
                &sealed.map(Sealed::as_bytes),
            ],
        )
        .await
        .map_err(backend)?;
    }
    Ok(true)
}

/// Appends `events` in one statement.
/// Appends `events`, commits, then writes the events to the log stream too.
async fn commit_with_events(tx: Transaction<'_>, events: &[AuditEvent]) -> Result<(), StoreError> {
    insert_events(&tx, events).await?;
    tx.commit().await.map_err(backend)?;
    sipprov_credentials::log_committed(events);
    Ok(())
}

async fn insert_events(tx: &Transaction<'_>, events: &[AuditEvent]) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let at: Vec<i64> = events.iter().map(|event| event.at.unix()).collect();
    let mac: Vec<Option<String>> = events.iter().map(|event| event.mac.map(|mac| mac.to_string())).collect();
    let kind: Vec<&str> = events.iter().map(|event| event.kind.name()).collect();
    let detail: Vec<&str> = events.iter().map(|event| event.detail.as_str()).collect();
    let statement = tx
        .prepare_cached(
            "INSERT INTO audit (at, mac, kind, detail)
             SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[])",
        )
        .await
        .map_err(backend)?;
    tx.execute(&statement, &[&at, &mac, &kind, &detail]).await.map_err(backend)?;
    let changes: Vec<_> = events.iter().flat_map(|event| &event.registrar).collect();
    if !changes.is_empty() {
        crate::registrar::queue(tx, &changes).await?;
    }
    Ok(())
}

/// One device update in its own transaction, holding the device's row lock throughout.
async fn apply_update(pool: Pool, mac: Mac, update: DeviceUpdate) -> Result<Option<DeviceRecord>, StoreError> {
    let mut client = connection(&pool).await?;
    let tx = client.transaction().await.map_err(backend)?;
    if !lock_device(&tx, mac).await? {
        return Ok(None);
    }
    let Some(mut device) = select_device(&tx, mac).await? else { return Ok(None) };
    let before = (device.accounts.clone(), sip_passwords(&device));
    let events = update(&mut device).map_err(|abort| StoreError::Aborted(abort.0))?;
    if device.mac != mac {
        return Err(StoreError::Aborted("an update may not change the MAC".into()));
    }
    let accounts_changed = before != (device.accounts.clone(), sip_passwords(&device));
    write_device(&tx, &device, false, accounts_changed).await?;
    commit_with_events(tx, &events).await?;
    Ok(Some(device))
}

/// A device's sealed SIP passwords, to tell whether an update changed its accounts' rows.
fn sip_passwords(device: &DeviceRecord) -> Option<Vec<(u16, Sealed)>> {
    device.secrets.as_ref().map(|secrets| secrets.sip_passwords.clone())
}

/// Runs one statement that changes something and, if it changed a row (or `always`), appends
/// `event` with it, in one transaction. Returns the rows changed.
async fn change_with_event(
    pool: Pool,
    sql: &'static str,
    values: Values,
    event: AuditEvent,
    always: bool,
) -> Result<u64, StoreError> {
    let mut client = connection(&pool).await?;
    let tx = client.transaction().await.map_err(backend)?;
    let values = params(&values);
    let changed = tx.execute(sql, &values).await.map_err(backend)?;
    if changed > 0 || always {
        commit_with_events(tx, std::slice::from_ref(&event)).await?;
    } else {
        tx.commit().await.map_err(backend)?;
    }
    Ok(changed)
}

/// Values owned for a task, as the parameter list a statement takes.
pub(crate) type Values = Vec<Box<dyn ToSql + Send + Sync>>;

pub(crate) fn params(values: &Values) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|value| &**value as &(dyn ToSql + Sync)).collect()
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for PostgresStore {
    fn insert_device(&self, record: DeviceRecord, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            if !write_device(&tx, &record, true, true).await? {
                return Ok(false);
            }
            tx.execute("DELETE FROM pending WHERE mac = $1", &[&record.mac.to_string()]).await.map_err(backend)?;
            commit_with_events(tx, &events).await?;
            Ok(true)
        })
    }

    fn device(&self, mac: &Mac) -> Result<Option<DeviceRecord>, StoreError> {
        let mac = *mac;
        self.run(async move |pool| select_device(&connection(&pool).await?, mac).await)
    }

    fn device_then(&self, mac: &Mac, done: ReadDone) {
        let mac = *mac;
        self.spawn_for_caller(async move |pool| select_device(&connection(&pool).await?, mac).await, done);
    }

    fn reads_on_own_thread(&self) -> bool {
        true
    }

    fn update_device(&self, mac: &Mac, update: DeviceUpdate) -> Result<Option<DeviceRecord>, StoreError> {
        let mac = *mac;
        self.run(async move |pool| apply_update(pool, mac, update).await)
    }

    fn update_device_then(&self, mac: &Mac, update: DeviceUpdate, done: UpdateDone) {
        let mac = *mac;
        self.spawn_for_caller(async move |pool| apply_update(pool, mac, update).await, done);
    }

    fn updates_on_own_thread(&self) -> bool {
        true
    }

    fn delete_device(&self, mac: &Mac, event: AuditEvent) -> Result<bool, StoreError> {
        let mac = mac.to_string();
        self.run(async move |pool| {
            let sql = "DELETE FROM devices WHERE mac = $1";
            Ok(change_with_event(pool, sql, vec![Box::new(mac)], event, false).await? == 1)
        })
    }

    fn devices(&self, query: &DeviceQuery) -> Result<Vec<DeviceRecord>, StoreError> {
        // Only the filters that are set go into the SQL, so the vendor and site indexes serve them.
        let mut conditions = vec!["d.mac > $1".to_owned()];
        let mut values: Values = vec![Box::new(query.after.map(|m| m.to_string()).unwrap_or_default())];
        let mut filter = |condition: &str, value: Box<dyn ToSql + Send + Sync>| {
            values.push(value);
            conditions.push(condition.replace('?', &format!("${}", values.len())));
        };
        if let Some(state) = query.state {
            filter("d.state = ?", Box::new(state.to_owned()));
        }
        if let Some(vendor) = &query.vendor {
            filter("d.vendor = ?", Box::new(vendor.clone()));
        }
        if let Some(site) = &query.site {
            filter("d.site = ?", Box::new(site.clone()));
        }
        if let Some(since) = query.seen_since {
            filter("d.last_fetch >= ?", Box::new(since.unix()));
        }
        if let Some(since) = query.not_seen_since {
            filter("(d.last_fetch IS NULL OR d.last_fetch < ?)", Box::new(since.unix()));
        }
        values.push(Box::new(limit(query.limit)));
        // The page of devices first, then their accounts joined: one statement, one snapshot,
        // so a device deleted or rotated meanwhile is listed whole or not at all.
        let sql = format!(
            "SELECT {DEVICE_COLUMNS}, {ACCOUNT_COLUMNS}
             FROM (SELECT * FROM devices d WHERE {} ORDER BY d.mac LIMIT ${}) d
             LEFT JOIN accounts a ON a.mac = d.mac ORDER BY d.mac, a.line",
            conditions.join(" AND "),
            values.len()
        );
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let values = params(&values);
            // At most 32 shapes (which filters are set): each prepared once per connection.
            let statement = client.prepare_cached(&sql).await.map_err(backend)?;
            let rows = client.query(&statement, &values).await.map_err(backend)?;
            rows::devices_with_accounts(&rows)
        })
    }

    fn devices_with_secrets(&self, after: Option<Mac>, limit: usize) -> Result<Vec<Mac>, StoreError> {
        // The sweep's query serves resealing too: one query to keep right, not two.
        Ok(self.secret_states(after, limit)?.into_iter().map(|(mac, _)| mac).collect())
    }

    fn secret_states(&self, after: Option<Mac>, limit: usize) -> Result<Vec<(Mac, CredentialState)>, StoreError> {
        let after = after.map(|m| m.to_string()).unwrap_or_default();
        let limit = self::limit(limit);
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let statement = client
                .prepare_cached(
                    "SELECT mac, state, state_time FROM devices WHERE mac IN (SELECT DISTINCT mac FROM accounts
                     WHERE sip_password IS NOT NULL AND mac > $1 ORDER BY mac LIMIT $2) ORDER BY mac",
                )
                .await
                .map_err(backend)?;
            let rows = client.query(&statement, &[&after, &limit]).await.map_err(backend)?;
            rows.iter()
                .map(|row| {
                    let mac = rows::mac(row.try_get(0).map_err(backend)?)?;
                    let state: String = row.try_get(1).map_err(backend)?;
                    let time: Option<i64> = row.try_get(2).map_err(backend)?;
                    let state = CredentialState::from_parts(&state, time.map(Timestamp::from_unix))
                        .ok_or_else(|| StoreError::Corrupt(format!("device {mac}: invalid state {state:?}")))?;
                    Ok((mac, state))
                })
                .collect()
        })
    }

    fn append_audit(&self, events: Vec<AuditEvent>) -> Result<(), StoreError> {
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            commit_with_events(tx, &events).await
        })
    }

    fn audit(&self, query: &AuditQuery) -> Result<Vec<StoredAuditEvent>, StoreError> {
        let order = if query.newest_first { "DESC" } else { "ASC" };
        let sql = format!(
            "SELECT id, at, mac, kind, detail FROM audit
             WHERE ($1::text IS NULL OR mac = $1) AND ($2::text IS NULL OR kind = $2)
               AND ($3::bigint IS NULL OR at >= $3) AND ($4::bigint IS NULL OR at < $4) AND id > $5
               AND ($7::bigint IS NULL OR id < $7)
             ORDER BY id {order} LIMIT $6"
        );
        let mac = query.mac.map(|m| m.to_string());
        let kind = query.kind.map(AuditKind::name);
        let (since, until) = (query.since.map(Timestamp::unix), query.until.map(Timestamp::unix));
        let after_id = query.after_id.map_or(0, |id| i64::try_from(id).unwrap_or(i64::MAX));
        let before_id = query.before_id.map(|id| i64::try_from(id).unwrap_or(i64::MAX));
        let limit = limit(query.limit);
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let statement = client.prepare_cached(&sql).await.map_err(backend)?;
            let rows = client
                .query(&statement, &[&mac, &kind, &since, &until, &after_id, &limit, &before_id])
                .await
                .map_err(backend)?;
            rows.iter().map(rows::audit_event).collect()
        })
    }

    fn record_pending(&self, sighting: PendingDevice, event: AuditEvent) -> Result<(), StoreError> {
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            let mac = sighting.mac.to_string();
            // Sightings of one MAC on several nodes take turns, so the key count below holds.
            tx.execute("SELECT pg_advisory_xact_lock(1, hashtext($1))", &[&mac]).await.map_err(backend)?;
            let statement = tx
                .prepare_cached(
                    "INSERT INTO pending (mac, spki, vendor, first_seen, last_seen, count)
                     SELECT $1::text, $2::bytea, $3::text, $4::bigint, $4::bigint, 1
                     WHERE EXISTS (SELECT 1 FROM pending WHERE mac = $1 AND spki = $2)
                        OR (SELECT count(*) FROM pending WHERE mac = $1) < $5
                     ON CONFLICT (mac, spki) DO UPDATE
                        SET vendor = EXCLUDED.vendor, last_seen = EXCLUDED.last_seen, count = pending.count + 1",
                )
                .await
                .map_err(backend)?;
            let values: [&(dyn ToSql + Sync); 5] = [
                &mac,
                &&sighting.spki_sha256[..],
                &sighting.vendor,
                &sighting.last_seen.unix(),
                &limit(MAX_PENDING_KEYS),
            ];
            tx.execute(&statement, &values).await.map_err(backend)?;
            commit_with_events(tx, std::slice::from_ref(&event)).await
        })
    }

    fn pending(&self, query: &PendingQuery) -> Result<Vec<PendingDevice>, StoreError> {
        let (after_mac, after_spki) = match query.after {
            Some((mac, spki)) => (mac.to_string(), spki.to_vec()),
            None => (String::new(), Vec::new()),
        };
        let mac = query.mac.map(|mac| mac.to_string());
        let limit = limit(query.limit);
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let statement = client
                .prepare_cached(
                    "SELECT mac, vendor, spki, first_seen, last_seen, count FROM pending
                     WHERE ($1::text IS NULL OR mac = $1) AND (mac, spki) > ($2::text, $3::bytea)
                     ORDER BY mac, spki LIMIT $4",
                )
                .await
                .map_err(backend)?;
            let rows = client.query(&statement, &[&mac, &after_mac, &after_spki, &limit]).await.map_err(backend)?;
            rows.iter().map(rows::pending).collect()
        })
    }

    fn record_sightings(&self, sightings: &[Sighting]) -> Result<(), StoreError> {
        // One row per device, its latest sighting.
        let mut latest: Vec<Sighting> = Vec::with_capacity(sightings.len());
        let mut sorted: Vec<&Sighting> = sightings.iter().collect();
        sorted.sort_by_key(|sighting| (sighting.mac, std::cmp::Reverse(sighting.seen.at)));
        for sighting in sorted {
            if latest.last().is_none_or(|last| last.mac != sighting.mac) {
                latest.push(sighting.clone());
            }
        }
        self.run(async move |pool| {
            let column = |f: &dyn Fn(&Sighting) -> Option<String>| latest.iter().map(f).collect::<Vec<_>>();
            let mac: Vec<String> = latest.iter().map(|s| s.mac.to_string()).collect();
            let at: Vec<i64> = latest.iter().map(|s| s.seen.at.unix()).collect();
            let peer: Vec<String> = latest.iter().map(|s| s.seen.peer.clone()).collect();
            let rating: Vec<Option<i16>> = latest.iter().map(|s| s.facts.rating.map(i16::from)).collect();
            let user_agent = column(&|s| s.seen.user_agent.clone());
            let vendor = column(&|s| s.facts.vendor.clone());
            let model = column(&|s| s.facts.model.clone());
            let firmware = column(&|s| s.facts.firmware.clone());
            let mismatch = column(&|s| s.facts.mismatch.clone());
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            // Every row of the batch is locked first, in MAC order, so batches from several
            // nodes never wait on each other in a circle; the contradiction stored, read under
            // that lock, says which contradictions are new (alerted once).
            let rows = tx
                .query(
                    "SELECT mac, last_fetch, ua_mismatch FROM devices WHERE mac = ANY($1::text[])
                     ORDER BY mac FOR UPDATE",
                    &[&mac],
                )
                .await
                .map_err(backend)?;
            let mut stored = std::collections::HashMap::new();
            for row in rows {
                let (device, last_fetch, mismatch): (String, Option<i64>, Option<String>) = (
                    row.try_get(0).map_err(backend)?,
                    row.try_get(1).map_err(backend)?,
                    row.try_get(2).map_err(backend)?,
                );
                stored.insert(device, (last_fetch, mismatch));
            }
            let alerts: Vec<AuditEvent> = latest
                .iter()
                .filter(|s| s.facts.mismatch.is_some())
                .filter(|s| {
                    stored.get(&s.mac.to_string()).is_some_and(|(last_fetch, mismatch)| {
                        last_fetch.is_none_or(|last| last <= s.seen.at.unix()) && *mismatch != s.facts.mismatch
                    })
                })
                .map(|s| {
                    let detail = s.facts.mismatch.clone().unwrap_or_default();
                    AuditEvent::new(s.seen.at, s.mac, AuditKind::UaMismatch, detail)
                })
                .collect();
            // Only a later sighting replaces a stored one: batches from several nodes may cross.
            // Every right-hand side reads the row as it was, so `firmware_since` compares the
            // stored firmware.
            let statement = tx
                .prepare_cached(
                    "UPDATE devices d SET last_fetch = s.at, last_peer = s.peer, last_user_agent = s.user_agent,
                        rating = s.rating, ua_vendor = coalesce(s.vendor, d.ua_vendor),
                        ua_model = coalesce(s.model, d.ua_model), firmware = coalesce(s.firmware, d.firmware),
                        firmware_since = CASE WHEN s.firmware IS NOT NULL AND s.firmware IS DISTINCT FROM d.firmware
                            THEN s.at ELSE d.firmware_since END,
                        ua_mismatch = s.mismatch
                     FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::smallint[], $6::text[],
                        $7::text[], $8::text[], $9::text[])
                        AS s (mac, at, peer, user_agent, rating, vendor, model, firmware, mismatch)
                     WHERE d.mac = s.mac AND (d.last_fetch IS NULL OR d.last_fetch <= s.at)",
                )
                .await
                .map_err(backend)?;
            tx.execute(&statement, &[&mac, &at, &peer, &user_agent, &rating, &vendor, &model, &firmware, &mismatch])
                .await
                .map_err(backend)?;
            commit_with_events(tx, &alerts).await
        })
    }

    fn fleet(&self, query: &FleetQuery) -> Result<Vec<FleetRow>, StoreError> {
        // Only the filters that are set go into the SQL, so the partial index of contradicted
        // devices serves the mismatch listing.
        let mut conditions = vec!["mac > $1"];
        let mut values: Values =
            vec![Box::new(query.after.map(|mac| mac.to_string()).unwrap_or_default()), Box::new(limit(query.limit))];
        if query.mismatched {
            conditions.push("ua_mismatch IS NOT NULL");
        }
        if let Some(since) = query.not_seen_since {
            conditions.push("(last_fetch IS NULL OR last_fetch < $3)");
            values.push(Box::new(since.unix()));
        }
        let sql = format!(
            "SELECT mac, vendor, model, site, state, disabled, enrolled_at, last_fetch, rating, ua_vendor, ua_model,
                firmware, ua_mismatch, firmware_since
             FROM devices WHERE {} ORDER BY mac LIMIT $2",
            conditions.join(" AND ")
        );
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let statement = client.prepare_cached(&sql).await.map_err(backend)?;
            let rows = client.query(&statement, &params(&values)).await.map_err(backend)?;
            rows.iter().map(rows::fleet_row).collect()
        })
    }

    fn document(&self, name: &str) -> Result<Option<Document>, StoreError> {
        let name = name.to_owned();
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let row = client
                .query_opt("SELECT version, body FROM documents WHERE name = $1", &[&name])
                .await
                .map_err(backend)?;
            row.map(|row| {
                let version: i64 = row.try_get(0).map_err(backend)?;
                Ok(Document { version: u64::try_from(version).unwrap_or(0), body: row.try_get(1).map_err(backend)? })
            })
            .transpose()
        })
    }

    fn put_document(&self, name: &str, expected: u64, body: &str, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        let expected = check_document(name, expected, body)?;
        let (name, body) = (name.to_owned(), body.to_owned());
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            // The insert races with another node's insert of the same name: the loser's
            // conflict clause finds a version other than 0 and changes nothing.
            let changed = if expected == 0 {
                tx.execute(
                    "INSERT INTO documents (name, version, body) VALUES ($1, 1, $2) ON CONFLICT (name) DO NOTHING",
                    &[&name, &body],
                )
                .await
            } else {
                tx.execute(
                    "UPDATE documents SET version = version + 1, body = $2 WHERE name = $1 AND version = $3",
                    &[&name, &body, &expected],
                )
                .await
            }
            .map_err(backend)?;
            if changed == 0 {
                return Ok(false);
            }
            commit_with_events(tx, &events).await?;
            Ok(true)
        })
    }

    fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<usize, StoreError> {
        let limit = self::limit(limit);
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let deleted = client
                .execute(
                    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 ORDER BY id LIMIT $2)",
                    &[&before.unix(), &limit],
                )
                .await
                .map_err(backend)?;
            Ok(usize::try_from(deleted).unwrap_or(usize::MAX))
        })
    }

    fn put_ban(&self, ban: &Ban, event: AuditEvent) -> Result<(), StoreError> {
        let ban = ban.clone();
        self.run(async move |pool| {
            let sql = "INSERT INTO bans (key, reason, until) VALUES ($1, $2, $3)
                       ON CONFLICT (key) DO UPDATE SET reason = EXCLUDED.reason, until = EXCLUDED.until";
            let values: Values = vec![Box::new(ban.key), Box::new(ban.reason), Box::new(ban.until.unix())];
            change_with_event(pool, sql, values, event, true).await.map(drop)
        })
    }

    fn bans(&self, now: Timestamp) -> Result<Vec<Ban>, StoreError> {
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let statement = client
                .prepare_cached("SELECT key, reason, until FROM bans WHERE until > $1 ORDER BY key")
                .await
                .map_err(backend)?;
            let rows = client.query(&statement, &[&now.unix()]).await.map_err(backend)?;
            rows.iter()
                .map(|row| {
                    Ok(Ban {
                        key: row.try_get(0).map_err(backend)?,
                        reason: row.try_get(1).map_err(backend)?,
                        until: Timestamp::from_unix(row.try_get(2).map_err(backend)?),
                    })
                })
                .collect()
        })
    }

    fn remove_ban(&self, key: &str, event: AuditEvent) -> Result<bool, StoreError> {
        let key = key.to_owned();
        self.run(async move |pool| {
            let sql = "DELETE FROM bans WHERE key = $1";
            Ok(change_with_event(pool, sql, vec![Box::new(key)], event, false).await? == 1)
        })
    }

    fn insert_reveal_token(&self, token: &RevealToken) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            client
                .execute(
                    "INSERT INTO reveal_tokens (hash, mac, expires_at) VALUES ($1, $2, $3)",
                    &[&&token.hash[..], &token.mac.to_string(), &token.expires_at.unix()],
                )
                .await
                .map_err(backend)?;
            Ok(())
        })
    }

    fn insert_api_token(&self, token: &ApiToken, event: AuditEvent) -> Result<(), StoreError> {
        let token = token.clone();
        self.run(async move |pool| {
            let sql = "INSERT INTO api_tokens (hash, name, role, created_at) VALUES ($1, $2, $3, $4)";
            let values: Values = vec![
                Box::new(token.hash.to_vec()),
                Box::new(token.name),
                Box::new(token.role.name()),
                Box::new(token.created_at.unix()),
            ];
            change_with_event(pool, sql, values, event, true).await.map(drop)
        })
    }

    fn api_token(&self, hash: &[u8; 32]) -> Result<Option<ApiToken>, StoreError> {
        let hash = hash.to_vec();
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let statement = client
                .prepare_cached("SELECT hash, name, role, created_at FROM api_tokens WHERE hash = $1")
                .await
                .map_err(backend)?;
            let row = client.query_opt(&statement, &[&hash]).await.map_err(backend)?;
            row.as_ref().map(rows::api_token).transpose()
        })
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let rows = client
                .query("SELECT hash, name, role, created_at FROM api_tokens ORDER BY created_at, hash", &[])
                .await
                .map_err(backend)?;
            rows.iter().map(rows::api_token).collect()
        })
    }

    fn remove_api_token(&self, hash: &[u8; 32], event: AuditEvent) -> Result<bool, StoreError> {
        let hash = hash.to_vec();
        self.run(async move |pool| {
            let sql = "DELETE FROM api_tokens WHERE hash = $1";
            Ok(change_with_event(pool, sql, vec![Box::new(hash)], event, false).await? == 1)
        })
    }

    fn registrar_pending(&self, limit: usize) -> Result<Vec<RegistrarEntry>, StoreError> {
        self.run(async move |pool| crate::registrar::pending(&connection(&pool).await?, limit).await)
    }

    fn registrar_entries(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<RegistrarEntry>, StoreError> {
        self.run(async move |pool| crate::registrar::entries(&connection(&pool).await?, after, limit).await)
    }

    fn registrar_pushed(&self, realm: &str, user: &str, seq: u64, events: Vec<AuditEvent>) -> Result<bool, StoreError> {
        let (realm, user) = (realm.to_owned(), user.to_owned());
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            let found = crate::registrar::pushed(&tx, &realm, &user, seq).await?;
            commit_with_events(tx, &events).await?;
            Ok(found)
        })
    }

    fn registrar_reseal(&self, realm: &str, user: &str, seq: u64, ha1: Sealed) -> Result<bool, StoreError> {
        let (realm, user) = (realm.to_owned(), user.to_owned());
        self.run(async move |pool| crate::registrar::reseal(&connection(&pool).await?, &realm, &user, seq, &ha1).await)
    }

    fn compact(&self) -> Result<(), StoreError> {
        // PostgreSQL cannot overwrite a deleted row's bytes the way SQLite's `secure_delete`
        // does: a purged secret's old row version stays in the table's free space until VACUUM
        // lets it be reused and new rows overwrite it. Plain VACUUM runs beside the phones'
        // requests (VACUUM FULL would lock the inventory); docs/high-availability.md says what
        // an operator may add in a maintenance window.
        self.run_within(COMPACT_LIMIT, async move |pool| {
            let client = connection(&pool).await?;
            // Not under the calls' statement time limit; one statement each (VACUUM runs in
            // no transaction, and a multi-statement string is one).
            client.batch_execute("SET statement_timeout = 0").await.map_err(backend)?;
            let vacuumed =
                client.batch_execute("VACUUM accounts, devices, reveal_tokens, registrar").await.map_err(backend);
            client.batch_execute("RESET statement_timeout").await.map_err(backend)?;
            vacuumed
        })
    }

    fn consume_reveal_token(&self, hash: &[u8; 32], now: Timestamp) -> Result<TokenUse, StoreError> {
        let hash = hash.to_vec();
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            // One conditional update decides the first use, whichever node sees the token first.
            let used = client
                .query_opt(
                    "UPDATE reveal_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2
                     RETURNING mac",
                    &[&hash, &now.unix()],
                )
                .await
                .map_err(backend)?;
            if let Some(row) = used {
                return Ok(TokenUse::Valid(rows::mac(row.try_get(0).map_err(backend)?)?));
            }
            let row = client
                .query_opt("SELECT used_at FROM reveal_tokens WHERE hash = $1", &[&hash])
                .await
                .map_err(backend)?;
            Ok(match row {
                None => TokenUse::Unknown,
                Some(row) if row.try_get::<_, Option<i64>>(0).map_err(backend)?.is_some() => TokenUse::AlreadyUsed,
                Some(_) => TokenUse::Expired,
            })
        })
    }
}
