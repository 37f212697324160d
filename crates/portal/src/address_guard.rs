//! Failed logins per client address: past [`MAX_FAILURES`] in [`WINDOW`], every login,
//! activation and password confirmation from that address is refused for [`LOCKOUT`]. This
//! stops a guesser spreading over many user names (each account also locks on its own, in the
//! store).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures an address may make in a window.
pub(crate) const MAX_FAILURES: u32 = 10;
/// The window failures are counted in.
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
/// How long an address stays locked out.
pub(crate) const LOCKOUT: Duration = Duration::from_secs(15 * 60);
/// The most addresses tracked; at the limit the oldest entries go first.
const MAX_ADDRESSES: usize = 100_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    since: Instant,
    locked_until: Option<Instant>,
}

/// Failed logins by address.
#[derive(Default)]
pub(crate) struct AddressGuard {
    by_address: Mutex<HashMap<IpAddr, Failures>>,
}

impl AddressGuard {
    /// Whether `ip` is locked out now.
    pub(crate) fn locked(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        self.lock().get(&ip).and_then(|f| f.locked_until).is_some_and(|until| now < until)
    }

    /// Counts a failure from `ip`; `true` when this one locks it out.
    pub(crate) fn failed(&self, ip: IpAddr) -> bool {
        let now = Instant::now();
        let mut table = self.lock();
        if table.len() >= MAX_ADDRESSES {
            table.retain(|_, f| now.duration_since(f.since) < WINDOW || f.locked_until.is_some_and(|u| now < u));
        }
        let entry = table.entry(ip).or_insert(Failures { count: 0, since: now, locked_until: None });
        if now.duration_since(entry.since) >= WINDOW {
            *entry = Failures { count: 0, since: now, locked_until: None };
        }
        entry.count += 1;
        if entry.count >= MAX_FAILURES && entry.locked_until.is_none() {
            entry.locked_until = Some(now + LOCKOUT);
            return true;
        }
        false
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Failures>> {
        self.by_address.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_locked_out_at_its_tenth_failure() {
        let guard = AddressGuard::default();
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 1..MAX_FAILURES {
            assert!(!guard.failed(ip));
            assert!(!guard.locked(ip));
        }
        assert!(guard.failed(ip), "the tenth failure locks");
        assert!(guard.locked(ip));
        assert!(!guard.failed(ip), "locked once, reported once");
        assert!(!guard.locked("192.0.2.8".parse().unwrap()), "other addresses are not affected");
    }
}
