//! End users of the softphone portal: who may see which softphone's SIP password, once.
//!
//! The operator creates a user with the softphone accounts (devices) it may see; creation
//! returns an activation token (shown once, stored as its SHA-256) on which the user chooses a
//! password, kept only as an argon2id hash. A user is one store document
//! (`portal-user:<name>`, JSON), listed in the index document `portal-users`; both are changed
//! by compare-and-swap, so every node sees the same users, lockouts and reveal times.

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use serde::{Deserialize, Serialize};
use sipprov_identity::Mac;

use crate::{OneTimeToken, SecretError, Timestamp};

/// A portal user as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortalUser {
    /// The login name: 1 to 64 of `a-z 0-9 . _ @ -`.
    pub name: String,
    /// Where the operator reaches the user (never used to send a secret).
    pub email: String,
    /// The softphones (inventory MACs) whose accounts the user may reveal and link.
    #[serde(with = "macs")]
    pub devices: Vec<Mac>,
    /// The argon2id hash of the password (PHC string); `None` until activated.
    pub password_hash: Option<String>,
    /// The pending activation, until the user sets a password.
    pub activation: Option<Activation>,
    /// Failed logins since the last good one.
    pub failed_logins: u32,
    /// Logins are refused until then (Unix seconds), after too many failures.
    pub locked_until: Option<i64>,
    /// When each device's password was revealed to this user (MAC -> Unix seconds).
    pub revealed: BTreeMap<String, i64>,
    /// When the operator created the user (Unix seconds).
    pub created_at: i64,
    /// The second factor, once the user set one up.
    #[serde(default)]
    pub totp: Option<TotpKey>,
}

/// A user's TOTP key (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps), sealed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpKey {
    /// The base32 key, sealed for the user's name, hex.
    pub sealed: String,
    /// Whether the user proved a code from it: only then does login ask for one.
    pub confirmed: bool,
    /// The last time step a code was accepted for: no code is accepted twice.
    pub last_step: u64,
}

/// A pending activation: the token's hash and its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Activation {
    /// SHA-256 of the token, hex.
    pub hash: String,
    /// The token may not be used at or after this time (Unix seconds).
    pub expires_at: i64,
}

/// How many failed logins in a row lock an account.
pub const LOCKOUT_FAILURES: u32 = 5;

/// How long a locked account stays locked.
pub const LOCKOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The shortest password a user may choose, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// The longest password accepted, in bytes (argon2 hashes any length; this bounds the work).
pub(crate) const MAX_PASSWORD_BYTES: usize = 256;

impl PortalUser {
    /// Whether the account is locked at `now`.
    pub fn locked_at(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now.unix() < until)
    }

    /// Whether `device` is one of the user's softphones.
    pub fn has_device(&self, device: &Mac) -> bool {
        self.devices.contains(device)
    }

    /// Whether logging in takes a TOTP code after the password.
    pub fn has_second_factor(&self) -> bool {
        self.totp.as_ref().is_some_and(|totp| totp.confirmed)
    }

    /// When `device`'s password was revealed to this user, if it was.
    pub fn revealed_at(&self, device: &Mac) -> Option<Timestamp> {
        self.revealed.get(&device.to_string()).map(|at| Timestamp::from_unix(*at))
    }
}

/// Checks a login name: 1 to 64 of `a-z 0-9 . _ @ -`, starting with a letter or digit.
pub fn check_user_name(name: &str) -> Result<(), String> {
    let fits = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'@' | b'-');
    if name.is_empty() || name.len() > 64 || !name.bytes().all(fits) || !name.as_bytes()[0].is_ascii_alphanumeric() {
        return Err(format!(
            "user name {name:?} must be 1 to 64 of a-z, 0-9, '.', '_', '@', '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Checks an e-mail address loosely: one `@` with text on both sides, printable, at most 254 bytes.
pub fn check_email(email: &str) -> Result<(), String> {
    let parts: Vec<&str> = email.split('@').collect();
    let printable = email.chars().all(|c| !c.is_control() && !c.is_whitespace());
    if email.len() > 254 || !printable || parts.len() != 2 || parts.iter().any(|part| part.is_empty()) {
        return Err(format!("e-mail address {email:?} is not an address (one '@', no spaces, at most 254 bytes)"));
    }
    Ok(())
}

/// Checks a password a user chose: at least [`MIN_PASSWORD_CHARS`] characters, at most
/// 256 bytes, not the user's name, not one of the most common passwords.
pub fn check_new_password(name: &str, password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("the password must have at least {MIN_PASSWORD_CHARS} characters"));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("the password must have at most {MAX_PASSWORD_BYTES} bytes"));
    }
    let lower = password.to_lowercase();
    if lower.contains(name) {
        return Err("the password must not contain the user name".into());
    }
    if COMMON_PASSWORDS.iter().any(|common| lower == *common || lower.trim_end_matches(char::is_numeric) == *common) {
        return Err("this password is one of the most common ones: choose another".into());
    }
    Ok(())
}

/// Passwords of 12 characters or more found at the top of public breach lists, lowercase; a
/// password equal to one, or one followed by digits, is refused.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "qwertyuiopas",
    "qwertyuiop12",
    "qwertyuiop",
    "password",
    "passwordpassword",
    "password1234",
    "iloveyouiloveyou",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "zaq12wsxcde3",
    "abcdefghijkl",
    "abc123abc123",
    "aaaaaaaaaaaa",
    "111111111111",
    "000000000000",
    "123123123123",
    "123412341234",
    "letmeinletmein",
    "welcomewelcome",
    "welcome",
    "changeme",
    "changemenow",
    "sunshine",
    "football",
    "baseball",
    "starwars",
    "princess",
    "dragon",
    "monkey",
    "trustno1",
    "superman",
    "michael",
    "liverpool",
    "chelsea",
    "arsenal",
    "manchester",
    "qazwsxedcrfv",
    "asdfghjklqwe",
    "asdfghjkl",
    "zxcvbnm",
    "administrator",
    "softphone",
    "voicemail",
];

/// Hashes a password with argon2id (a fresh 16-byte salt) into a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, SecretError> {
    let mut salt = [0u8; 16];
    crate::secret::random(&mut salt)?;
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| SecretError::Rng(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `hash`. An unreadable hash matches nothing.
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    argon2::Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A hash no password matches, verified for unknown users so their logins cost the same time.
pub(crate) fn stand_in_hash() -> &'static str {
    static STAND_IN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    STAND_IN.get_or_init(|| {
        let mut secret = [0u8; 32];
        let _ = crate::secret::random(&mut secret);
        hash_password(&hex::encode(secret)).unwrap_or_default()
    })
}

/// A new activation for a user: the token to show once, and what is stored.
pub(crate) fn new_activation(expires_at: Timestamp) -> Result<(OneTimeToken, Activation), SecretError> {
    let token = OneTimeToken::generate()?;
    let activation = Activation { hash: hex::encode(token.hash()), expires_at: expires_at.unix() };
    Ok((token, activation))
}

/// MACs as their canonical strings in JSON.
mod macs {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use sipprov_identity::Mac;

    pub(super) fn serialize<S: Serializer>(macs: &[Mac], serializer: S) -> Result<S::Ok, S::Error> {
        macs.iter().map(ToString::to_string).collect::<Vec<_>>().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Mac>, D::Error> {
        let strings = Vec::<String>::deserialize(deserializer)?;
        strings.iter().map(|s| s.parse::<Mac>().map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_with_argon2id_and_verified() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batterY", &hash));
        assert!(!verify_password("anything", "not a hash"));
        assert_ne!(hash, hash_password("correct horse battery").unwrap(), "each hash has its own salt");
        assert!(!verify_password("", stand_in_hash()));
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        assert!(check_new_password("alice", "short").unwrap_err().contains("at least 12"));
        assert!(check_new_password("alice", "Password1234").unwrap_err().contains("common"));
        assert!(check_new_password("alice", "qwertyuiop1234").unwrap_err().contains("common"));
        assert!(check_new_password("alice", "alice-is-my-name").unwrap_err().contains("user name"));
        assert!(check_new_password("alice", &"x".repeat(300)).unwrap_err().contains("at most"));
        assert!(check_new_password("alice", "violet tractor mountain").is_ok());
    }

    #[test]
    fn names_and_addresses_are_checked() {
        for good in ["alice", "a.b-c_d@example", "42"] {
            assert!(check_user_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Alice", "-x", "a b", "a/b", &"a".repeat(65)] {
            assert!(check_user_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_email("alice@example.net").is_ok());
        for bad in ["alice", "@x", "a@", "a b@x", "a@b@c", "a\n@b"] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_user_reads_back_as_written() {
        let user = PortalUser {
            name: "alice".into(),
            email: "alice@example.net".into(),
            devices: vec!["020000000001".parse().unwrap()],
            password_hash: None,
            activation: Some(Activation { hash: "ab".into(), expires_at: 7 }),
            failed_logins: 2,
            locked_until: Some(9),
            revealed: BTreeMap::from([("020000000001".into(), 5)]),
            created_at: 1,
            totp: Some(TotpKey { sealed: "00".into(), confirmed: false, last_step: 3 }),
        };
        let json = serde_json::to_string(&user).unwrap();
        assert!(json.contains(r#""devices":["020000000001"]"#), "{json}");
        assert_eq!(serde_json::from_str::<PortalUser>(&json).unwrap(), user);
        assert!(user.locked_at(Timestamp::from_unix(8)) && !user.locked_at(Timestamp::from_unix(9)));
        assert_eq!(user.revealed_at(&user.devices[0]), Some(Timestamp::from_unix(5)));
    }
}
