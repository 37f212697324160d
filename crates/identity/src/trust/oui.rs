//! `Oui`: a vendor's MAC prefix.

use std::fmt;
use std::str::FromStr;

use crate::Mac;

/// An organisationally unique identifier: the first three bytes of a MAC, naming its vendor.
///
/// ```
/// use sipprov_identity::{Mac, Oui};
///
/// let yealink: Oui = "00:15:65".parse()?;
/// assert_eq!(Oui::of(&"001565aabbcc".parse::<Mac>()?), yealink);
/// assert_eq!(yealink.to_string(), "00:15:65");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Oui([u8; 3]);

impl Oui {
    /// The OUI of `mac`.
    pub fn of(mac: &Mac) -> Self {
        Self(mac.oui())
    }
}

impl FromStr for Oui {
    type Err = OuiParseError;

    /// Parses `00:15:65`, `00-15-65` or `001565` (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex: String = match s.len() {
            6 => s.to_owned(),
            8 if s.as_bytes()[2] == s.as_bytes()[5] && matches!(s.as_bytes()[2], b':' | b'-') => {
                s.split(char::from(s.as_bytes()[2])).collect()
            }
            _ => return Err(OuiParseError(crate::error::excerpt(s))),
        };
        // Reuse the MAC parser for the hex digits: an OUI is a MAC's first half.
        let mac = Mac::parse(&format!("{hex}000000")).map_err(|_| OuiParseError(crate::error::excerpt(s)))?;
        Ok(Self(mac.oui()))
    }
}

impl fmt::Display for Oui {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}:{:02x}", self.0[0], self.0[1], self.0[2])
    }
}

/// A string that is not an OUI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an OUI (expected e.g. 00:15:65)")]
pub struct OuiParseError(String);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let expected = Oui([0x80, 0x5e, 0xc0]);
        for s in ["80:5e:c0", "80-5E-C0", "805EC0", "805ec0"] {
            assert_eq!(s.parse::<Oui>(), Ok(expected), "{s}");
        }
        for s in ["", "80:5e", "80:5e-c0", "80:5e:c0:00", "zz:5e:c0", "8 5ec0"] {
            assert!(s.parse::<Oui>().is_err(), "{s}");
        }
    }
}
