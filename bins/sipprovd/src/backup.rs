//! `sipprovd backup` and `sipprovd restore`: a single-node install's SQLite store copied out
//! while the daemon runs, and put back while it is stopped.
//!
//! A restore brings back the API tokens of the backup's time, so one revoked since would work
//! again: every token is revoked after a restore (audited), and the operator creates new ones.
//!
//! A running daemon holds a shared lock on `<database>.lock` ([`RunLock`]); a restore takes it
//! exclusively, so it cannot replace a database under a running daemon (nodes sharing one
//! SQLite file each hold the shared lock).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sipprov_store_sqlite::Copied;

use crate::config::Config;

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// What was copied back.
    pub copied: Copied,
    /// How many API tokens were revoked afterwards.
    pub tokens_revoked: usize,
}

/// Copies the configured SQLite database into the new file `to`.
pub fn backup(config: &Config, to: &Path) -> anyhow::Result<Copied> {
    let database = sqlite_database(config)?;
    Ok(sipprov_store_sqlite::backup(database, to)?)
}

/// Replaces the configured SQLite database with the backup `from`, then revokes every API token.
/// Refuses while the daemon's ports are in use.
pub fn restore(config: &Config, from: &Path) -> anyhow::Result<Restored> {
    let database = sqlite_database(config)?;
    let lock = lock_file(database)?;
    if lock.try_lock().is_err() {
        bail!("a daemon is running on {}: stop it before a restore", database.display());
    }
    let copied = sipprov_store_sqlite::restore(database, from)?;
    let credentials = config.credentials().context("the restored database does not open")?;
    let mut tokens_revoked = 0;
    for token in credentials.store().api_tokens()? {
        if credentials.revoke_api_token(&token.id(), "sipprovd restore")?.is_ok() {
            tokens_revoked += 1;
        }
    }
    Ok(Restored { copied, tokens_revoked })
}

/// Held by a running daemon on a SQLite store, so a restore waits for it to stop.
#[derive(Debug)]
pub struct RunLock {
    _held: Option<File>,
}

impl RunLock {
    /// Takes the shared lock for `config`'s SQLite store (nothing for PostgreSQL).
    pub fn shared(config: &Config) -> anyhow::Result<Self> {
        let Some(database) = &config.store.sqlite else { return Ok(Self { _held: None }) };
        let lock = lock_file(database)?;
        if lock.try_lock_shared().is_err() {
            bail!("{} is being restored: start the daemon when the restore has finished", database.display());
        }
        Ok(Self { _held: Some(lock) })
    }
}

fn lock_file(database: &Path) -> anyhow::Result<File> {
    let mut path = database.as_os_str().to_owned();
    path.push(".lock");
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(&path).with_context(|| format!("cannot open the lock file {}", Path::new(&path).display()))
}

fn sqlite_database(config: &Config) -> anyhow::Result<&PathBuf> {
    match &config.store.sqlite {
        Some(database) => Ok(database),
        None => bail!(
            "backup and restore copy a SQLite store; a PostgreSQL store is backed up with PostgreSQL's own tools \
             (pg_dump, or continuous archiving): see docs/operations.md"
        ),
    }
}
