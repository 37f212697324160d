//! Subject attributes by OID, and reading their values as text.

use der::Tag;
use der::oid::ObjectIdentifier;

/// A subject attribute type: its OID and the name used in messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub(crate) oid: ObjectIdentifier,
    pub(crate) name: String,
}

/// (OID, name) of the X.520 attributes vendors put device identity in; also the short names an
/// operator may use for a custom rule.
const KNOWN: &[(&str, &str, &str)] = &[
    ("2.5.4.3", "commonName", "CN"),
    ("2.5.4.5", "serialNumber", "serialNumber"),
    ("2.5.4.7", "localityName", "L"),
    ("2.5.4.8", "stateOrProvinceName", "ST"),
    ("2.5.4.10", "organizationName", "O"),
    ("2.5.4.11", "organizationalUnitName", "OU"),
];

impl Attribute {
    pub(crate) fn known(oid: &str) -> Self {
        let name = KNOWN.iter().find(|(o, ..)| *o == oid).map_or(oid, |(_, name, _)| name);
        Self { oid: ObjectIdentifier::new_unwrap(oid), name: name.to_owned() }
    }

    /// An attribute from a dotted OID (`2.5.4.5`) or a short name (`CN`, `serialNumber`, `ST`,
    /// `L`, `O`, `OU`), as an operator writes it for a custom rule.
    pub fn parse(text: &str) -> Option<Self> {
        if let Some((oid, ..)) = KNOWN.iter().find(|(oid, name, short)| [*oid, *name, *short].contains(&text)) {
            return Some(Self::known(oid));
        }
        let oid = ObjectIdentifier::new(text).ok()?;
        Some(Self { oid, name: text.to_owned() })
    }

    /// The attribute's dotted OID.
    pub fn oid(&self) -> String {
        self.oid.to_string()
    }

    /// The attribute's name (e.g. `commonName`), or its OID when it has no well-known name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The text of a directory string value, whatever string type the vendor chose.
///
/// Lenient on purpose: the value is only a candidate, which the rule then checks strictly (a MAC
/// must be exactly 12 hex digits). Single-byte string types must hold printable ASCII;
/// UTF8String must be UTF-8; BMPString is UTF-16BE. Anything else is undecodable.
pub(crate) fn decode_text(tag: Tag, value: &[u8]) -> Option<String> {
    match tag {
        Tag::PrintableString | Tag::Ia5String | Tag::TeletexString | Tag::VisibleString => {
            value.iter().all(|b| (0x20..0x7f).contains(b)).then(|| value.iter().map(|&b| char::from(b)).collect())
        }
        Tag::Utf8String => std::str::from_utf8(value).ok().map(str::to_owned),
        Tag::BmpString if value.len().is_multiple_of(2) => {
            char::decode_utf16(value.chunks_exact(2).map(|pair| u16::from_be_bytes([pair[0], pair[1]])))
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_types_decode_to_the_same_text() {
        assert_eq!(decode_text(Tag::PrintableString, b"0004F28B54F4").as_deref(), Some("0004F28B54F4"));
        assert_eq!(decode_text(Tag::TeletexString, b"0004F28B54F4").as_deref(), Some("0004F28B54F4"));
        assert_eq!(decode_text(Tag::Utf8String, "caf\u{e9}".as_bytes()).as_deref(), Some("caf\u{e9}"));
        assert_eq!(decode_text(Tag::BmpString, &[0, b'A', 0, b'b']).as_deref(), Some("Ab"));
    }

    #[test]
    fn undecodable_values_are_none() {
        assert_eq!(decode_text(Tag::TeletexString, b"caf\xe9"), None, "Latin-1 byte");
        assert_eq!(decode_text(Tag::PrintableString, b"a\nb"), None);
        assert_eq!(decode_text(Tag::Utf8String, b"\xff"), None);
        assert_eq!(decode_text(Tag::BmpString, &[0, b'A', 0]), None);
        assert_eq!(decode_text(Tag::Integer, b"1"), None);
    }

    #[test]
    fn attributes_parse_from_names_and_oids() {
        assert_eq!(Attribute::parse("CN"), Some(Attribute::known("2.5.4.3")));
        assert_eq!(Attribute::parse("serialNumber").unwrap().oid(), "2.5.4.5");
        assert_eq!(Attribute::parse("2.5.4.8").unwrap().name(), "stateOrProvinceName");
        assert_eq!(Attribute::parse("1.3.6.1.4.1.99999.1").unwrap().name(), "1.3.6.1.4.1.99999.1");
        assert_eq!(Attribute::parse("not an oid"), None);
    }
}
