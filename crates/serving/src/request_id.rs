//! Request ids: one per request, on its log line, so a line can be found again (a support case,
//! a SIEM query) and two lines about one request tied together.

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// A request's id: 16 hex digits, a random prefix per process and a counter, so ids from
/// several nodes or restarts do not collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId(u64);

/// The random half, drawn once per process (the standard library's randomly keyed hasher).
static PROCESS: LazyLock<u32> = LazyLock::new(|| RandomState::new().hash_one(std::process::id()) as u32);
static COUNTER: AtomicU32 = AtomicU32::new(0);

impl RequestId {
    /// The next id of this process.
    pub fn next() -> Self {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self(u64::from(*PROCESS) << 32 | u64::from(n))
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_and_share_the_process_prefix() {
        let (a, b) = (RequestId::next(), RequestId::next());
        assert_ne!(a, b);
        let (a, b) = (a.to_string(), b.to_string());
        assert_eq!((a.len(), b.len()), (16, 16));
        assert_eq!(a[..8], b[..8]);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
