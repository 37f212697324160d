//! Rebuilding registrars from what sipprov keeps: every account's HA1, and which users are its.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use sipprov_credentials::{CredentialsError, DeviceQuery};

use crate::{Change, Outbox, RegistrarError};

/// What a sync did (or, in a dry run, would do) to one registrar.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SyncReport {
    /// The registrar's name.
    pub registrar: String,
    /// Accounts whose HA1 was (or would be) written.
    pub set: usize,
    /// Users removed (or to be removed): deletions still queued, and with `prune` those unknown.
    pub deleted: Vec<String>,
    /// Users the registrar holds in the realm that no account of sipprov's has. `None` if the
    /// registrar cannot list its users.
    pub unknown: Option<Vec<String>>,
}

/// What a whole sync found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sync {
    /// Nothing was written.
    pub dry_run: bool,
    /// The realm synchronised.
    pub realm: String,
    /// Accounts in the inventory with no HA1 kept (enrolled before a registrar was configured,
    /// or sealed under a key no longer loaded): rotate them to give the registrar one.
    pub missing: Vec<String>,
    /// One report per registrar, in configuration order.
    pub registrars: Vec<SyncReport>,
}

/// A sync stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// No realm is configured: there is no outbox to sync from.
    #[error("no registrar is configured")]
    NotConfigured,
    /// The store or the sealing keys failed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// A registrar failed; what was done before stays done.
    #[error(transparent)]
    Registrar(#[from] RegistrarError),
}

impl Sync {
    /// The report as JSON, for the admin API and the CLI.
    pub fn to_json(&self) -> Value {
        let registrars: Vec<Value> = self
            .registrars
            .iter()
            .map(|report| {
                json!({
                    "registrar": report.registrar,
                    "set": report.set,
                    "deleted": report.deleted,
                    "unknown": report.unknown,
                })
            })
            .collect();
        json!({"dry_run": self.dry_run, "realm": self.realm, "missing": self.missing, "registrars": registrars})
    }
}

impl Outbox {
    /// Makes every registrar hold exactly what sipprov knows: first the queue is drained, then
    /// every account's HA1 is written again, queued deletions applied, and users of the realm
    /// that no account has are reported, and removed if `prune` (a registrar may hold users
    /// sipprov does not manage: prune only a realm that is sipprov's alone). A `dry_run` reads
    /// and reports, writing nothing. Audited once per registrar.
    pub fn sync(&self, dry_run: bool, prune: bool) -> Result<Sync, SyncError> {
        let credentials = self.credentials();
        let realm = credentials.registrar_realm().ok_or(SyncError::NotConfigured)?.to_owned();
        let _telling = self.telling();
        if !dry_run && let Some(failed) = self.drain_holding()?.failed {
            return Err(failed.into());
        }
        let (kept, deletions) = self.kept(&realm)?;
        let ours: BTreeSet<&str> = kept.iter().map(|change| change.user()).collect();
        let mut sync = Sync { dry_run, realm: realm.clone(), missing: self.missing(&ours)?, registrars: Vec::new() };
        for registrar in self.registrars() {
            let mut report = SyncReport { registrar: registrar.name().to_owned(), ..SyncReport::default() };
            let listed = registrar.users(&realm)?;
            report.unknown = listed.as_ref().map(|users| {
                users
                    .iter()
                    .filter(|user| !ours.contains(user.as_str()) && !deletions.contains(*user))
                    .cloned()
                    .collect()
            });
            let mut deleted: Vec<String> = deletions.iter().cloned().collect();
            if prune {
                deleted.extend(report.unknown.iter().flatten().cloned());
            }
            if !dry_run {
                for change in &kept {
                    registrar.apply(change)?;
                }
                for user in &deleted {
                    registrar.apply(&Change::Delete { user: user.clone(), realm: realm.clone() })?;
                }
                credentials.registrar_synced(registrar.name(), kept.len(), deleted.len())?;
            }
            report.set = kept.len();
            report.deleted = deleted;
            sync.registrars.push(report);
        }
        Ok(sync)
    }

    /// Every HA1 kept for `realm`, opened, and the users whose deletion is still queued.
    fn kept(&self, realm: &str) -> Result<(Vec<Change>, BTreeSet<String>), CredentialsError> {
        let credentials = self.credentials();
        let (mut kept, mut deletions, mut after) = (Vec::new(), BTreeSet::new(), None);
        loop {
            let page = credentials.store().registrar_entries(after.clone(), 500)?;
            let Some(last) = page.last() else { return Ok((kept, deletions)) };
            after = Some((last.change.realm.clone(), last.change.user.clone()));
            for entry in page.iter().filter(|entry| entry.change.realm == realm) {
                match credentials.registrar_ha1(&entry.change) {
                    Ok(Some(ha1)) => kept.push(Change::Set { user: entry.change.user.clone(), ha1 }),
                    Ok(None) => drop(deletions.insert(entry.change.user.clone())),
                    // Sealed under a key no longer loaded: its account shows as missing.
                    Err(CredentialsError::Sealing(_)) => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }

    /// The digest users of the inventory's accounts that have no HA1 in `ours`.
    fn missing(&self, ours: &BTreeSet<&str>) -> Result<Vec<String>, CredentialsError> {
        let store = self.credentials().store();
        let (mut missing, mut after) = (BTreeSet::new(), None);
        loop {
            let page = store.devices(&DeviceQuery { after, limit: 500, ..DeviceQuery::default() })?;
            let Some(last) = page.last() else { return Ok(missing.into_iter().collect()) };
            after = Some(last.mac);
            for account in page.iter().flat_map(|device| &device.accounts) {
                if !ours.contains(account.auth_name.as_str()) {
                    missing.insert(account.auth_name.clone());
                }
            }
        }
    }
}
