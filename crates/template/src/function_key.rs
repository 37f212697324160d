//! A device's programmable keys, as every vendor's template needs them.

use crate::TemplateError;

/// A programmable key: a BLF or a speed dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionKey {
    /// The key on the phone, from 1, as its vendor numbers programmable (line) keys.
    pub position: u16,
    /// What it does.
    pub kind: KeyKind,
    /// The extension it watches (a SIP user part) or the number it dials.
    pub value: String,
    /// The text beside the key.
    pub label: String,
    /// The account line it uses.
    pub line: u16,
}

/// What a programmable key does; templates see `blf` or `speed_dial`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Busy lamp field: shows whether another extension is busy; pressing it calls it.
    Blf,
    /// Dials a number.
    SpeedDial,
}

impl KeyKind {
    /// The name templates compare with: `blf`, `speed_dial`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyKind::Blf => "blf",
            KeyKind::SpeedDial => "speed_dial",
        }
    }
}

/// Longest text beside a key.
pub const MAX_KEY_LABEL: usize = 64;

/// Checks the text beside a key: what every format carries, at most [`MAX_KEY_LABEL`] bytes,
/// and none of `; = | @`, which vendors' key syntaxes use between their parts (Cisco's
/// `fnc=blf;sub=...;nme=LABEL`): a label must not add a part.
pub fn check_key_label(field: &str, value: &str) -> Result<(), TemplateError> {
    crate::check_portable_value(field, value, MAX_KEY_LABEL)?;
    match value.chars().find(|c| ";=|@".contains(*c)) {
        Some(c) => Err(TemplateError::InvalidSipValue {
            field: field.to_owned(),
            detail: format!("{c:?} cannot appear beside a key (it separates the parts of a key's setting)"),
        }),
        None => Ok(()),
    }
}

/// Which programmable keys a vendor's template renders, and how many.
#[derive(Debug, Clone, Copy)]
pub struct KeyLayout {
    /// Whether it renders BLF keys.
    pub blf: bool,
    /// Whether it renders speed dials.
    pub speed_dial: bool,
    /// The highest key position it renders.
    pub most: u16,
}

impl KeyLayout {
    /// No programmable keys (DECT handsets, softphones, or no layout confirmed yet).
    pub const NONE: KeyLayout = KeyLayout { blf: false, speed_dial: false, most: 0 };

    /// Whether `kind` at `position` is rendered; the error says why not.
    pub fn check(&self, kind: KeyKind, position: u16) -> Result<(), String> {
        let rendered = match kind {
            KeyKind::Blf => self.blf,
            KeyKind::SpeedDial => self.speed_dial,
        };
        if !rendered {
            return Err(format!("its files have no {} keys", kind.name()));
        }
        if position > self.most {
            return Err(format!("its files have keys 1 to {}, not {position}", self.most));
        }
        Ok(())
    }
}
