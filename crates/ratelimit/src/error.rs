//! What can be wrong with the settings and keys this crate is handed.

/// A setting, rate or key that cannot be used. Decisions about clients are not errors: they are
/// [`GateRefusal`](crate::GateRefusal)s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Text that should name an address or a network (`192.0.2.7`, `2001:db8::/64`) does not.
    #[error("{input:?} is not an address or prefix: {reason}")]
    InvalidPrefix {
        /// The text given (truncated if long, so hostile input cannot flood a log).
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A rate limit that would admit nothing or divide by zero.
    #[error("invalid rate limit: {reason}")]
    InvalidRate {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A policy setting outside the range that keeps the limiter meaningful.
    #[error("invalid policy setting `{setting}`: {reason}")]
    InvalidPolicy {
        /// The setting's name, as spelled in [`Policy`](crate::Policy).
        setting: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    pub(crate) fn invalid_prefix(input: &str, reason: &'static str) -> Self {
        const SHOWN: usize = 64;
        let input = match input.char_indices().nth(SHOWN) {
            Some((cut, _)) => format!("{}...", &input[..cut]),
            None => input.to_owned(),
        };
        Self::InvalidPrefix { input, reason }
    }

    pub(crate) fn invalid_policy(setting: &'static str, reason: &'static str) -> Self {
        Self::InvalidPolicy { setting, reason }
    }
}
