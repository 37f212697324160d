//! Why a template could not be loaded, a file could not be rendered, or a config could not be read.

use crate::Layer;

/// Everything that can go wrong in this crate. Each variant names what an operator has to fix:
/// the field, the template file and line, the setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The value holds a character the format cannot carry safely (CR, LF, NUL, other controls).
    #[error("field {field}: value contains control character U+{code:04X}, which this format cannot carry")]
    ControlCharacter {
        /// The field whose value was refused (a config key, or a setting such as `account.display_name`).
        field: String,
        /// The offending character's code point.
        code: u32,
    },
    /// The value starts or ends with white space, which the phone would strip.
    #[error("field {field}: value has leading or trailing white space, which the phone would strip")]
    SurroundingWhitespace {
        /// The field whose value was refused.
        field: String,
    },
    /// The value holds a character XML cannot represent at all (U+FFFE, U+FFFF).
    #[error("field {field}: value contains U+{code:04X}, which XML cannot carry")]
    UnencodableCharacter {
        /// The field whose value was refused.
        field: String,
        /// The offending character's code point.
        code: u32,
    },
    /// A value is longer than its field allows.
    #[error("field {field}: value is longer than {max} bytes")]
    TooLong {
        /// The field whose value was refused.
        field: String,
        /// The most bytes it may have.
        max: usize,
    },
    /// A value that goes into SIP (a URI's user part, the digest user name, the registrar's
    /// host) does not have SIP's shape.
    #[error("field {field}: {detail}")]
    InvalidSipValue {
        /// The field whose value was refused.
        field: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A setting's name is not a plain identifier (`a-z`, `0-9`, `_`, starting with a letter).
    #[error("{layer} setting {name:?}: a setting name is 1 to 64 of a-z, 0-9 and _, starting with a letter")]
    InvalidSettingName {
        /// The layer it was set in.
        layer: Layer,
        /// The refused name (truncated if long).
        name: String,
    },
    /// A template does not compile, or uses something templates may not use.
    #[error("template {template}{}: {detail}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    InvalidTemplate {
        /// The template's file (for an operator override, its path on disk).
        template: String,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        detail: String,
    },
    /// The operator's override directory holds a file that replaces no shipped template, or
    /// cannot be read.
    #[error("template override {path}: {detail}")]
    Override {
        /// The file or directory.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// Rendering failed: an undefined value, a value refused by the format, fuel exhausted.
    #[error("rendering {template}{}: {detail}", line.map(|l| format!(" line {l}")).unwrap_or_default())]
    Render {
        /// The template being rendered.
        template: String,
        /// The template line, when known.
        line: Option<usize>,
        /// What went wrong.
        detail: String,
    },
    /// The file cannot be rendered with what was given: no template, or secrets for a common file.
    #[error("{vendor} {pattern}: {detail}")]
    NotRenderable {
        /// The vendor.
        vendor: crate::Vendor,
        /// The file's pattern.
        pattern: &'static str,
        /// Why.
        detail: &'static str,
    },
    /// A config file could not be read back (linting, tests).
    #[error("{format} line {line}: {detail}")]
    Unreadable {
        /// The format being read.
        format: &'static str,
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        detail: String,
    },
    /// The vendor has no profile: sipprov only recognises it in User-Agents.
    #[error("sipprov has no profile for {vendor} (it is only recognised in User-Agents)")]
    NoProfile {
        /// The vendor.
        vendor: crate::Vendor,
    },
    /// A vendor name sipprov does not know.
    #[error(
        "unknown vendor {name:?} (known: yealink, polycom, cisco, snom, grandstream, fanvil, gigaset, linphone, mitel, alcatel, audiocodes, avaya, htek, panasonic, linksys, technicolor, patton, flyingvoice, digium)"
    )]
    UnknownVendor {
        /// The name given (truncated if long).
        name: String,
    },
}

impl TemplateError {
    /// The field whose value was refused, for the errors about one value.
    pub fn field(&self) -> Option<&str> {
        match self {
            TemplateError::ControlCharacter { field, .. }
            | TemplateError::SurroundingWhitespace { field }
            | TemplateError::UnencodableCharacter { field, .. }
            | TemplateError::TooLong { field, .. }
            | TemplateError::InvalidSipValue { field, .. } => Some(field),
            _ => None,
        }
    }
}
