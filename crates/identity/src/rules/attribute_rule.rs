//! `attribute`: a rule an operator configures for a vendor sipprov does not know.

use super::found::Found;
use crate::attribute::Attribute;
use crate::certificate::CertificateView;
use crate::error::excerpt;
use crate::{Mac, NoIdentity};

/// Values longer than this are refused before matching: no real subject attribute is this long.
const MAX_VALUE_LEN: usize = 256;

/// Reads the MAC from one subject attribute whose value matches a pattern.
///
/// The pattern holds `{mac}` exactly once, standing for 12 hex digits; `*` matches any run of
/// characters; everything else matches itself. The value must match in exactly one way (one MAC).
///
/// ```
/// use sipprov_identity::AttributeRule;
///
/// // A vendor writing `serialNumber=ACME-<MAC>-01`:
/// let rule = AttributeRule::new("acme", "serialNumber", "ACME-{mac}-*")?;
/// assert_eq!(rule.attribute().oid(), "2.5.4.5");
/// # Ok::<(), sipprov_identity::PatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeRule {
    vendor: String,
    attribute: Attribute,
    prefix: String,
    suffix: String,
}

impl AttributeRule {
    /// A rule for `vendor` reading `attribute` (dotted OID or `CN`, `serialNumber`, `ST`, `L`, `O`,
    /// `OU`) with `pattern`.
    pub fn new(vendor: &str, attribute: &str, pattern: &str) -> Result<Self, PatternError> {
        let attribute = Attribute::parse(attribute).ok_or_else(|| PatternError::Attribute(excerpt(attribute)))?;
        let (prefix, suffix) = pattern.split_once("{mac}").ok_or(PatternError::NoMacPlaceholder)?;
        if suffix.contains("{mac}") {
            return Err(PatternError::SeveralMacPlaceholders);
        }
        if vendor.is_empty() {
            return Err(PatternError::NoVendor);
        }
        Ok(Self { vendor: vendor.to_owned(), attribute, prefix: prefix.to_owned(), suffix: suffix.to_owned() })
    }

    /// The vendor name reported in identities.
    pub fn vendor(&self) -> &str {
        &self.vendor
    }

    /// The attribute read.
    pub fn attribute(&self) -> &Attribute {
        &self.attribute
    }

    pub(super) fn identify(&self, cert: &CertificateView<'_>) -> Result<Found, NoIdentity> {
        let value = cert.single(&self.attribute)?;
        let not_a_mac = || NoIdentity::NotAMac { attribute: self.attribute.name.clone(), value: excerpt(&value) };
        if value.len() > MAX_VALUE_LEN || !value.is_ascii() {
            return Err(not_a_mac());
        }
        let mut macs: Vec<Mac> = (0..=value.len().saturating_sub(12))
            .filter(|&at| value.len() >= at + 12)
            .filter(|&at| glob(&self.prefix, &value[..at]) && glob(&self.suffix, &value[at + 12..]))
            .filter_map(|at| Mac::parse(&value[at..at + 12]).ok())
            .collect();
        macs.dedup();
        match macs.as_slice() {
            [mac] => Ok(Found::mac(*mac)),
            [] => Err(not_a_mac()),
            _ => Err(NoIdentity::Inconsistent(format!(
                "the {} value {:?} matches the pattern with {} different MACs",
                self.attribute.name,
                excerpt(&value),
                macs.len()
            ))),
        }
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (ASCII only).
fn glob(pattern: &str, text: &str) -> bool {
    let (pattern, text) = (pattern.as_bytes(), text.as_bytes());
    // matches[j]: pattern[..i] matches text[..j], row by row over i. O(len(pattern) * len(text)).
    let mut matches = vec![false; text.len() + 1];
    matches[0] = true;
    for &p in pattern {
        let mut next = vec![false; text.len() + 1];
        if p == b'*' {
            next[0] = matches[0];
            for j in 1..=text.len() {
                next[j] = matches[j] || next[j - 1];
            }
        } else {
            for j in 1..=text.len() {
                next[j] = matches[j - 1] && text[j - 1] == p;
            }
        }
        matches = next;
    }
    matches[text.len()]
}

/// A custom rule's definition is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The attribute is neither a dotted OID nor a known short name.
    #[error("{0:?} is not an attribute OID or a known name (CN, serialNumber, ST, L, O, OU)")]
    Attribute(String),
    /// The pattern has no `{mac}`.
    #[error("the pattern must contain {{mac}} once")]
    NoMacPlaceholder,
    /// The pattern has `{mac}` more than once.
    #[error("the pattern contains {{mac}} more than once")]
    SeveralMacPlaceholders,
    /// The rule names no vendor.
    #[error("a custom rule needs a vendor name")]
    NoVendor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_literals_and_runs() {
        assert!(glob("", ""));
        assert!(glob("*", "anything"));
        assert!(glob("SEP", "SEP"));
        assert!(!glob("SEP", "sep"));
        assert!(glob("*-SEP", "CP-8861-SEP"));
        assert!(glob("a*b*c", "a-x-b-y-c"));
        assert!(!glob("a*b", "a-x-c"));
        assert!(!glob("", "x"));
    }

    #[test]
    fn patterns_need_exactly_one_placeholder_and_a_known_attribute() {
        assert_eq!(AttributeRule::new("v", "CN", "no placeholder"), Err(PatternError::NoMacPlaceholder));
        assert_eq!(AttributeRule::new("v", "CN", "{mac}{mac}"), Err(PatternError::SeveralMacPlaceholders));
        assert_eq!(AttributeRule::new("v", "nonsense", "{mac}"), Err(PatternError::Attribute("nonsense".into())));
        assert_eq!(AttributeRule::new("", "CN", "{mac}"), Err(PatternError::NoVendor));
        assert!(AttributeRule::new("v", "1.3.6.1.4.1.99999.7", "x-{mac}").is_ok());
    }
}
