//! Matching one file name against one profile pattern, case-insensitively, capturing the MAC.
//!
//! Patterns are short and have at most two placeholders, and names are at most
//! [`MAX_NAME_LEN`](super::MAX_NAME_LEN) bytes, so plain backtracking is cheap and bounded.

use sipprov_identity::Mac;

/// What a match found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Captured {
    /// The MAC the `{mac}` placeholder matched, if the pattern has one.
    pub(crate) mac: Option<Mac>,
}

/// A pattern with its fixed head and tail (the text before its first placeholder and after its
/// last) found once: most patterns fail on these (`{mac}.cfg` against `init.xml`) without any
/// backtracking, and every request is matched against every pattern.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pattern<'a> {
    text: &'a [u8],
    head: &'a [u8],
    tail: &'a [u8],
}

impl<'a> Pattern<'a> {
    pub(crate) fn new(pattern: &'a str) -> Self {
        let text = pattern.as_bytes();
        let head = text.iter().position(|b| matches!(b, b'{' | b'[')).map_or(text, |end| &text[..end]);
        let tail = text.iter().rposition(|b| matches!(b, b'}' | b']')).map_or(text, |end| &text[end + 1..]);
        Self { text, head, tail }
    }

    /// Matches `name` (already restricted to `A-Z a-z 0-9 . _ - :`).
    pub(crate) fn match_name(&self, name: &str) -> Option<Captured> {
        let name = name.as_bytes();
        let fits = |fixed: &[u8], found: Option<&[u8]>| found.is_some_and(|found| found.eq_ignore_ascii_case(fixed));
        if !fits(self.head, name.get(..self.head.len()))
            || !fits(self.tail, name.len().checked_sub(self.tail.len()).map(|at| &name[at..]))
        {
            return None;
        }
        match_from(self.text, name, None)
    }
}

/// Matches `name` (already restricted to `A-Z a-z 0-9 . _ - :`) against `pattern`.
#[cfg(test)]
fn match_name(pattern: &str, name: &str) -> Option<Captured> {
    Pattern::new(pattern).match_name(name)
}

/// The number of literal (non-placeholder) bytes in a pattern: the more, the more specific.
pub(crate) fn literal_len(pattern: &str) -> usize {
    let mut len = 0;
    let mut in_placeholder = false;
    for b in pattern.bytes() {
        match b {
            b'{' => in_placeholder = true,
            b'}' => in_placeholder = false,
            b'[' | b']' => {}
            _ if !in_placeholder => len += 1,
            _ => {}
        }
    }
    len
}

fn match_from(pattern: &[u8], name: &[u8], mac: Option<Mac>) -> Option<Captured> {
    let Some((&first, rest)) = pattern.split_first() else {
        return name.is_empty().then_some(Captured { mac });
    };
    if first == b'[' {
        // An optional literal, e.g. the extension old firmware leaves out: `cfg{mac}[.xml]`.
        let close = rest.iter().position(|&b| b == b']')?;
        let (optional, after) = (rest.get(..close)?, rest.get(close + 1..)?);
        let with = name
            .get(..optional.len())
            .filter(|head| head.eq_ignore_ascii_case(optional))
            .and_then(|_| match_from(after, name.get(optional.len()..)?, mac));
        return with.or_else(|| match_from(after, name, mac));
    }
    if first != b'{' {
        let (&c, name_rest) = name.split_first()?;
        return if c.eq_ignore_ascii_case(&first) { match_from(rest, name_rest, mac) } else { None };
    }
    let close = rest.iter().position(|&b| b == b'}')?;
    let (placeholder, after) = (rest.get(..close)?, rest.get(close + 1..)?);
    // Longest first: `{name}-{mac}` must give the MAC its full length.
    for len in (1..=name.len()).rev() {
        let (candidate, name_rest) = name.split_at(len);
        let captured_mac = match placeholder {
            b"mac" | b"MAC" => match parse_mac(candidate) {
                Some(found) => Some(found),
                None => continue,
            },
            b"name" if len <= 32 && candidate.iter().all(|&b| is_name_byte(b)) => mac,
            // A model name that cannot be read as a MAC, beside a `{mac}` pattern of its own.
            b"model" if len <= 32 && candidate.iter().all(|&b| is_name_byte(b)) && !mac_shaped(candidate) => mac,
            b"file" if is_file_stem(candidate) => mac,
            b"nn" if len == 2 && candidate.iter().all(u8::is_ascii_digit) => mac,
            b"nnn" if len == 3 && candidate.iter().all(u8::is_ascii_digit) => mac,
            _ => continue,
        };
        if let Some(found) = match_from(after, name_rest, captured_mac) {
            return Some(found);
        }
    }
    None
}

/// A MAC in any spelling `Mac` parses, except the all-zero address: `000000000000` names the
/// files every phone fetches (Polycom's master file), never a device.
fn parse_mac(candidate: &[u8]) -> Option<Mac> {
    Mac::parse_ascii(candidate).filter(|mac| mac.bytes() != [0; 6])
}

/// Whether `candidate` is spelled like a MAC, the all-zero one included.
fn mac_shaped(candidate: &[u8]) -> bool {
    Mac::parse_ascii(candidate).is_some()
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_file_stem(candidate: &[u8]) -> bool {
    candidate.len() <= 96
        && candidate.first() != Some(&b'.')
        && candidate.iter().all(|&b| is_name_byte(b) || b == b'.')
        && !candidate.windows(2).any(|w| w == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> Option<Captured> {
        Some(Captured { mac: Some(Mac::parse(s).unwrap()) })
    }

    #[test]
    fn literals_match_in_any_case() {
        assert_eq!(match_name("init.cfg", "INIT.Cfg"), Some(Captured { mac: None }));
        assert_eq!(match_name("init.cfg", "init.cf"), None);
        assert_eq!(match_name("init.cfg", "init.cfgx"), None);
    }

    #[test]
    fn a_mac_in_every_spelling_is_captured_canonically() {
        for name in ["001565aabbcc.cfg", "001565AABBCC.CFG", "00:15:65:aa:bb:cc.cfg", "00-15-65-AA-BB-CC.cfg"] {
            assert_eq!(match_name("{mac}.cfg", name), mac("001565aabbcc"), "{name}");
        }
        assert_eq!(match_name("{mac}.cfg", "0015.65aa.bbcc.cfg"), mac("001565aabbcc"));
        assert_eq!(match_name("{mac}.cfg", "000000000000.cfg"), None);
        assert_eq!(match_name("{mac}.cfg", "00:15:65-aa:bb:cc.cfg"), None);
        assert_eq!(match_name("{mac}.cfg", "001565aabbc.cfg"), None);
    }

    #[test]
    fn names_backtrack_to_leave_the_mac_whole() {
        assert_eq!(match_name("snom{name}-{MAC}.htm", "snomD785-000413AABBCC.htm"), mac("000413aabbcc"));
        assert_eq!(match_name("snom{name}-{MAC}.htm", "snom-000413AABBCC.htm"), None);
        assert_eq!(match_name("{name}-3PCC.xml", "CP-8841-3PCC.xml"), Some(Captured { mac: None }));
    }

    #[test]
    fn file_stems_refuse_dot_dot_and_leading_dots() {
        assert!(match_name("{file}.rom", "T46-28.83.0.50.rom").is_some());
        assert!(match_name("{file}.rom", "a..b.rom").is_none());
        assert!(match_name("{file}.rom", ".hidden.rom").is_none());
        assert!(match_name("y0000000000{nn}.cfg", "y000000000028.cfg").is_some());
        assert!(match_name("y0000000000{nn}.cfg", "y00000000002x.cfg").is_none());
    }

    #[test]
    fn an_optional_literal_may_be_left_out() {
        for name in ["cfg000b828aa872.xml", "CFG000B828AA872.XML", "cfg000b828aa872"] {
            assert_eq!(match_name("cfg{mac}[.xml]", name), mac("000b828aa872"), "{name}");
        }
        assert_eq!(match_name("cfg{mac}[.xml]", "cfg000b828aa872.xm"), None);
        assert_eq!(match_name("cfg{mac}[.xml]", "cfg000b828aa872.xml.xml"), None);
    }

    #[test]
    fn literal_length_ignores_placeholders() {
        assert_eq!(literal_len("{mac}.cfg"), 4);
        assert_eq!(literal_len("snom{name}-firmware.xml"), 17);
        assert_eq!(literal_len("init.cfg"), 8);
        assert_eq!(literal_len("cfg{mac}[.xml]"), 7);
    }
}
