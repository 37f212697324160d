//! What one registrar is told about one account.

use sipprov_credentials::DigestHa1;

/// A change for a registrar: an account's HA1 values to store (insert or replace), or the
/// account to remove. Never a password: `Debug` shows no HA1 either.
#[derive(Clone, PartialEq, Eq)]
pub enum Change {
    /// Store these HA1 values for `user` in `ha1.realm`, replacing any.
    Set {
        /// The digest user name.
        user: String,
        /// Its HA1 values and the realm they are bound to.
        ha1: DigestHa1,
    },
    /// Remove `user` in `realm`; removing one that is not there succeeds.
    Delete {
        /// The digest user name.
        user: String,
        /// The realm.
        realm: String,
    },
}

impl Change {
    /// The digest user name.
    pub fn user(&self) -> &str {
        match self {
            Change::Set { user, .. } | Change::Delete { user, .. } => user,
        }
    }

    /// The realm.
    pub fn realm(&self) -> &str {
        match self {
            Change::Set { ha1, .. } => &ha1.realm,
            Change::Delete { realm, .. } => realm,
        }
    }

    /// `set` or `delete`, as audit details and the webhook name it.
    pub fn event(&self) -> &'static str {
        match self {
            Change::Set { .. } => "set",
            Change::Delete { .. } => "delete",
        }
    }
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change")
            .field("event", &self.event())
            .field("user", &self.user())
            .field("realm", &self.realm())
            .finish_non_exhaustive()
    }
}
