//! Why a certificate yielded no identity.

/// The reason a certificate names no device. Every variant means "no identity": sipprov then
/// treats the request like any other unauthorized one, and the reason goes to the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoIdentity {
    /// The bytes are not a DER X.509 certificate.
    #[error("not a DER X.509 certificate: {0}")]
    MalformedCertificate(String),
    /// The subject lacks the attribute the rule reads.
    #[error("the subject has no {attribute} attribute")]
    MissingAttribute {
        /// The attribute's name, e.g. `commonName`.
        attribute: String,
    },
    /// The subject has the attribute more than once, so the candidate is ambiguous.
    #[error("the subject has {count} {attribute} attributes; exactly one is required")]
    AmbiguousAttribute {
        /// The attribute's name.
        attribute: String,
        /// How many were found.
        count: usize,
    },
    /// The attribute is present but its value is not a string sipprov can read.
    #[error("the {attribute} attribute is not a readable string")]
    UndecodableAttribute {
        /// The attribute's name.
        attribute: String,
    },
    /// The attribute's value is not a MAC address (12 hex digits after canonicalisation).
    #[error("the {attribute} value {value:?} is not a MAC address")]
    NotAMac {
        /// The attribute's name.
        attribute: String,
        /// The value found (truncated if long).
        value: String,
    },
    /// The attribute's value does not have the shape the vendor's layout prescribes.
    #[error("the {attribute} value {value:?} is not {expected}")]
    UnexpectedShape {
        /// The attribute's name.
        attribute: String,
        /// The value found (truncated if long).
        value: String,
        /// What the rule expected, e.g. `a UUID ending in the MAC`.
        expected: &'static str,
    },
    /// Two attributes that must agree do not (e.g. Cisco's CN model and serialNumber PID).
    #[error("inconsistent subject: {0}")]
    Inconsistent(String),
    /// A generic certificate that the vendor puts on every unit without a unique one.
    #[error("generic {vendor} certificate shared by many devices ({detail}); it identifies no device")]
    GenericCertificate {
        /// The vendor whose generic certificate this is.
        vendor: &'static str,
        /// What marks it as generic.
        detail: &'static str,
    },
    /// The certificate does not chain to any configured trust anchor (or is expired, revoked,
    /// or uses an unsupported algorithm).
    #[error("certificate not trusted: {0}")]
    Untrusted(String),
    /// The certificate's keyUsage extension does not allow digitalSignature, the only use a
    /// client certificate's key is put to in a TLS handshake.
    #[error("the certificate's keyUsage does not allow digitalSignature: it is not a client certificate")]
    NotForClientAuthentication,
    /// The MAC's vendor prefix is not one the trust anchor may vouch for.
    #[error("MAC {mac} is outside the OUIs that trust anchor {anchor:?} may vouch for")]
    OuiNotAllowed {
        /// The MAC read from the certificate.
        mac: String,
        /// The trust anchor bundle that verified the certificate.
        anchor: String,
    },
}

/// Shortens hostile input for error messages.
pub(crate) fn excerpt(value: &str) -> String {
    value.chars().take(64).collect()
}

/// What [`NoIdentity::Untrusted`] says of an expired certificate.
pub(crate) const EXPIRED: &str = "the certificate has expired";
/// What [`NoIdentity::Untrusted`] says of a revoked certificate.
pub(crate) const REVOKED: &str = "the certificate is revoked";

impl NoIdentity {
    /// Why a certificate was refused in a TLS handshake, in a word for metrics: `expired`,
    /// `revoked`, or `untrusted` for every other reason.
    pub fn handshake_reason(&self) -> &'static str {
        match self {
            NoIdentity::Untrusted(why) if why == EXPIRED => "expired",
            NoIdentity::Untrusted(why) if why == REVOKED => "revoked",
            _ => "untrusted",
        }
    }
}
