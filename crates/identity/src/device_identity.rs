//! `DeviceIdentity`: what sipprov knows about a phone once its certificate has been read.

use crate::Mac;

/// Who a phone is, read from the leaf certificate it presented in the TLS handshake.
///
/// This is the only source of identity sipprov trusts: URLs, query strings, User-Agents and
/// headers are hints at most.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceIdentity {
    /// The phone's MAC address, canonical.
    pub mac: Mac,
    /// The vendor whose certificate layout yielded the MAC (the rule's vendor, e.g. `"generic"`).
    pub vendor: String,
    /// The device serial number, where the certificate carries one.
    pub serial: Option<String>,
    /// The device model, where the certificate carries one.
    pub model: Option<String>,
    /// SHA-256 of the certificate's DER `SubjectPublicKeyInfo`: the fingerprint sipprov pins on
    /// first delivery, so a second certificate for the same MAC with another key is noticed.
    pub spki_sha256: [u8; 32],
}

impl DeviceIdentity {
    /// The identity of a phone authenticated otherwise than by a certificate (an enrolment
    /// secret): its MAC, and the vendor and model the inventory gives. It presents no key:
    /// `spki_sha256` is all zeros, and nothing pins or compares it.
    pub fn without_certificate(mac: Mac, vendor: impl Into<String>, model: Option<String>) -> Self {
        Self { mac, vendor: vendor.into(), serial: None, model, spki_sha256: [0; 32] }
    }

    /// The SPKI fingerprint as 64 lowercase hex digits.
    pub fn spki_sha256_hex(&self) -> String {
        hex::encode(self.spki_sha256)
    }
}
