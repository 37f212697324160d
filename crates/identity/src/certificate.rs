//! A certificate read just far enough to name its device: subject attributes and public key.
//!
//! This is deliberately not a full X.509 parser. It walks the DER structure to the subject and
//! the SubjectPublicKeyInfo and keeps attribute values as raw bytes, decoding only the ones a
//! rule asks for. So an attribute sipprov does not need (a Latin-1 TeletexString organisation, a
//! PrintableString with a character the standard forbids) cannot stop extraction of the one it
//! does need, and an odd validity encoding (fractional seconds) is not our concern here: the
//! TLS layer has already verified the chain.

use der::asn1::{AnyRef, GeneralizedTime, UtcTime};
use der::oid::ObjectIdentifier;
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use sha2::{Digest, Sha256};

use crate::NoIdentity;
use crate::attribute::{Attribute, decode_text};

/// One `AttributeTypeAndValue` of the subject, value undecoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubjectAttribute<'a> {
    pub(crate) oid: ObjectIdentifier,
    pub(crate) tag: Tag,
    pub(crate) value: &'a [u8],
}

/// The parts of a DER certificate that identity rules read.
#[derive(Debug)]
pub(crate) struct CertificateView<'a> {
    subject: Vec<SubjectAttribute<'a>>,
    spki: &'a [u8],
    /// The keyUsage extension's bits (DER BIT STRING contents, unused-bits byte first), if the
    /// certificate has one.
    key_usage: Option<&'a [u8]>,
    /// The basicConstraints extension's `cA`, if the certificate has the extension.
    ca: Option<bool>,
    /// The validity SEQUENCE's contents (notBefore, notAfter), read only when asked for.
    validity: &'a [u8],
    /// The serialNumber INTEGER's content octets.
    serial: &'a [u8],
}

/// `id-ce-keyUsage`.
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
/// `id-ce-basicConstraints`.
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

impl<'a> CertificateView<'a> {
    /// Walks `Certificate -> TBSCertificate -> subject, subjectPublicKeyInfo`.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, NoIdentity> {
        let malformed = |what: &str| NoIdentity::MalformedCertificate(what.to_owned());
        let certificate = AnyRef::from_der(der).map_err(|e| malformed(&format!("outer structure: {e}")))?;
        expect_tag(certificate, Tag::Sequence, "certificate")?;
        let mut outer = reader(certificate.value())?;
        let tbs: AnyRef<'a> = outer.decode().map_err(|e| malformed(&format!("TBSCertificate: {e}")))?;
        expect_tag(tbs, Tag::Sequence, "TBSCertificate")?;

        let mut fields = reader(tbs.value())?;
        let mut next = |name: &str| -> Result<AnyRef<'a>, NoIdentity> {
            fields.decode().map_err(|e| malformed(&format!("TBSCertificate {name}: {e}")))
        };
        let mut serial = next("version or serialNumber")?;
        if serial.tag() == (Tag::ContextSpecific { constructed: true, number: TagNumber(0) }) {
            serial = next("serialNumber")?;
        }
        expect_tag(serial, Tag::Integer, "serialNumber")?;
        expect_tag(next("signature")?, Tag::Sequence, "signature algorithm")?;
        expect_tag(next("issuer")?, Tag::Sequence, "issuer")?;
        let validity = next("validity")?;
        expect_tag(validity, Tag::Sequence, "validity")?;
        let subject = next("subject")?;
        expect_tag(subject, Tag::Sequence, "subject")?;
        let spki = fields.tlv_bytes().map_err(|e| malformed(&format!("subjectPublicKeyInfo: {e}")))?;
        if spki.first() != Some(&0x30) {
            return Err(malformed("subjectPublicKeyInfo is not a SEQUENCE"));
        }
        let (mut key_usage, mut ca) = (None, None);
        while !fields.is_finished() {
            let field: AnyRef<'a> = fields.decode().map_err(|e| malformed(&format!("TBSCertificate: {e}")))?;
            if field.tag() == (Tag::ContextSpecific { constructed: true, number: TagNumber(3) }) {
                (key_usage, ca) = read_extensions(field.value())?;
            }
        }
        let (subject, validity, serial) = (parse_name(subject.value())?, validity.value(), serial.value());
        Ok(Self { subject, spki, key_usage, ca, validity, serial })
    }

    /// The serial number as lowercase hex, as `openssl x509 -serial` prints it (without the
    /// sign octet DER adds before a high bit).
    pub(crate) fn serial_hex(&self) -> String {
        let octets = match self.serial {
            [0, rest @ ..] if !rest.is_empty() => rest,
            octets => octets,
        };
        hex::encode(octets)
    }

    /// Whether basicConstraints says it is a CA: `Some(false)` for a certificate that declares
    /// itself an end entity, `None` without the extension (a v1 root has none).
    pub(crate) fn is_ca(&self) -> Option<bool> {
        self.ca
    }

    /// The end of its validity period, in seconds since the Unix epoch. Read only here (an odd
    /// encoding, such as fractional seconds, stops nothing else).
    pub(crate) fn not_after(&self) -> Result<u64, NoIdentity> {
        let malformed = |e: der::Error| NoIdentity::MalformedCertificate(format!("validity: {e}"));
        let mut times = reader(self.validity)?;
        let _not_before: AnyRef<'_> = times.decode().map_err(malformed)?;
        let not_after = times.tlv_bytes().map_err(malformed)?;
        let duration = match not_after.first() {
            Some(0x17) => UtcTime::from_der(not_after).map_err(malformed)?.to_unix_duration(),
            _ => GeneralizedTime::from_der(not_after).map_err(malformed)?.to_unix_duration(),
        };
        Ok(duration.as_secs())
    }

    /// Whether the key may make the signature that proves possession in a TLS handshake: true
    /// without a keyUsage extension (every use allowed), else whether it has digitalSignature.
    pub(crate) fn allows_digital_signature(&self) -> bool {
        match self.key_usage {
            None => true,
            // The first byte counts the unused bits; digitalSignature is the first named bit.
            Some(bits) => bits.get(1).is_some_and(|first| first & 0x80 != 0),
        }
    }

    /// Every subject value of `attribute`, undecoded, in certificate order.
    fn values(&self, attribute: &Attribute) -> Vec<&SubjectAttribute<'a>> {
        self.subject.iter().filter(|a| a.oid == attribute.oid).collect()
    }

    /// The one value of `attribute`, as text. None, several, or an undecodable value is an error.
    pub(crate) fn single(&self, attribute: &Attribute) -> Result<String, NoIdentity> {
        self.optional(attribute)?.ok_or_else(|| NoIdentity::MissingAttribute { attribute: attribute.name.clone() })
    }

    /// The value of `attribute` as text if it occurs once, `None` if it does not occur.
    /// Several values, or an undecodable one, is an error: the rule cannot know which is meant.
    pub(crate) fn optional(&self, attribute: &Attribute) -> Result<Option<String>, NoIdentity> {
        match self.values(attribute).as_slice() {
            [] => Ok(None),
            [one] => decode_text(one.tag, one.value)
                .map(Some)
                .ok_or_else(|| NoIdentity::UndecodableAttribute { attribute: attribute.name.clone() }),
            many => Err(NoIdentity::AmbiguousAttribute { attribute: attribute.name.clone(), count: many.len() }),
        }
    }

    /// The DER SubjectPublicKeyInfo (tag, length and contents).
    pub(crate) fn spki(&self) -> &'a [u8] {
        self.spki
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: the key fingerprint sipprov pins.
    pub(crate) fn spki_sha256(&self) -> [u8; 32] {
        Sha256::digest(self.spki).into()
    }
}

/// `[3] EXPLICIT Extensions`, `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE,
/// extnValue OCTET STRING }`: the keyUsage BIT STRING's contents and basicConstraints' `cA`,
/// each if present.
fn read_extensions(explicit: &[u8]) -> Result<(Option<&[u8]>, Option<bool>), NoIdentity> {
    let malformed = |e: der::Error| NoIdentity::MalformedCertificate(format!("extensions: {e}"));
    let extensions: AnyRef<'_> = reader(explicit)?.decode().map_err(malformed)?;
    expect_tag(extensions, Tag::Sequence, "extensions")?;
    let mut list = reader(extensions.value())?;
    let (mut key_usage, mut ca) = (None, None);
    while !list.is_finished() {
        let extension: AnyRef<'_> = list.decode().map_err(malformed)?;
        expect_tag(extension, Tag::Sequence, "extension")?;
        let mut parts = reader(extension.value())?;
        let oid: ObjectIdentifier = parts.decode().map_err(malformed)?;
        let mut value: AnyRef<'_> = parts.decode().map_err(malformed)?;
        if value.tag() == Tag::Boolean {
            value = parts.decode().map_err(malformed)?;
        }
        expect_tag(value, Tag::OctetString, "extension value")?;
        if oid == KEY_USAGE {
            let bits: AnyRef<'_> = reader(value.value())?.decode().map_err(malformed)?;
            expect_tag(bits, Tag::BitString, "keyUsage")?;
            key_usage = Some(bits.value());
        }
        if oid == BASIC_CONSTRAINTS {
            // `BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint ... }`
            let constraints: AnyRef<'_> = reader(value.value())?.decode().map_err(malformed)?;
            expect_tag(constraints, Tag::Sequence, "basicConstraints")?;
            let mut inner = reader(constraints.value())?;
            let first: Option<AnyRef<'_>> =
                (!inner.is_finished()).then(|| inner.decode()).transpose().map_err(malformed)?;
            ca = Some(first.is_some_and(|first| first.tag() == Tag::Boolean && first.value() == [0xff]));
        }
    }
    Ok((key_usage, ca))
}

/// `Name ::= SEQUENCE OF RelativeDistinguishedName`, `RDN ::= SET OF AttributeTypeAndValue`.
fn parse_name(name: &[u8]) -> Result<Vec<SubjectAttribute<'_>>, NoIdentity> {
    let malformed = |e: der::Error| NoIdentity::MalformedCertificate(format!("subject: {e}"));
    let mut attributes = Vec::new();
    let mut rdns = reader(name)?;
    while !rdns.is_finished() {
        let rdn: AnyRef<'_> = rdns.decode().map_err(malformed)?;
        expect_tag(rdn, Tag::Set, "subject RDN")?;
        let mut atvs = reader(rdn.value())?;
        while !atvs.is_finished() {
            let atv: AnyRef<'_> = atvs.decode().map_err(malformed)?;
            expect_tag(atv, Tag::Sequence, "subject attribute")?;
            let mut parts = reader(atv.value())?;
            let oid: ObjectIdentifier = parts.decode().map_err(malformed)?;
            let value: AnyRef<'_> = parts.decode().map_err(malformed)?;
            if !parts.is_finished() {
                return Err(NoIdentity::MalformedCertificate("subject attribute has trailing data".into()));
            }
            attributes.push(SubjectAttribute { oid, tag: value.tag(), value: value.value() });
        }
    }
    Ok(attributes)
}

fn reader(bytes: &[u8]) -> Result<SliceReader<'_>, NoIdentity> {
    SliceReader::new(bytes).map_err(|e| NoIdentity::MalformedCertificate(e.to_string()))
}

fn expect_tag(value: AnyRef<'_>, tag: Tag, what: &str) -> Result<(), NoIdentity> {
    if value.tag() == tag {
        Ok(())
    } else {
        Err(NoIdentity::MalformedCertificate(format!("{what}: expected {tag}, found {}", value.tag())))
    }
}
