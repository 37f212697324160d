//! Why a certificate yielded no identity.

/// The reason a certificate names no device. Every variant means "no identity": sipprov then
/// treats the request like any other unauthorized one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoIdentity {
    /// The bytes are not a DER X.509 certificate.
    #[error("not a DER X.509 certificate: {0}")]
    MalformedCertificate(String),
    /// The subject has no attribute the rule reads.
    #[error("the subject has no {attribute} attribute")]
    MissingAttribute {
        /// The attribute's name, e.g. `commonName`.
        attribute: &'static str,
    },
    /// The subject has the attribute more than once, so the candidate MAC is ambiguous.
    #[error("the subject has {count} {attribute} attributes; exactly one is required")]
    AmbiguousAttribute {
        /// The attribute's name, e.g. `commonName`.
        attribute: &'static str,
        /// How many were found.
        count: usize,
    },
    /// The attribute is present but its value cannot be read as a string.
    #[error("the {attribute} attribute is not a printable or UTF-8 string")]
    UndecodableAttribute {
        /// The attribute's name, e.g. `commonName`.
        attribute: &'static str,
    },
    /// The attribute's value is not a MAC address.
    #[error("the {attribute} value {value:?} is not a MAC address")]
    NotAMac {
        /// The attribute's name, e.g. `commonName`.
        attribute: &'static str,
        /// The value found (truncated if long).
        value: String,
    },
}
