//! The `Mac` type: one canonical spelling for every way a MAC address is written.

use std::fmt;
use std::str::FromStr;

/// An Ethernet MAC address, the name a phone's config files are known by.
///
/// Phones, certificates, URLs and inventories spell MACs in many ways (`00:15:65:AA:BB:CC`,
/// `00-15-65-aa-bb-cc`, `0015.65aa.bbcc`, `001565AABBCC`). They all parse to the same `Mac`, whose
/// [`Display`](fmt::Display) is the canonical form: 12 lowercase hex digits. Canonicalising before
/// any comparison or rate accounting means a spelling variant can never name a different device.
///
/// ```
/// use sipprov_identity::Mac;
///
/// let a: Mac = "00:15:65:AA:BB:CC".parse()?;
/// let b: Mac = "0015.65aa.bbcc".parse()?;
/// assert_eq!(a, b);
/// assert_eq!(a.to_string(), "001565aabbcc");
/// assert_eq!(a.oui(), [0x00, 0x15, 0x65]);
/// # Ok::<(), sipprov_identity::MacParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mac([u8; 6]);

impl Mac {
    /// Builds a MAC from its six bytes.
    pub const fn from_bytes(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    /// The six bytes of the address.
    pub const fn bytes(&self) -> [u8; 6] {
        self.0
    }

    /// The organisationally unique identifier: the first three bytes, which name the vendor.
    pub const fn oui(&self) -> [u8; 3] {
        [self.0[0], self.0[1], self.0[2]]
    }

    /// The 12 uppercase hex digits, as Polycom, Snom and Cisco spell MACs in file names.
    pub fn to_upper_hex(&self) -> String {
        self.hex(b"0123456789ABCDEF").iter().map(|&b| char::from(b)).collect()
    }

    /// The 12 hex digits in `digits` (`b"0123456789abcdef"` or its uppercase), built without
    /// the formatting machinery: a MAC is written several times per request.
    fn hex(&self, digits: &[u8; 16]) -> [u8; 12] {
        let mut hex = [0u8; 12];
        for (pair, byte) in hex.chunks_exact_mut(2).zip(self.0) {
            pair[0] = digits[usize::from(byte >> 4)];
            pair[1] = digits[usize::from(byte & 0x0f)];
        }
        hex
    }

    /// Parses a MAC written in one of the common spellings:
    /// 12 hex digits, six pairs separated by `:` or `-`, or three groups of four separated by `.`.
    /// Hex digits may be of either case. Anything else (mixed separators, stray characters,
    /// whitespace, wrong length) is refused.
    pub fn parse(input: &str) -> Result<Self, MacParseError> {
        Self::decode(input.as_bytes()).map_err(|reason| MacParseError::new(input, reason))
    }

    /// As [`Mac::parse`], for bytes that may not be text, with no error to build: `None` for
    /// anything `parse` refuses. Route matching tries many candidate spellings per request.
    pub fn parse_ascii(input: &[u8]) -> Option<Self> {
        Self::decode(input).ok()
    }

    /// The address in `bytes`, or why it is none, without allocating.
    fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let (group, separators): (usize, &[u8]) = match bytes.len() {
            12 => (12, b""),
            17 => (2, b":-"),
            14 => (4, b"."),
            _ => return Err("expected 12 hex digits"),
        };
        // Groups of `group` digits, each after the first behind one and the same separator.
        let separator = bytes.get(group).copied();
        if separator.is_some_and(|s| !separators.contains(&s)) {
            return Err("unexpected separator");
        }
        let is_separator = |i: usize| (i + 1).is_multiple_of(group + 1);
        if bytes.iter().enumerate().any(|(i, &b)| is_separator(i) && Some(b) != separator) {
            return Err("inconsistent separators");
        }
        let mut digits = bytes.iter().enumerate().filter(|&(i, _)| !is_separator(i)).map(|(_, &b)| hex_value(b));
        let mut mac = [0u8; 6];
        for byte in &mut mac {
            let (Some(Some(high)), Some(Some(low))) = (digits.next(), digits.next()) else {
                return Err("not a hex digit");
            };
            *byte = (high << 4) | low;
        }
        Ok(Self(mac))
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex = self.hex(b"0123456789abcdef");
        // Hex digits are ASCII: the conversion cannot fail.
        f.pad(std::str::from_utf8(&hex).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl FromStr for Mac {
    type Err = MacParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A string that is not a MAC address in any accepted spelling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input:?} is not a MAC address: {reason}")]
pub struct MacParseError {
    input: String,
    reason: &'static str,
}

impl MacParseError {
    fn new(input: &str, reason: &'static str) -> Self {
        // Hostile input may be huge; keep enough to recognise it in an error message.
        let input = input.chars().take(64).collect();
        Self { input, reason }
    }

    /// Why the input was refused.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_is_written_as_two_hex_digits_in_either_case() {
        for byte in 0..=255u8 {
            let mac = Mac::from_bytes([byte, 0x0f, 0xf0, 0x00, 0xff, byte.wrapping_add(1)]);
            let expected: String = mac.bytes().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(mac.to_string(), expected);
            assert_eq!(mac.to_upper_hex(), expected.to_ascii_uppercase());
            assert_eq!(Mac::parse(&mac.to_string()), Ok(mac));
        }
        assert_eq!(format!("{:>14}", Mac::from_bytes([0; 6])), "  000000000000");
    }

    #[test]
    fn every_common_spelling_is_the_same_mac() {
        let canonical = Mac::from_bytes([0x00, 0x15, 0x65, 0xaa, 0xbb, 0xcc]);
        for spelling in [
            "001565aabbcc",
            "001565AABBCC",
            "00:15:65:aa:bb:cc",
            "00:15:65:AA:BB:CC",
            "00-15-65-aa-bb-cc",
            "0015.65aa.bbcc",
            "0015.65AA.BBCC",
        ] {
            assert_eq!(Mac::parse(spelling), Ok(canonical), "{spelling}");
        }
        assert_eq!(canonical.to_string(), "001565aabbcc");
        assert_eq!(canonical.to_upper_hex(), "001565AABBCC");
    }

    #[test]
    fn malformed_spellings_are_refused_with_a_reason() {
        for (input, reason) in [
            ("", "expected 12 hex digits"),
            ("001565aabbc", "expected 12 hex digits"),
            ("001565aabbccd", "expected 12 hex digits"),
            (" 001565aabbcc", "expected 12 hex digits"),
            ("001565aabbcg", "not a hex digit"),
            ("00:15:65-aa:bb:cc", "inconsistent separators"),
            ("00.15.65.aa.bb.cc", "unexpected separator"),
            ("0015:65aa:bbcc", "unexpected separator"),
            ("00:15:65:aa:bb:c ", "not a hex digit"),
            ("+01565aabbcc", "not a hex digit"),
            ("0015\u{e9}5aabbc", "not a hex digit"),
        ] {
            let err = Mac::parse(input).expect_err(input);
            assert_eq!(err.reason(), reason, "{input:?}");
        }
    }

    #[test]
    fn oui_is_the_first_three_bytes() {
        let mac: Mac = "00:04:f2:8b:54:f4".parse().unwrap();
        assert_eq!(mac.oui(), [0x00, 0x04, 0xf2]);
    }
}
