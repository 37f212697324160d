//! The trait a registrar implements, and how it fails.

use std::collections::BTreeSet;

use crate::Change;

/// A SIP registrar (or anything that stands for one: a provisioning database, a webhook) that
/// learns each account's HA1 from sipprov.
///
/// Calls are blocking and come from one thread, in the order the changes were made. Both must be
/// idempotent: a change may be applied again after a crash or a failure of another registrar.
pub trait Registrar: Send + Sync {
    /// The name the configuration gives it, used in audit events and errors.
    fn name(&self) -> &str;

    /// Applies one change: stores the HA1 values (insert or replace) or removes the account.
    /// An error leaves the change queued; it is retried.
    fn apply(&self, change: &Change) -> Result<(), RegistrarError>;

    /// The digest users it holds in `realm`, if it can list them (a webhook cannot): `registrar
    /// sync` reports those sipprov does not know of, and removes them when asked to prune.
    fn users(&self, realm: &str) -> Result<Option<BTreeSet<String>>, RegistrarError> {
        let _ = realm;
        Ok(None)
    }
}

/// A registrar could not take a change. The message never holds an HA1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarError {
    /// It could not be reached, or answered with an error that may pass (retried).
    #[error("{0}")]
    Unavailable(String),
    /// Its configuration is wrong (bad URL, unreadable key or CA file).
    #[error("{0}")]
    Config(String),
}
