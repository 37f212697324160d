//! Reads who a SIP phone is from the factory certificate it presents.
//!
//! This crate is the root of sipprov's security: the MAC address it reads from a verified leaf
//! certificate is the only identity the server trusts. URLs, User-Agents and headers are hints.
//! It is pure and synchronous: it parses bytes it is handed and does no I/O.
//!
//! - [`Mac`] parses every common spelling of a MAC address into one canonical value.
//! - [`IdentityRule`] is a vendor's certificate layout (Polycom, Snom, Yealink, Cisco MIC,
//!   Cisco MPP, CN = MAC, or a configured [`AttributeRule`]);
//!   [`IdentityRule::identify`] reads a [`DeviceIdentity`] from a DER certificate or says
//!   precisely why there is none ([`NoIdentity`]). Attributes are read by OID from the DER,
//!   never from a formatted DN string.
//! - [`VendorTrust`] binds a vendor's CA bundle to its rule and allowed [`Oui`]s;
//!   [`TrustStore::identify`] verifies a presented chain and names the device.
//!
//! Strictness: exactly one candidate MAC or no identity. Two commonNames, two serialNumbers, a
//! value that is not exactly 12 hex digits after canonicalisation, or a vendor's generic
//! certificate (shared by many units) yield no identity.
//!
//! # Example
//!
//! ```
//! use sipprov_identity::{IdentityRule, Mac};
//!
//! // A Polycom-style device certificate (here made with rcgen; in the field it arrives in the
//! // TLS handshake and has been verified against the vendor's CA).
//! let key = rcgen::KeyPair::generate()?;
//! let mut params = rcgen::CertificateParams::default();
//! params.distinguished_name.push(rcgen::DnType::CommonName, "0004F28B54F4");
//! params.distinguished_name.push(rcgen::DnType::OrganizationName, "Polycom Inc.");
//! let cert = params.self_signed(&key)?;
//!
//! let identity = IdentityRule::Polycom.identify(cert.der())?;
//! assert_eq!(identity.mac, Mac::parse("00:04:f2:8b:54:f4")?);
//! assert_eq!(identity.vendor, "polycom");
//!
//! // The same certificate read with the Yealink rule names no device, and says why.
//! let err = IdentityRule::Yealink.identify(cert.der()).unwrap_err();
//! assert_eq!(err.to_string(), "the subject has no serialNumber attribute");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod attribute;
mod certificate;
mod device_identity;
mod error;
mod mac;
mod rules;
mod trust;

pub use attribute::Attribute;
pub use device_identity::DeviceIdentity;
pub use error::NoIdentity;
pub use mac::{Mac, MacParseError};
pub use rules::{AttributeRule, IdentityRule, PatternError, UnknownRule};
pub use trust::{AnchorError, Oui, OuiParseError, TrustStore, VendorTrust, VerifiedChain};

/// The serial number of `certificate` (DER) in lowercase hex, as `openssl x509 -serial` prints
/// it: for logs that name the certificate a client presented.
pub fn certificate_serial(certificate: &[u8]) -> Result<String, NoIdentity> {
    Ok(certificate::CertificateView::parse(certificate)?.serial_hex())
}

/// When `certificate` (DER) stops being valid, in seconds since the Unix epoch: for checks of a
/// server's own certificates before they expire.
pub fn certificate_not_after(certificate: &[u8]) -> Result<u64, NoIdentity> {
    certificate::CertificateView::parse(certificate)?.not_after()
}
