//! `sipprovd migrate`: moves a single-node install's SQLite store into PostgreSQL.
//!
//! Everything moves as it is: devices with their accounts, sealed secrets, key pins and fleet
//! facts, pending sightings, bans, admin API tokens, reveal tokens, operator documents (the
//! firmware catalogue and targets), the registrar outbox (changes not yet pushed, HA1 kept) and
//! the audit log with its ids. Image files stay where
//! they are: point every node's `[firmware] directory` at them (shared storage).
//! Secrets stay sealed (the nodes use the same key file), so the move never opens one. Each
//! batch is one transaction on the target and skips what is already there, so a move that
//! stopped half-way is finished by running it again. At the end every record is read back from
//! both stores and compared, kind by kind, by count and SHA-256 digest.
//!
//! Stop the daemon first: writes made to the SQLite file during the move are not carried, and
//! the comparison at the end would report them.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use sipprov_credentials::{
    AuditQuery, DeviceQuery, DeviceRecord, FleetQuery, FleetRow, PendingDevice, PendingQuery, RegistrarEntry, Store,
    StoreError, StoredAuditEvent, Timestamp,
};
use sipprov_store_postgres::{PostgresOptions, PostgresStore};
use sipprov_store_sqlite::SqliteStore;

/// Records read and written per transaction.
const BATCH: usize = 500;

/// The SQLite file a `--from sqlite:PATH` names.
pub fn sqlite_source(from: &str) -> anyhow::Result<PathBuf> {
    let Some(path) = from.strip_prefix("sqlite:") else {
        bail!("--from {from:?}: expected sqlite:PATH, the database file of a single-node install");
    };
    let path = PathBuf::from(path);
    if !path.is_file() {
        bail!("--from {}: no such database file", path.display());
    }
    Ok(path)
}

/// One kind of record, as found on both sides after the move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindReport {
    /// What the records are (`devices`, `audit events`, ...).
    pub kind: &'static str,
    /// Records in the SQLite store.
    pub source: u64,
    /// Records in PostgreSQL.
    pub target: u64,
    /// Records this run added (0 for those an earlier run moved already).
    pub added: u64,
    /// Whether the two sides' digests match.
    pub same: bool,
}

/// What a move did and found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Per kind of record.
    pub kinds: Vec<KindReport>,
}

impl Report {
    /// Whether every kind arrived whole and equal.
    pub fn complete(&self) -> bool {
        self.kinds.iter().all(|kind| kind.same && kind.source == kind.target)
    }

    /// A table for the terminal.
    pub fn table(&self) -> String {
        let mut text = format!("{:<16} {:>10} {:>10} {:>10}  digest\n", "records", "sqlite", "postgres", "added");
        for kind in &self.kinds {
            let verdict = if kind.same && kind.source == kind.target { "same" } else { "DIFFERENT" };
            let _ = writeln!(
                text,
                "{:<16} {:>10} {:>10} {:>10}  {verdict}",
                kind.kind, kind.source, kind.target, kind.added
            );
        }
        text
    }
}

/// Moves the SQLite store at `from` into the PostgreSQL database `to`, then compares them.
pub fn migrate(from: &Path, to: &PostgresOptions) -> anyhow::Result<Report> {
    let source = SqliteStore::open(from).with_context(|| format!("opening {}", from.display()))?;
    let target = PostgresStore::connect(to)?;
    let counts = source.counts()?;
    let mut added = Vec::new();

    let tokens = source.api_tokens()?;
    added.push(copy_all("api tokens", tokens, |tokens| target.import_api_tokens(tokens))?);
    // Expired bans too: the move leaves nothing out, and expired ones are never enforced.
    let bans = source.bans(Timestamp::from_unix(i64::MIN))?;
    added.push(copy_all("bans", bans, |bans| target.import_bans(bans))?);
    let reveal_tokens = source.reveal_tokens()?;
    added.push(copy_all("reveal tokens", reveal_tokens, |tokens| target.import_reveal_tokens(tokens))?);
    let documents = source.documents()?;
    added.push(copy_all("documents", documents, |documents| target.import_documents(documents))?);
    // The registrar outbox: changes not yet pushed, and the HA1 values `registrar sync` uses.
    let registrar = registrar_entries(&source)?;
    added.push(copy_all("registrar rows", registrar, |entries| target.import_registrar(entries))?);

    let mut progress = Progress::new("devices", counts.devices);
    device_pages(&source, |devices| {
        let read = devices.len();
        progress.advance(read, target.import_devices(devices)?);
        Ok(())
    })?;
    added.push(progress.finish());

    let mut progress = Progress::new("fleet facts", counts.devices);
    fleet_pages(&source, |rows| {
        let read = rows.len();
        progress.advance(read, target.import_fleet(rows)?);
        Ok(())
    })?;
    added.push(progress.finish());

    let mut progress = Progress::new("pending", counts.pending);
    pending_pages(&source, |pending| {
        let read = pending.len();
        progress.advance(read, target.import_pending(pending)?);
        Ok(())
    })?;
    added.push(progress.finish());

    // The audit log resumes after the last event an earlier run moved: each batch commits in
    // id order, so every id below the target's highest is there.
    let mut progress = Progress::new("audit events", counts.audit);
    let newest = target.audit(&AuditQuery { newest_first: true, limit: 1, ..AuditQuery::default() })?;
    let resume_after = newest.first().map(|event| event.id);
    if let Some(id) = resume_after {
        audit_pages(&source, None, Some(id + 1), |moved| {
            progress.advance(moved.len(), 0);
            Ok(())
        })?;
    }
    audit_pages(&source, resume_after, None, |events| {
        let read = events.len();
        progress.advance(read, target.import_audit(events)?);
        Ok(())
    })?;
    added.push(progress.finish());

    verify(&source, &target, &added)
}

/// Every registrar outbox row of `store`, by realm and user.
fn registrar_entries(store: &dyn Store) -> anyhow::Result<Vec<RegistrarEntry>> {
    let (mut entries, mut after) = (Vec::new(), None);
    loop {
        let page = store.registrar_entries(after, BATCH)?;
        let Some(last) = page.last() else { return Ok(entries) };
        after = Some((last.change.realm.clone(), last.change.user.clone()));
        entries.extend(page);
    }
}

/// Reads records of one kind in pages, each after the last record of the page before (from
/// after `after`), and hands each page to `each`.
fn each_page<T, C: Copy>(
    mut after: Option<C>,
    read: impl Fn(Option<C>) -> Result<Vec<T>, StoreError>,
    cursor: impl Fn(&T) -> C,
    mut each: impl FnMut(Vec<T>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    loop {
        let page = read(after)?;
        let Some(last) = page.last() else { return Ok(()) };
        after = Some(cursor(last));
        each(page)?;
    }
}

fn device_pages(store: &dyn Store, each: impl FnMut(Vec<DeviceRecord>) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let read = |after| store.devices(&DeviceQuery { after, limit: BATCH, ..DeviceQuery::default() });
    each_page(None, read, |device: &DeviceRecord| device.mac, each)
}

fn fleet_pages(store: &dyn Store, each: impl FnMut(Vec<FleetRow>) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let read = |after| store.fleet(&FleetQuery { after, limit: BATCH, ..FleetQuery::default() });
    each_page(None, read, |row: &FleetRow| row.mac, each)
}

fn pending_pages(store: &dyn Store, each: impl FnMut(Vec<PendingDevice>) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let read = |after| store.pending(&PendingQuery { mac: None, after, limit: BATCH });
    each_page(None, read, |pending: &PendingDevice| (pending.mac, pending.spki_sha256), each)
}

/// The audit events after `after_id` (and before `before_id`), oldest first.
fn audit_pages(
    store: &dyn Store,
    after_id: Option<u64>,
    before_id: Option<u64>,
    each: impl FnMut(Vec<StoredAuditEvent>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let read = |after_id| store.audit(&AuditQuery { after_id, before_id, limit: BATCH * 4, ..AuditQuery::default() });
    each_page(after_id, read, |event: &StoredAuditEvent| event.id, each)
}

/// Imports `records` in batches, with progress; returns how many were new.
fn copy_all<T>(
    kind: &'static str,
    records: Vec<T>,
    mut import: impl FnMut(Vec<T>) -> Result<usize, StoreError>,
) -> anyhow::Result<(&'static str, u64)> {
    let mut progress = Progress::new(kind, records.len() as u64);
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let batch: Vec<T> = records.by_ref().take(BATCH).collect();
        let read = batch.len();
        progress.advance(read, import(batch)?);
    }
    Ok(progress.finish())
}

/// Reads every record back from both stores and compares counts and digests.
fn verify(source: &SqliteStore, target: &PostgresStore, added: &[(&'static str, u64)]) -> anyhow::Result<Report> {
    let added = |kind: &str| added.iter().find(|(name, _)| *name == kind).map_or(0, |(_, n)| *n);
    let mut kinds = Vec::new();
    let mut compare = |kind: &'static str, source: Fingerprint, target: Fingerprint| {
        kinds.push(KindReport {
            kind,
            source: source.count,
            target: target.count,
            added: added(kind),
            same: source == target,
        });
    };
    compare("api tokens", Fingerprint::of(source.api_tokens()?), Fingerprint::of(target.api_tokens()?));
    let ever = Timestamp::from_unix(i64::MIN);
    compare("bans", Fingerprint::of(source.bans(ever)?), Fingerprint::of(target.bans(ever)?));
    compare("reveal tokens", Fingerprint::of(source.reveal_tokens()?), Fingerprint::of(target.reveal_tokens()?));
    let documents = |store: &dyn Store| -> anyhow::Result<Fingerprint> {
        let names: Vec<String> = source.documents()?.into_iter().map(|(name, _)| name).collect();
        let found: Vec<_> = names.iter().map(|name| store.document(name)).collect::<Result<_, _>>()?;
        Ok(Fingerprint::of(found.into_iter().flatten().collect::<Vec<_>>()))
    };
    compare("documents", documents(source)?, documents(target)?);
    compare("registrar rows", Fingerprint::of(registrar_entries(source)?), Fingerprint::of(registrar_entries(target)?));
    compare("devices", devices(source)?, devices(target)?);
    compare("fleet facts", fleet(source)?, fleet(target)?);
    compare("pending", pending(source)?, pending(target)?);
    compare("audit events", audit(source)?, audit(target)?);
    Ok(Report { kinds })
}

/// A count and a SHA-256 over every record's full contents, in the store's own order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    count: u64,
    digest: [u8; 32],
}

#[derive(Default)]
struct Fingerprinting {
    count: u64,
    hash: Sha256,
}

impl Fingerprinting {
    fn add(&mut self, record: &impl std::fmt::Debug) {
        self.count += 1;
        self.hash.update(format!("{record:?}\n").as_bytes());
    }

    fn add_device(&mut self, device: &DeviceRecord) {
        self.add(device);
        // Debug redacts sealed secrets to their key id and length: add their bytes.
        if let Some(secrets) = &device.secrets {
            for (line, sealed) in &secrets.sip_passwords {
                self.hash.update(line.to_be_bytes());
                self.hash.update(sealed.as_bytes());
            }
            if let Some(admin) = &secrets.admin_password {
                self.hash.update(admin.as_bytes());
            }
        }
    }

    fn finish(self) -> Fingerprint {
        Fingerprint { count: self.count, digest: self.hash.finalize().into() }
    }
}

impl Fingerprint {
    fn of<T: std::fmt::Debug>(records: Vec<T>) -> Self {
        let mut fingerprint = Fingerprinting::default();
        records.iter().for_each(|record| fingerprint.add(record));
        fingerprint.finish()
    }
}

fn devices(store: &dyn Store) -> anyhow::Result<Fingerprint> {
    let mut fingerprint = Fingerprinting::default();
    device_pages(store, |devices| {
        devices.iter().for_each(|device| fingerprint.add_device(device));
        Ok(())
    })?;
    Ok(fingerprint.finish())
}

fn fleet(store: &dyn Store) -> anyhow::Result<Fingerprint> {
    let mut fingerprint = Fingerprinting::default();
    fleet_pages(store, |rows| {
        rows.iter().for_each(|row| fingerprint.add(row));
        Ok(())
    })?;
    Ok(fingerprint.finish())
}

fn pending(store: &dyn Store) -> anyhow::Result<Fingerprint> {
    let mut fingerprint = Fingerprinting::default();
    pending_pages(store, |pending| {
        pending.iter().for_each(|sighting| fingerprint.add(sighting));
        Ok(())
    })?;
    Ok(fingerprint.finish())
}

fn audit(store: &dyn Store) -> anyhow::Result<Fingerprint> {
    let mut fingerprint = Fingerprinting::default();
    audit_pages(store, None, None, |events| {
        events.iter().for_each(|event| fingerprint.add(event));
        Ok(())
    })?;
    Ok(fingerprint.finish())
}

/// Progress of one kind of record: a bar on a terminal, one line at the end otherwise.
struct Progress {
    kind: &'static str,
    total: u64,
    read: u64,
    added: u64,
    terminal: bool,
    drawn: Option<Instant>,
}

impl Progress {
    fn new(kind: &'static str, total: u64) -> Self {
        Self { kind, total, read: 0, added: 0, terminal: std::io::stderr().is_terminal(), drawn: None }
    }

    fn advance(&mut self, read: usize, added: usize) {
        self.read += read as u64;
        self.added += added as u64;
        if self.terminal && self.drawn.is_none_or(|at| at.elapsed() >= Duration::from_millis(100)) {
            self.drawn = Some(Instant::now());
            self.draw("");
        }
    }

    fn draw(&self, end: &str) {
        let fraction = if self.total == 0 { 1.0 } else { (self.read as f64 / self.total as f64).clamp(0.0, 1.0) };
        let filled = (fraction * 30.0) as usize;
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "{}{:<14} [{}{}] {}/{} ({} new){end}",
            if self.terminal { "\r" } else { "" },
            self.kind,
            "#".repeat(filled),
            " ".repeat(30 - filled),
            self.read,
            self.total,
            self.added
        );
        let _ = stderr.flush();
    }

    fn finish(self) -> (&'static str, u64) {
        self.draw("\n");
        (self.kind, self.added)
    }
}
