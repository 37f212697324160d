//! `key = value` text files (Yealink `.cfg` and `.boot`).
//!
//! A line break in a value would start a new line, i.e. a new key: `display_name = x\naccount.2...`.
//! The format has no escaping, so values with control characters are refused rather than mangled,
//! and values with surrounding white space are refused because the phone trims it. Everything
//! else (`=`, `#`, quotes, `%`, non-ASCII) is carried verbatim: the phone splits a line at its
//! first `=` and only treats `#` as a comment at the start of a line.

use crate::TemplateError;

/// Checks that `value` reads back unchanged from a `key = value` line; `field` names it in the error.
pub fn check_value(field: &str, value: &str) -> Result<(), TemplateError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(TemplateError::ControlCharacter { field: field.to_owned(), code: u32::from(c) });
    }
    if value.trim() != value {
        return Err(TemplateError::SurroundingWhitespace { field: field.to_owned() });
    }
    Ok(())
}

/// Reads a `key = value` file back into its `(key, value)` pairs, in file order.
///
/// The first line must be `header`. Blank lines and lines starting with `#` are skipped; every
/// other line must hold a `=`. Keys and values are trimmed, as the phone trims them.
pub fn read(text: &str, header: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, first)) if first == header => {}
        _ => return Err(unreadable(1, format!("the first line must be exactly {header:?}"))),
    }
    let mut pairs = Vec::new();
    for (index, line) in lines {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(unreadable(index + 1, "a line that is neither a comment nor `key = value`".into()));
        };
        pairs.push((key.trim().to_owned(), value.trim().to_owned()));
    }
    Ok(pairs)
}

fn unreadable(line: usize, detail: String) -> TemplateError {
    TemplateError::Unreadable { format: "key=value", line, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_refused_with_the_field_name() {
        for c in ['\r', '\n', '\0', '\t', '\u{7f}', '\u{85}', '\u{1b}'] {
            let value = format!("a{c}b");
            let err = check_value("account.1.label", &value).unwrap_err();
            assert_eq!(err, TemplateError::ControlCharacter { field: "account.1.label".into(), code: u32::from(c) });
        }
    }

    #[test]
    fn surrounding_white_space_is_refused() {
        for value in [" a", "a ", "\u{a0}a"] {
            let err = check_value("k", value).unwrap_err();
            assert_eq!(err, TemplateError::SurroundingWhitespace { field: "k".into() });
        }
    }

    #[test]
    fn punctuation_and_non_ascii_pass_through_verbatim() {
        let value = "x = y # z %NULL% <&> \"é\"";
        check_value("a", value).unwrap();
        check_value("b", "").unwrap();
        let text = format!("#!version:1.0.0.1\na = {value}\nb = \n");
        let pairs = read(&text, "#!version:1.0.0.1").unwrap();
        assert_eq!(pairs, [("a".into(), "x = y # z %NULL% <&> \"é\"".into()), ("b".into(), String::new())]);
    }

    #[test]
    fn reading_needs_the_header_and_names_the_bad_line() {
        assert!(read("a = 1\n", "#!version:1.0.0.1").is_err());
        let err = read("#!version:1.0.0.1\n# comment\n\na = 1\nnonsense\n", "#!version:1.0.0.1").unwrap_err();
        assert!(matches!(err, TemplateError::Unreadable { line: 5, .. }), "{err:?}");
    }
}
