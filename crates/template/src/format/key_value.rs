//! `key = value` text files (Yealink `.cfg` and `.boot`).
//!
//! A line break in a value would start a new line, i.e. a new key: `display_name = x\naccount.2...`.
//! The format has no escaping, so values with control characters are refused rather than mangled,
//! and values with surrounding white space are refused because the phone trims it.

use crate::RenderError;

/// Builds a `key = value` file line by line, refusing values that would not read back unchanged.
#[derive(Debug, Clone)]
pub struct KeyValueWriter {
    text: String,
}

impl KeyValueWriter {
    /// Starts a file with `header` as its first line (e.g. `#!version:1.0.0.1`).
    pub fn new(header: &str) -> Self {
        let mut text = String::with_capacity(1024);
        text.push_str(header);
        text.push('\n');
        Self { text }
    }

    /// Appends `key = value`, or refuses a value the format cannot carry.
    ///
    /// Keys come from sipprov's own templates, never from input, so only values are checked.
    pub fn set(&mut self, key: &str, value: &str) -> Result<&mut Self, RenderError> {
        check_value(key, value)?;
        self.text.push_str(key);
        self.text.push_str(" = ");
        self.text.push_str(value);
        self.text.push('\n');
        Ok(self)
    }

    /// The finished file.
    pub fn finish(self) -> String {
        self.text
    }
}

fn check_value(key: &str, value: &str) -> Result<(), RenderError> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(RenderError::ControlCharacter { field: key.to_owned(), code: u32::from(c) });
    }
    if value.trim() != value {
        return Err(RenderError::SurroundingWhitespace { field: key.to_owned() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_refused_with_the_field_name() {
        for c in ['\r', '\n', '\0', '\t', '\u{7f}', '\u{85}', '\u{1b}'] {
            let value = format!("a{c}b");
            let err = KeyValueWriter::new("#").set("account.1.label", &value).unwrap_err();
            assert_eq!(err, RenderError::ControlCharacter { field: "account.1.label".into(), code: u32::from(c) });
        }
    }

    #[test]
    fn surrounding_white_space_is_refused() {
        for value in [" a", "a ", "\u{a0}a"] {
            let err = KeyValueWriter::new("#").set("k", value).unwrap_err();
            assert_eq!(err, RenderError::SurroundingWhitespace { field: "k".into() });
        }
    }

    #[test]
    fn punctuation_and_non_ascii_pass_through_verbatim() {
        let mut writer = KeyValueWriter::new("#!version:1.0.0.1");
        writer.set("a", "x = y # z %NULL% <&> \"é\"").unwrap();
        writer.set("b", "").unwrap();
        assert_eq!(writer.finish(), "#!version:1.0.0.1\na = x = y # z %NULL% <&> \"é\"\nb = \n");
    }
}
