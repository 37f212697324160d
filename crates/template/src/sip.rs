//! The account values that end up inside SIP: the user part of a SIP URI, the digest user name,
//! the registrar's host, and the one rule for a value every vendor format can carry.
//!
//! Every vendor writes the account's user name into a SIP URI (`sip:1001@sip.example.net`), in
//! the file or inside the phone. A user name holding `@`, `>` or `;` would change that URI: a
//! different domain, a parameter, the end of a name-addr. So user names are held to RFC 3261's
//! `user` production; templates that build a URI also pass it through [`escape_user`].

use crate::TemplateError;

/// The longest account value accepted (user name, auth name, display name, registrar).
pub const MAX_ACCOUNT_VALUE: usize = 256;

/// RFC 3261 `user-unreserved`: allowed literally in a user part besides `unreserved`.
const USER_UNRESERVED: &[u8] = b"&=+$,;?/";
/// RFC 3261 `mark`: the punctuation of `unreserved`.
const MARK: &[u8] = b"-_.!~*'()";

fn unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || MARK.contains(&byte)
}

fn invalid(field: &str, detail: String) -> TemplateError {
    TemplateError::InvalidSipValue { field: field.to_owned(), detail }
}

/// Checks a value every vendor's format can carry unchanged: no control characters (a line
/// break would start a new key), no U+FFFE or U+FFFF (XML cannot carry them), no leading or
/// trailing white space (phones trim it), at most `max` bytes. The error names `field`.
pub fn check_portable_value(field: &str, value: &str, max: usize) -> Result<(), TemplateError> {
    crate::format::key_value::check_value(field, value)?;
    crate::format::xml::check_value(field, value)?;
    if value.len() > max {
        return Err(TemplateError::TooLong { field: field.to_owned(), max });
    }
    Ok(())
}

/// Longest number a speed dial may dial.
pub const MAX_DIAL_STRING: usize = 64;

/// Checks what a speed-dial key dials: 1 to [`MAX_DIAL_STRING`] of `0-9 A-Z a-z * # + . _ -`,
/// what a keypad or a SIP user part can hold, nothing a vendor's key syntax could split on.
pub fn check_dial_string(field: &str, value: &str) -> Result<(), TemplateError> {
    if value.is_empty() {
        return Err(invalid(field, "a number to dial cannot be empty".into()));
    }
    if value.len() > MAX_DIAL_STRING {
        return Err(TemplateError::TooLong { field: field.to_owned(), max: MAX_DIAL_STRING });
    }
    match value.chars().find(|c| !(c.is_ascii_alphanumeric() || "*#+._-".contains(*c))) {
        Some(c) => Err(invalid(field, format!("{c:?} cannot be dialled (allowed: 0-9 A-Z a-z * # + . _ -)"))),
        None => Ok(()),
    }
}

/// Checks the user part of a SIP URI (RFC 3261 `user`): letters, digits, `-_.!~*'()`,
/// `&=+$,;?/`, and `%` followed by two hex digits; not empty, at most [`MAX_ACCOUNT_VALUE`]
/// bytes. Extensions and E.164 numbers (`+441632960123`) pass; `@`, `:`, `<`, `>`, `"`, space
/// and anything non-ASCII do not.
pub fn check_sip_user(field: &str, value: &str) -> Result<(), TemplateError> {
    if value.is_empty() {
        return Err(invalid(field, "a SIP user part cannot be empty".into()));
    }
    if value.len() > MAX_ACCOUNT_VALUE {
        return Err(TemplateError::TooLong { field: field.to_owned(), max: MAX_ACCOUNT_VALUE });
    }
    let bytes = value.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte == b'%' {
            let escape = bytes.get(at + 1..at + 3).filter(|hex| hex.iter().all(u8::is_ascii_hexdigit));
            if escape.is_none() {
                return Err(invalid(field, "`%` must start an escape of two hex digits (RFC 3261)".into()));
            }
            at += 3;
            continue;
        }
        if !unreserved(byte) && !USER_UNRESERVED.contains(&byte) {
            let shown = value[at..].chars().next().unwrap_or('?');
            return Err(invalid(
                field,
                format!(
                    "{shown:?} cannot appear in a SIP user part (RFC 3261 allows letters, digits, -_.!~*'() &=+$,;?/ and %XX)"
                ),
            ));
        }
        at += 1;
    }
    Ok(())
}

/// Checks a digest authentication user name: a value every format can carry, not empty, and no
/// `"` or `\` (it travels as a quoted string in the `Authorization` header).
pub fn check_auth_name(field: &str, value: &str) -> Result<(), TemplateError> {
    check_portable_value(field, value, MAX_ACCOUNT_VALUE)?;
    if value.is_empty() {
        return Err(invalid(field, "the digest user name cannot be empty".into()));
    }
    if let Some(c) = value.chars().find(|c| matches!(c, '"' | '\\')) {
        return Err(invalid(field, format!("{c:?} cannot appear in a digest user name")));
    }
    Ok(())
}

/// Checks a registrar: a host name, IPv4 address or bracketed IPv6 address, with an optional
/// `:port`, as it is written after the `@` of a SIP URI.
pub fn check_sip_host(field: &str, value: &str) -> Result<(), TemplateError> {
    let bad = |why: &str| Err(invalid(field, format!("{value:?} is not a host[:port]: {why}")));
    if value.is_empty() || value.len() > MAX_ACCOUNT_VALUE {
        return bad("empty or too long");
    }
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, after)) if v6.parse::<std::net::Ipv6Addr>().is_ok() => (None, after),
            _ => return bad("a bracketed address must be IPv6"),
        },
        None => match value.rsplit_once(':') {
            Some((host, _)) => (Some(host), &value[host.len()..]),
            None => (Some(value), ""),
        },
    };
    if let Some(port) = port.strip_prefix(':') {
        if port.parse::<u16>().map_or(true, |port| port == 0) {
            return bad("the port is not 1-65535");
        }
    } else if !port.is_empty() {
        return bad("unexpected text after the address");
    }
    if let Some(host) = host {
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if !host.trim_end_matches('.').split('.').all(label_ok) {
            return bad("a host name is dot-separated labels of letters, digits and -");
        }
    }
    Ok(())
}

/// Percent-escapes what a SIP URI's user part may not carry literally. A user name that passed
/// [`check_sip_user`] comes out unchanged; anything else cannot break out of the user part.
pub fn escape_user(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if unreserved(byte) || USER_UNRESERVED.contains(&byte) || byte == b'%' {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A `host[:port]` checked by [`check_sip_host`], split: the host (an IPv6 address keeps its
/// brackets, as in a SIP URI) and the port, if one is given. For vendors whose files keep
/// them apart.
pub fn split_host_port(value: &str) -> (&str, Option<&str>) {
    let host_end = match value.strip_prefix('[') {
        Some(rest) => rest.find(']').map_or(value.len(), |at| at + 2),
        None => value.rfind(':').unwrap_or(value.len()),
    };
    let (host, rest) = value.split_at(host_end);
    (host, rest.strip_prefix(':'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_numbers_and_rfc_3261_user_characters_pass() {
        for user in ["1001", "+441632960123", "alice.smith", "a-b_c!~*'()", "x&=+$,;?/", "caf%C3%A9"] {
            assert_eq!(check_sip_user("account.user_name", user), Ok(()), "{user}");
            assert_eq!(escape_user(user), user, "a valid user part is not changed");
        }
    }

    #[test]
    fn characters_that_would_change_the_uri_are_refused_and_escaped() {
        for user in ["1001@evil.example", "a>b", "a<b", "a b", "a:b", "\"a\"", "é", "50%", "%zz", ""] {
            let error = check_sip_user("account.user_name", user).unwrap_err();
            assert_eq!(error.field(), Some("account.user_name"), "{user}: {error}");
        }
        assert_eq!(escape_user("1001@evil.example>"), "1001%40evil.example%3E");
        assert_eq!(escape_user("a b"), "a%20b");
    }

    #[test]
    fn registrars_are_hosts_with_optional_ports() {
        for host in ["sip.example.net", "sip.example.net:5061", "192.0.2.10", "[2001:db8::1]:5060", "pbx"] {
            assert_eq!(check_sip_host("registrar", host), Ok(()), "{host}");
        }
        for host in ["", "sip.example.net;transport=udp", "a@b", "host:0", "host:99999", "[::1", "-x.example", "a b"] {
            assert!(check_sip_host("registrar", host).is_err(), "{host}");
        }
    }

    #[test]
    fn a_registrar_splits_into_host_and_port() {
        assert_eq!(split_host_port("sip.example.net"), ("sip.example.net", None));
        assert_eq!(split_host_port("sip.example.net:5061"), ("sip.example.net", Some("5061")));
        assert_eq!(split_host_port("192.0.2.1:5060"), ("192.0.2.1", Some("5060")));
        assert_eq!(split_host_port("[2001:db8::1]"), ("[2001:db8::1]", None));
        assert_eq!(split_host_port("[2001:db8::1]:5061"), ("[2001:db8::1]", Some("5061")));
    }

    #[test]
    fn auth_names_are_portable_and_unquoted() {
        assert_eq!(check_auth_name("account.auth_name", "sp-001565000001"), Ok(()));
        for bad in ["a\"b", "a\\b", " a", "a\n", "a\u{ffff}", ""] {
            assert!(check_auth_name("account.auth_name", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn portable_values_fit_every_format() {
        assert_eq!(check_portable_value("display_name", "Réception \"A\" <&> 😀", 256), Ok(()));
        for bad in [" padded", "padded ", "tab\there", "x\u{fffe}", "x\u{ffff}", "x\u{85}"] {
            assert!(check_portable_value("display_name", bad, 256).is_err(), "{bad:?}");
        }
        assert_eq!(
            check_portable_value("display_name", &"x".repeat(257), 256),
            Err(TemplateError::TooLong { field: "display_name".into(), max: 256 })
        );
    }
}
