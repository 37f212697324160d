//! Secret values: generated from the OS RNG, redacted in logs, wiped from memory on drop.

use std::fmt;

use zeroize::Zeroizing;

/// Alphanumeric only: every vendor format (key=value, XML, URL-ish fields) carries it unescaped.
const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/// 22 symbols of 62 = 131 bits of entropy, above the 128 the threat model asks for.
const GENERATED_LENGTH: usize = 22;

/// A SIP digest password.
///
/// Its `Debug` and `Display` print `[redacted]`; read it only with [`SipPassword::expose`], at the
/// point where it is written into a config file or a sealed store.
#[derive(Clone, PartialEq, Eq)]
pub struct SipPassword(Zeroizing<String>);

impl SipPassword {
    /// Generates a fresh random password from the operating system's RNG.
    pub fn generate() -> Result<Self, SecretError> {
        let mut password = Zeroizing::new(String::with_capacity(GENERATED_LENGTH));
        let mut bytes = Zeroizing::new([0u8; 64]);
        while password.len() < GENERATED_LENGTH {
            getrandom::fill(&mut bytes[..]).map_err(|e| SecretError::Rng(e.to_string()))?;
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

    /// Wraps an existing password (e.g. read back from the store).
    pub fn from_string(password: String) -> Self {
        Self(Zeroizing::new(password))
    }

    /// The password itself. Every call site is a place a secret leaves this type: keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SipPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SipPassword([redacted])")
    }
}

impl fmt::Display for SipPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
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
        let passwords: HashSet<String> =
            (0..1000).map(|_| SipPassword::generate().unwrap().expose().to_owned()).collect();
        assert_eq!(passwords.len(), 1000);
        for p in &passwords {
            assert_eq!(p.len(), GENERATED_LENGTH);
            assert!(p.bytes().all(|b| b.is_ascii_alphanumeric()), "{p}");
        }
    }

    #[test]
    fn every_symbol_of_the_alphabet_occurs() {
        let seen: HashSet<char> =
            (0..200).flat_map(|_| SipPassword::generate().unwrap().expose().chars().collect::<Vec<_>>()).collect();
        assert_eq!(seen.len(), ALPHABET.len());
    }

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let p = SipPassword::from_string("hunter2hunter2".into());
        assert_eq!(format!("{p:?}"), "SipPassword([redacted])");
        assert_eq!(format!("{p}"), "[redacted]");
        assert_eq!(p.expose(), "hunter2hunter2");
    }
}
