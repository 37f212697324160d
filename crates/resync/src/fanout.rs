//! Many phones at once, without a storm: a bounded number of transactions in flight, started
//! at a bounded rate, each phone's outcome reported.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::transaction::{self, Timers, TransactionError};
use crate::{Notify, Proxy};

/// One phone to ask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The caller's name for it (a MAC), carried into its result.
    pub label: String,
    /// Its address of record, `sip:user@domain`.
    pub aor: String,
    /// The `Event` its vendor understands ([`resync_event`](crate::resync_event)).
    pub event: &'static str,
}

/// How a NOTIFY ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the phone accepted; it fetches its configuration.
    Accepted(u16),
    /// 405, 481, 489, 501: the phone does not take this event (or NOTIFY without a subscription).
    NotSupported(u16),
    /// 404, 410, 480: the proxy knows no registration of this address.
    NotRegistered(u16),
    /// Timer F fired, or the proxy answered 408: nothing answered in time.
    Timeout,
    /// Any other final response.
    Refused(u16, String),
    /// The proxy could not be reached.
    Failed(String),
}

impl Outcome {
    /// A response's outcome.
    pub fn of(status: u16, reason: &str) -> Self {
        match status {
            200..=299 => Outcome::Accepted(status),
            405 | 481 | 489 | 501 => Outcome::NotSupported(status),
            404 | 410 | 480 => Outcome::NotRegistered(status),
            408 => Outcome::Timeout,
            _ => Outcome::Refused(status, reason.to_owned()),
        }
    }

    /// Its name in tables, JSON and audit details.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Accepted(_) => "accepted",
            Outcome::NotSupported(_) => "not-supported",
            Outcome::NotRegistered(_) => "not-registered",
            Outcome::Timeout => "timeout",
            Outcome::Refused(..) => "refused",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The final response's status code, if one came.
    pub fn status(&self) -> Option<u16> {
        match self {
            Outcome::Accepted(status)
            | Outcome::NotSupported(status)
            | Outcome::NotRegistered(status)
            | Outcome::Refused(status, _) => Some(*status),
            Outcome::Timeout | Outcome::Failed(_) => None,
        }
    }
}

/// Sends re-sync NOTIFYs through one proxy.
#[derive(Debug, Clone)]
pub struct Resyncer {
    /// Where they go.
    pub proxy: Proxy,
    /// Who asks (`sip:provisioning@domain`).
    pub from: String,
    /// The transaction timers.
    pub timers: Timers,
    /// Transactions started per second, at most.
    pub per_second: u32,
    /// Transactions in flight, at most.
    pub concurrency: usize,
}

impl Resyncer {
    /// Asks every target, `concurrency` at a time and `per_second` at most; the results in
    /// the targets' order. Returns when every transaction has ended (Timer F bounds each).
    pub fn resync(&self, targets: Vec<Target>) -> Vec<(Target, Outcome)> {
        let count = targets.len();
        let queue = Mutex::new(targets.into_iter().enumerate().collect::<VecDeque<_>>());
        let results = Mutex::new(Vec::with_capacity(count));
        let pace = Duration::from_secs(1) / self.per_second.max(1);
        let next_start = Mutex::new(Instant::now());
        std::thread::scope(|scope| {
            for _ in 0..self.concurrency.clamp(1, count.max(1)) {
                scope.spawn(|| {
                    loop {
                        let Some((index, target)) = lock(&queue).pop_front() else { return };
                        let start = {
                            let mut next = lock(&next_start);
                            let start = (*next).max(Instant::now());
                            *next = start + pace;
                            start
                        };
                        std::thread::sleep(start.saturating_duration_since(Instant::now()));
                        let outcome = self.ask(&target);
                        lock(&results).push((index, target, outcome));
                    }
                });
            }
        });
        let mut results = results.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        results.sort_by_key(|(index, ..)| *index);
        results.into_iter().map(|(_, target, outcome)| (target, outcome)).collect()
    }

    /// One NOTIFY to one phone.
    pub fn ask(&self, target: &Target) -> Outcome {
        let notify = Notify {
            target: target.aor.clone(),
            from: self.from.clone(),
            proxy: self.proxy.address(),
            transport: self.proxy.transport,
            event: target.event,
            branch: format!("z9hG4bK-{}", random_hex()),
            tag: random_hex(),
            call_id: format!("{}@sipprov", random_hex()),
        };
        let outcome = match transaction::send(&self.proxy, &notify, self.timers) {
            Ok(response) => Outcome::of(response.status, &response.reason),
            Err(TransactionError::Timeout(_)) => Outcome::Timeout,
            Err(TransactionError::Transport(reason)) => Outcome::Failed(reason),
        };
        tracing::debug!(target = %target.label, event = target.event, outcome = outcome.name(), "re-sync NOTIFY");
        outcome
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// 16 random bytes in hex: branches, tags and Call-IDs nobody can guess.
fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    // Without randomness the identifiers are still distinct per process and moment.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        bytes = nanos.to_le_bytes();
    }
    hex::encode(bytes)
}
