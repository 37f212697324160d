//! Copies of a live database with SQLite's online backup API: consistent (one read transaction,
//! whatever the daemon writes meanwhile), the WAL's committed content included, and no need to
//! stop the daemon. Secrets stay sealed in the copy: without the sealing key it opens none.

use std::path::{Path, PathBuf};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// What a backup or restore copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Database pages copied.
    pub pages: u64,
    /// The copy's size in bytes.
    pub bytes: u64,
    /// Enrolled devices in the copy.
    pub devices: u64,
    /// The copy's schema version.
    pub schema_version: i64,
}

/// Why a backup or restore did not happen. Nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file to write exists; a backup never overwrites one.
    #[error("{0} exists: a backup never overwrites a file, choose a new name")]
    Exists(PathBuf),
    /// A file could not be created or read.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// SQLite refused.
    #[error("{path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is not a sound sipprov database.
    #[error("{path} is not a sound sipprov database: {reason}")]
    Unsound {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Another connection kept writing while the copy was made, every time it was tried.
    #[error("the database changed during every attempt to copy it; try again")]
    Busy,
}

/// Copies the database at `database` into the new file `to` (mode 0600), while the daemon may be
/// running, and checks the copy.
pub fn backup(database: &Path, to: &Path) -> Result<Copied, BackupError> {
    let source = open(database, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(to).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => BackupError::Exists(to.to_owned()),
        _ => BackupError::Io { action: "create", path: to.to_owned(), source },
    })?;
    let copied = open(to, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .and_then(|mut target| copy(&source, database, &mut target, to))
        .and_then(|pages| check(to, pages));
    if copied.is_err() {
        // Half a backup is worse than none: it looks like one.
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// Replaces the content of the database at `database` with the backup `from`, after checking the
/// backup. Run it with the daemon stopped; the next open migrates an older backup's schema.
pub fn restore(database: &Path, from: &Path) -> Result<Copied, BackupError> {
    let source = open(from, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let pages = page_count(&source, from)?;
    check_connection(&source, from, pages)?;
    // A database restored onto a new machine is private from its first byte.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(database).map_err(|source| BackupError::Io { action: "create", path: database.to_owned(), source })?;
    let mut target = open(database, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let pages = copy(&source, from, &mut target, database)?;
    drop(target);
    check(database, pages)
}

fn open(path: &Path, flags: OpenFlags) -> Result<Connection, BackupError> {
    if !path.exists() {
        let source = std::io::Error::from(std::io::ErrorKind::NotFound);
        return Err(BackupError::Io { action: "open", path: path.to_owned(), source });
    }
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|source| BackupError::Sqlite { path: path.to_owned(), source })?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(|source| BackupError::Sqlite { path: path.to_owned(), source })?;
    Ok(conn)
}

/// Copies every page in one step: one read transaction on the source, so the copy is one
/// consistent moment and a busy writer cannot make it start over halfway.
fn copy(source: &Connection, from: &Path, target: &mut Connection, to: &Path) -> Result<u64, BackupError> {
    let fail = |path: &Path, source| BackupError::Sqlite { path: path.to_owned(), source };
    let backup = Backup::new(source, target).map_err(|e| fail(to, e))?;
    for _ in 0..5 {
        match backup.step(-1).map_err(|e| fail(from, e))? {
            StepResult::Done => return Ok(u64::try_from(backup.progress().pagecount).unwrap_or(0)),
            StepResult::Busy | StepResult::Locked => std::thread::sleep(std::time::Duration::from_millis(200)),
            _ => {}
        }
    }
    Err(BackupError::Busy)
}

fn page_count(conn: &Connection, path: &Path) -> Result<u64, BackupError> {
    conn.query_row("PRAGMA page_count", [], |row| row.get::<_, i64>(0))
        .map(|pages| u64::try_from(pages).unwrap_or(0))
        .map_err(|source| BackupError::Sqlite { path: path.to_owned(), source })
}

/// Opens the copy at `path` again and checks it as a whole.
fn check(path: &Path, pages: u64) -> Result<Copied, BackupError> {
    let conn = open(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    check_connection(&conn, path, pages)
}

fn check_connection(conn: &Connection, path: &Path, pages: u64) -> Result<Copied, BackupError> {
    let sqlite = |source| BackupError::Sqlite { path: path.to_owned(), source };
    let unsound = |reason: String| BackupError::Unsound { path: path.to_owned(), reason };
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |row| row.get(0)).map_err(sqlite)?;
    if integrity != "ok" {
        return Err(unsound(integrity));
    }
    let schema_version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(sqlite)?;
    let devices: i64 = conn
        .query_row("SELECT count(*) FROM devices", [], |row| row.get(0))
        .map_err(|_| unsound("it has no devices table".into()))?;
    if schema_version < 1 {
        return Err(unsound("it has no sipprov schema version".into()));
    }
    let bytes = std::fs::metadata(path)
        .map_err(|source| BackupError::Io { action: "read", path: path.to_owned(), source })?
        .len();
    Ok(Copied { pages, bytes, devices: u64::try_from(devices).unwrap_or(0), schema_version })
}
