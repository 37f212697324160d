//! Why a config file could not be rendered.

/// A value could not be written into a config file without changing its meaning.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The value holds a character the format cannot carry safely (CR, LF, NUL, other controls).
    #[error("field {field}: value contains control character U+{code:04X}, which this format cannot carry")]
    ControlCharacter {
        /// The config key whose value was refused.
        field: String,
        /// The offending character's code point.
        code: u32,
    },
    /// The value starts or ends with white space, which the phone would strip.
    #[error("field {field}: value has leading or trailing white space, which the phone would strip")]
    SurroundingWhitespace {
        /// The config key whose value was refused.
        field: String,
    },
}

impl RenderError {
    /// The config key whose value was refused.
    pub fn field(&self) -> &str {
        match self {
            RenderError::ControlCharacter { field, .. } | RenderError::SurroundingWhitespace { field } => field,
        }
    }
}
