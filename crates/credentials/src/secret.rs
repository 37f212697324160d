//! Secret values: generated from the OS RNG, redacted in logs, wiped from memory on drop.

use std::fmt;

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Alphanumeric only: every vendor format (key=value, XML, URL-ish fields) carries it unescaped.
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// 22 symbols of 62 = 131 bits of entropy, above the 128 the threat model asks for.
const GENERATED_LENGTH: usize = 22;

/// A password: a phone's SIP digest password or its web-UI admin password.
///
/// Its `Debug` and `Display` print `[redacted]`; read it only with [`Password::expose`], at the
/// point where it is written into a config file or sealed for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Generates a fresh random password from the operating system's RNG: 22 alphanumerics,
    /// 131 bits, safe in every vendor's config format without escaping.
    pub fn generate() -> Result<Self, SecretError> {
        let mut password = Zeroizing::new(String::with_capacity(GENERATED_LENGTH));
        let mut bytes = Zeroizing::new([0u8; 64]);
        while password.len() < GENERATED_LENGTH {
            random(&mut bytes[..])?;
            // Rejection sampling: 248 = 4 * 62, so accepted bytes map uniformly onto the alphabet.
            for &b in bytes.iter().filter(|&&b| b < 248) {
                if password.len() == GENERATED_LENGTH {
                    break;
                }
                password.push(char::from(ALPHABET[usize::from(b % 62)]));
            }
        }
        Ok(Self(password))
    }

    /// Wraps an existing password (one an operator supplied, or one just unsealed).
    pub fn from_string(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password itself. Every call site is a place a secret leaves this type: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A single-use bearer token (256 bits, base64url), e.g. for a one-time reveal link.
///
/// Only its SHA-256 [`OneTimeToken::hash`] is ever stored; the token itself is shown once.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeToken(Zeroizing<String>);

impl OneTimeToken {
    /// Generates a fresh token from the operating system's RNG.
    pub fn generate() -> Result<Self, SecretError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random(&mut bytes[..])?;
        Ok(Self(Zeroizing::new(base64url(&bytes[..]))))
    }

    /// The token, to hand to its holder once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash under which the token is stored and looked up.
    pub fn hash(&self) -> [u8; 32] {
        Self::hash_of(&self.0)
    }

    /// The hash of a token presented by a client.
    pub fn hash_of(presented: &str) -> [u8; 32] {
        Sha256::digest(presented.as_bytes()).into()
    }
}

impl fmt::Debug for OneTimeToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeToken([redacted])")
    }
}

pub(crate) fn random(buffer: &mut [u8]) -> Result<(), SecretError> {
    getrandom::fill(buffer).map_err(|e| SecretError::Rng(e.to_string()))
}

/// URL-safe base64 without padding: a token fits in a URL or a header as it is.
fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A secret could not be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The operating system's random number generator failed.
    #[error("the operating system RNG failed: {0}")]
    Rng(String),
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn generated_passwords_are_long_alphanumeric_and_distinct() {
        let passwords: HashSet<String> = (0..1000).map(|_| Password::generate().unwrap().expose().to_owned()).collect();
        assert_eq!(passwords.len(), 1000);
        for p in &passwords {
            assert_eq!(p.len(), GENERATED_LENGTH);
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()), "{p}");
        }
    }

    #[test]
    fn every_symbol_of_the_alphabet_occurs() {
        let seen: HashSet<char> =
            (0..200).flat_map(|_| Password::generate().unwrap().expose().chars().collect::<Vec<_>>()).collect();
        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let p = Password::from_string("hunter2hunter2".into());
        assert_eq!(format!("{p:?}"), "Password([redacted])");
        assert_eq!(format!("{p}"), "[redacted]");
        assert_eq!(p.expose(), "hunter2hunter2");
        let token = OneTimeToken::generate().unwrap();
        assert_eq!(format!("{token:?}"), "OneTimeToken([redacted])");
    }

    #[test]
    fn tokens_are_256_bit_base64url_and_hash_to_their_lookup_key() {
        let token = OneTimeToken::generate().unwrap();
        assert_eq!(token.expose().len(), 43);
        assert!(token.expose().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(token.hash(), OneTimeToken::hash_of(token.expose()));
        assert_ne!(OneTimeToken::generate().unwrap().hash(), token.hash());
    }

    #[test]
    fn base64url_matches_known_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
