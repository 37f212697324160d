//! Reading subject attributes by OID from a DER certificate.
//!
//! Attributes are read by OID from the DER structure, never from a formatted DN string: a comma in
//! `O=Yealink Network Technology Co., Ltd.` would break string parsing. Only the attributes a rule
//! asks for are decoded, so an odd encoding in an attribute we do not need cannot stop extraction.

use der::asn1::{PrintableStringRef, Utf8StringRef};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use crate::NoIdentity;

/// The X.520 attributes identity rules read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attribute {
    pub(crate) name: &'static str,
    pub(crate) oid: ObjectIdentifier,
}

pub(crate) const COMMON_NAME: Attribute =
    Attribute { name: "commonName", oid: ObjectIdentifier::new_unwrap("2.5.4.3") };

/// A certificate parsed far enough to read its subject and key.
pub(crate) struct ParsedCertificate {
    cert: Certificate,
}

impl ParsedCertificate {
    pub(crate) fn parse(der: &[u8]) -> Result<Self, NoIdentity> {
        let cert = Certificate::from_der(der).map_err(|e| NoIdentity::MalformedCertificate(e.to_string()))?;
        Ok(Self { cert })
    }

    /// The single value of `attribute` in the subject; none or several is an error.
    pub(crate) fn single_attribute(&self, attribute: Attribute) -> Result<String, NoIdentity> {
        let values: Vec<_> =
            self.cert.tbs_certificate().subject().iter().filter(|atv| atv.oid == attribute.oid).collect();
        match values.as_slice() {
            [] => Err(NoIdentity::MissingAttribute { attribute: attribute.name }),
            [one] => decode_string(&one.value)
                .map(str::to_owned)
                .ok_or(NoIdentity::UndecodableAttribute { attribute: attribute.name }),
            many => Err(NoIdentity::AmbiguousAttribute { attribute: attribute.name, count: many.len() }),
        }
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo.
    pub(crate) fn spki_sha256(&self) -> Result<[u8; 32], NoIdentity> {
        let spki = self
            .cert
            .tbs_certificate()
            .subject_public_key_info()
            .to_der()
            .map_err(|e| NoIdentity::MalformedCertificate(e.to_string()))?;
        Ok(Sha256::digest(&spki).into())
    }
}

/// The text of a PrintableString or UTF8String value; other string types are not used for MACs.
fn decode_string(value: &der::Any) -> Option<&str> {
    match value.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(value).ok().map(|s| s.as_str()),
        Tag::Utf8String => Utf8StringRef::try_from(value).ok().map(|s| s.as_str()),
        _ => None,
    }
}
