//! Reads who a SIP phone is from the factory certificate it presents.
//!
//! This crate is the root of sipprov's security: the MAC address it reads from a verified leaf
//! certificate is the only identity the server trusts. URLs, User-Agents and headers are hints.
//! It is pure and synchronous: it parses DER bytes it is handed and does no I/O.
//!
//! - [`Mac`] parses every common spelling of a MAC address into one canonical value.
//! - [`IdentityRule`] is a certificate layout; [`IdentityRule::identify`] reads a
//!   [`DeviceIdentity`] from a DER certificate or says precisely why there is none ([`NoIdentity`]).
//!
//! # Example
//!
//! ```
//! use sipprov_identity::{IdentityRule, Mac};
//!
//! // A device certificate whose commonName is the MAC (here made with rcgen; in the field it
//! // arrives in the TLS handshake and has been verified against the vendor's CA).
//! let key = rcgen::KeyPair::generate()?;
//! let mut params = rcgen::CertificateParams::default();
//! params.distinguished_name.push(rcgen::DnType::CommonName, "0015651A2B3C");
//! let cert = params.self_signed(&key)?;
//!
//! let identity = IdentityRule::CnMac.identify(cert.der())?;
//! assert_eq!(identity.mac, Mac::parse("00:15:65:1a:2b:3c")?);
//! assert_eq!(identity.mac.to_string(), "0015651a2b3c");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod device_identity;
mod error;
mod mac;
pub mod rules;

pub use device_identity::DeviceIdentity;
pub use error::NoIdentity;
pub use mac::{Mac, MacParseError};
pub use rules::IdentityRule;
