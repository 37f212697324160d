//! Bearer tokens for the admin API: shown once, stored only as a SHA-256 hash, each with a role.

use std::fmt;
use std::str::FromStr;

use crate::{OneTimeToken, SecretError, Timestamp};

/// What a token's holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read only: inventory, audit, bans, metrics. For auditors and dashboards.
    Auditor,
    /// Everything an operations team does day to day: devices, imports, re-arm, bans.
    Operator,
    /// Everything, including creating and revoking tokens.
    Admin,
}

impl Role {
    /// The role's name: `admin`, `operator` or `auditor`.
    pub const fn name(self) -> &'static str {
        match self {
            Role::Auditor => "auditor",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may perform an operation that needs `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auditor" => Ok(Role::Auditor),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!("unknown role {other:?} (expected admin, operator or auditor)")),
        }
    }
}

/// An admin API token as stored: its hash, never the token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// SHA-256 of the token ([`OneTimeToken::hash_of`]).
    pub hash: [u8; 32],
    /// A label for people: who or what holds it.
    pub name: String,
    /// What it may do.
    pub role: Role,
    /// When it was created.
    pub created_at: Timestamp,
}

impl ApiToken {
    /// A name for the token that reveals nothing about it: the first 16 hex digits of its hash.
    /// Listed to operators, and what they revoke it by.
    pub fn id(&self) -> String {
        hex::encode(&self.hash[..8])
    }

    /// A fresh token: the secret to show its holder once, and the record to store.
    pub fn issue(name: &str, role: Role, now: Timestamp) -> Result<(OneTimeToken, ApiToken), SecretError> {
        let secret = OneTimeToken::generate()?;
        let stored = ApiToken { hash: secret.hash(), name: name.to_owned(), role, created_at: now };
        Ok((secret, stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_by_what_they_allow() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Auditor));
        assert!(!Role::Auditor.allows(Role::Operator));
        assert!(!Role::Operator.allows(Role::Admin));
        for role in [Role::Auditor, Role::Operator, Role::Admin] {
            assert_eq!(role.name().parse::<Role>(), Ok(role));
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn only_the_hash_is_stored() {
        let (secret, stored) = ApiToken::issue("ci", Role::Auditor, Timestamp::from_unix(5)).unwrap();
        assert_eq!(stored.hash, OneTimeToken::hash_of(secret.expose()));
        assert!(!format!("{stored:?}").contains(secret.expose()));
    }
}
