//! Drains the store's registrar outbox into every registrar, in order, retrying what fails.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sipprov_credentials::{Credentials, CredentialsError, RegistrarEntry};

use crate::{Change, Registrar, RegistrarError};

/// How many queued changes are read at a time.
const BATCH: usize = 100;
/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// The registrars, and the credentials whose outbox they are told from.
pub struct Outbox {
    credentials: Arc<Credentials>,
    registrars: Vec<Arc<dyn Registrar>>,
    /// The last failure audited (registrar, change, reason): a retry that fails the same way
    /// is logged, not audited again.
    last_failure: Mutex<Option<(String, u64, String)>>,
    /// Changes whose HA1 cannot be opened (its sealing key is gone): skipped until replaced.
    unopenable: Mutex<BTreeSet<u64>>,
    /// Held while registrars are being told: one drain or sync at a time, so no older change
    /// can overtake a newer one on its way to a registrar.
    telling: Mutex<()>,
}

/// What one [`Outbox::drain`] did.
#[derive(Debug, Default)]
pub struct Drained {
    /// Changes every registrar accepted.
    pub pushed: usize,
    /// The failure that stopped it, if one did: the change stays queued.
    pub failed: Option<RegistrarError>,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.registrars.iter().map(|registrar| registrar.name()).collect();
        f.debug_struct("Outbox").field("registrars", &names).finish_non_exhaustive()
    }
}

impl Outbox {
    /// Tells `registrars` what `credentials` queues (see
    /// [`Credentials::with_registrar_realm`]).
    pub fn new(credentials: Arc<Credentials>, registrars: Vec<Arc<dyn Registrar>>) -> Self {
        Self {
            credentials,
            registrars,
            last_failure: Mutex::default(),
            unopenable: Mutex::default(),
            telling: Mutex::default(),
        }
    }

    /// The registrars, in the order they are told.
    pub fn registrars(&self) -> &[Arc<dyn Registrar>] {
        &self.registrars
    }

    /// The credentials whose outbox this drains.
    pub fn credentials(&self) -> &Arc<Credentials> {
        &self.credentials
    }

    /// Pushes queued changes, oldest first, each to every registrar, until none is left or a
    /// registrar fails (the change stays queued, and the failure is audited once). An error
    /// is the store's.
    pub fn drain(&self) -> Result<Drained, CredentialsError> {
        let _telling = self.telling();
        self.drain_holding()
    }

    /// Waits for any other drain or sync to finish; the guard keeps others waiting.
    pub(crate) fn telling(&self) -> std::sync::MutexGuard<'_, ()> {
        self.telling.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// [`Outbox::drain`], for a caller holding [`Outbox::telling`].
    pub(crate) fn drain_holding(&self) -> Result<Drained, CredentialsError> {
        let mut drained = Drained::default();
        let names: Vec<&str> = self.registrars.iter().map(|registrar| registrar.name()).collect();
        loop {
            let skipped = self.unopenable.lock().map_or(0, |skipped| skipped.len());
            let batch = self.credentials.registrar_pending(BATCH + skipped)?;
            let mut progressed = false;
            for entry in batch {
                let Some(change) = self.change(&entry)? else { continue };
                for registrar in &self.registrars {
                    if let Err(e) = registrar.apply(&change) {
                        self.failed(&entry, registrar.name(), &e)?;
                        drained.failed = Some(e);
                        return Ok(drained);
                    }
                }
                self.credentials.registrar_pushed(&entry, &names)?;
                self.last_failure.lock().map(|mut last| *last = None).ok();
                drained.pushed += 1;
                progressed = true;
            }
            if !progressed {
                return Ok(drained);
            }
        }
    }

    /// Drains now and then: every `interval` while all is well, after a failure in 1 s,
    /// doubling up to a minute. Returns when `stop` says so (checked at least every second).
    pub fn run(&self, interval: Duration, stop: &dyn Fn() -> bool) {
        let mut failures: u32 = 0;
        while !stop() {
            failures = match self.drain() {
                Ok(Drained { failed: None, .. }) => 0,
                Ok(Drained { failed: Some(_), .. }) => failures.saturating_add(1),
                Err(e) => {
                    tracing::warn!(error = %e, "registrar outbox: cannot read the queue");
                    failures.saturating_add(1)
                }
            };
            let wait = backoff(failures).unwrap_or(interval);
            let mut slept = Duration::ZERO;
            while slept < wait && !stop() {
                let step = (wait - slept).min(Duration::from_secs(1));
                std::thread::sleep(step);
                slept += step;
            }
        }
    }

    /// The change to tell for `entry`; `None` (skipped, audited once) if its HA1 cannot be
    /// opened.
    fn change(&self, entry: &RegistrarEntry) -> Result<Option<Change>, CredentialsError> {
        let user = entry.change.user.clone();
        match self.credentials.registrar_ha1(&entry.change) {
            Ok(Some(ha1)) => Ok(Some(Change::Set { user, ha1 })),
            Ok(None) => Ok(Some(Change::Delete { user, realm: entry.change.realm.clone() })),
            Err(e @ (CredentialsError::Sealing(_) | CredentialsError::NoSealingKey)) => {
                let first = self.unopenable.lock().map(|mut skipped| skipped.insert(entry.seq)).unwrap_or(false);
                if first {
                    let reason = format!("cannot open the HA1 ({e}): rotate the account to queue a new one");
                    self.credentials.registrar_failed(entry, "-", &reason)?;
                }
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn failed(&self, entry: &RegistrarEntry, registrar: &str, error: &RegistrarError) -> Result<(), CredentialsError> {
        let failure = (registrar.to_owned(), entry.seq, error.to_string());
        tracing::warn!(registrar, error = %error, "registrar outbox: a change was not accepted; it stays queued");
        let repeated = self.last_failure.lock().map(|last| last.as_ref() == Some(&failure)).unwrap_or(false);
        if !repeated {
            self.credentials.registrar_failed(entry, registrar, &failure.2)?;
            self.last_failure.lock().map(|mut last| *last = Some(failure)).ok();
        }
        Ok(())
    }
}

/// The wait after `failures` failures in a row: `None` after none.
fn backoff(failures: u32) -> Option<Duration> {
    let doublings = failures.checked_sub(1)?.min(6);
    Some((FIRST_BACKOFF * 2u32.pow(doublings)).min(MAX_BACKOFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_a_second_to_a_minute() {
        let waits: Vec<u64> = (0..9).map(|n| backoff(n).map_or(0, |wait| wait.as_secs())).collect();
        assert_eq!(waits, [0, 1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
