//! A registered firmware image: what it is for, and the hash that names it.

use serde::{Deserialize, Serialize};
use sipprov_template::Vendor;

use crate::FleetError;

/// A firmware image in the catalogue. Only registered images are served, and only while the
/// file still has `sha256`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwareImage {
    /// SHA-256 of the file, lowercase hex: its name on disk and in URLs.
    pub sha256: String,
    /// The vendor whose phones run it (`yealink`).
    pub vendor: String,
    /// The models it is for, as the inventory or the User-Agent names them (`T54W`).
    pub models: Vec<String>,
    /// Its version, as the phone's User-Agent reports it once running (`96.86.0.100`).
    pub version: String,
    /// The file name it was uploaded as: the name phones that build a file name expect.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was registered (Unix seconds).
    pub added_at: i64,
    /// Why it must not run (a known vulnerability); a flagged image is neither served nor
    /// rendered into configs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flagged: Option<String>,
}

impl FirmwareImage {
    /// Whether it is for `model` of `vendor` (models compare without regard to case).
    pub fn fits(&self, vendor: &str, model: &str) -> bool {
        self.vendor == vendor && self.models.iter().any(|m| m.eq_ignore_ascii_case(model))
    }
}

/// What an operator says about an image being registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The vendor (a name [`Vendor`] knows).
    pub vendor: String,
    /// The models, at least one.
    pub models: Vec<String>,
    /// The version as the phone reports it.
    pub version: String,
    /// The file name phones may ask for it by.
    pub name: String,
}

impl ImageInfo {
    /// Checks every field; the error names the one that is wrong.
    pub fn check(&self) -> Result<(), FleetError> {
        check_vendor(&self.vendor)?;
        if self.models.is_empty() {
            return Err(FleetError::Invalid("an image is for at least one model".into()));
        }
        for model in &self.models {
            check_word("model", model)?;
        }
        check_word("version", &self.version)?;
        check_file_name(&self.name)
    }
}

/// The vendor named `vendor`, in the spelling the catalogue keeps (`yealink`).
pub(crate) fn check_vendor(vendor: &str) -> Result<Vendor, FleetError> {
    vendor.parse::<Vendor>().ok().filter(|v| v.name() == vendor).ok_or_else(|| {
        FleetError::Invalid(format!("unknown vendor {vendor:?} (use a lowercase name: yealink, snom, ...)"))
    })
}

/// A model or version: 1 to 64 of `A-Z a-z 0-9 . _ - +` and spaces inside, as User-Agents
/// write them.
pub(crate) fn check_word(what: &str, value: &str) -> Result<(), FleetError> {
    let plain = value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ' '));
    if value.is_empty() || value.len() > 64 || !plain || value.trim() != value {
        return Err(FleetError::Invalid(format!(
            "{what} {value:?}: 1 to 64 of letters, digits, '.', '_', '-', '+' (spaces only inside)"
        )));
    }
    Ok(())
}

/// Whether `name` is a file name phones may ask for: 1 to 128 of `A-Z a-z 0-9 . _ -`, not
/// starting with `.`: what a URL path segment carries without escaping.
pub fn is_plain_file_name(name: &str) -> bool {
    let plain = name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    !name.is_empty() && name.len() <= 128 && !name.starts_with('.') && plain
}

/// [`is_plain_file_name`], as an error naming the rule.
pub(crate) fn check_file_name(name: &str) -> Result<(), FleetError> {
    if !is_plain_file_name(name) {
        return Err(FleetError::Invalid(format!(
            "file name {name:?}: 1 to 128 of letters, digits, '.', '_', '-', not starting with '.'"
        )));
    }
    Ok(())
}

/// Whether `text` is a SHA-256 in lowercase hex: an image's name.
pub fn is_sha256(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
