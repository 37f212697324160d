//! The pieces a User-Agent is read from: its words, version-like words and its MAC.

use sipprov_identity::Mac;

/// `Mozilla/4.0 (compatible; snom320-SIP 8.4.18 1.1.3-s)` is a phone's own User-Agent inside
/// a browser's wrapper: the part after `compatible;`, without a browser's `MSIE 6.0)`.
pub(super) fn unwrap_compatible(user_agent: &str) -> &str {
    let Some((_, inner)) = user_agent.split_once("(compatible;") else { return user_agent };
    let inner = inner.trim_start();
    match inner.strip_prefix("MSIE") {
        Some(rest) => rest.split_once(')').map_or(inner, |(_, after)| after.trim_start()),
        None => inner,
    }
}

/// The UA's words, split at white space, with the list punctuation around them removed
/// (`6.5.20;` is `6.5.20`; `6.1.5(a)` keeps its balanced parentheses).
pub(super) fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().map(tidy).filter(|word| !word.is_empty()).collect()
}

fn tidy(mut word: &str) -> &str {
    loop {
        let before = word;
        word = word.trim_end_matches([';', ',']);
        let (open, close) = (word.matches('(').count(), word.matches(')').count());
        if close > open {
            word = word.strip_suffix(')').unwrap_or(word);
        } else if open > close {
            word = word.strip_prefix('(').unwrap_or(word);
        }
        if word == before {
            return word;
        }
    }
}

/// A firmware version as phones write it: starts with a digit, has a dot, and only
/// version-like characters.
pub(super) fn is_version(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_digit())
        && s.contains('.')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+' | '(' | ')'))
}

/// A version with a letter the vendor writes in front (`V0.6.24`, `R5.13.0`, `v1.2.38sp`), or
/// a label that is not part of it (`fw2.74`, `sw1.50.28`, `rv2.10.8.2`): the version as it
/// should be reported.
pub(super) fn prefixed_version(s: &str) -> Option<&str> {
    for label in ["fw", "sw", "rv", "Version:"] {
        if let Some(rest) = strip_prefix_ignore_case(s, label) {
            return is_version(rest).then_some(rest);
        }
    }
    let rest = s.strip_prefix(['V', 'v', 'R'])?;
    is_version(rest).then_some(s)
}

/// The MAC, when exactly one distinct MAC appears in the UA: alone, after a label (`MAC:`,
/// `DevId`, `Serial:`, `SN/`), glued on with `_` or `-`, or in parentheses.
pub(super) fn single_mac(user_agent: &str) -> Option<Mac> {
    let mut found: Option<Mac> = None;
    let pieces = user_agent
        .split(|c: char| c.is_whitespace() || matches!(c, ';' | '(' | ')' | ',' | '[' | ']' | '_' | '/' | '='));
    for piece in pieces {
        let piece = ["mac:", "devid:", "serial:", "sn:"]
            .iter()
            .find_map(|p| strip_prefix_ignore_case(piece, p))
            .unwrap_or(piece);
        // `MERCURY-00107F1ABAA0`: a MAC glued on after a name.
        let glued = piece.rsplit_once('-').map(|(_, tail)| tail).filter(|tail| tail.len() == 12);
        let Some(mac) = parse_mac(piece).or_else(|| glued.and_then(parse_mac)) else { continue };
        match found {
            Some(seen) if seen != mac => return None,
            _ => found = Some(mac),
        }
    }
    found
}

pub(super) fn parse_mac(token: &str) -> Option<Mac> {
    Mac::parse_ascii(token.as_bytes()).filter(|mac| mac.bytes() != [0; 6])
}

pub(super) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..)).flatten()
}

pub(super) fn strip_suffix_ignore_case<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let split = s.len().checked_sub(suffix.len())?;
    let tail = s.get(split..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| s.get(..split)).flatten()
}

pub(super) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    strip_prefix_ignore_case(s, prefix).is_some()
}
