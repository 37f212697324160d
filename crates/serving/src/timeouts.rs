//! Deadlines that keep slow or idle connections from holding resources.

use std::time::Duration;

/// Deadlines that keep slow or idle connections from holding resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From TCP accept to a finished TLS handshake.
    pub handshake: Duration,
    /// From connection start (or the end of the previous response) to a complete request head.
    pub request_header: Duration,
    /// After shutdown is asked for: how long in-flight requests may take to finish.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            handshake: Duration::from_secs(10),
            request_header: Duration::from_secs(10),
            drain: Duration::from_secs(30),
        }
    }
}
