//! Counters for Prometheus: what the phone listener did since the process started.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The phone listener's counters, rendered by the admin listener's `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Phone requests by outcome (`served_with_secrets`, `mac_mismatch`, ...).
    requests: Mutex<BTreeMap<&'static str, u64>>,
    /// Connections closed before TLS by the rate limiter or the source allow-list.
    pub connections_refused: AtomicU64,
    /// TLS handshakes that failed or passed their deadline.
    pub handshakes_refused: AtomicU64,
    /// Bans decided by the scan detector.
    pub bans: AtomicU64,
    /// Reloads of trust anchors and templates.
    pub reloads: AtomicU64,
    /// Reloads refused (the new files did not load; the old ones stay in force).
    pub reloads_refused: AtomicU64,
}

impl Metrics {
    /// Counts one phone request with its outcome.
    pub fn count_request(&self, outcome: &'static str) {
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *requests.entry(outcome).or_default() += 1;
    }

    /// How many phone requests had `outcome`.
    pub fn requests(&self, outcome: &str) -> u64 {
        let requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        requests.get(outcome).copied().unwrap_or(0)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    /// `counters` and `gauges` are kept elsewhere (name, help, value): counters only ever grow.
    pub fn render(&self, counters: &[(&str, &str, u64)], gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        out.push_str("# HELP sipprov_phone_requests_total Phone requests by outcome.\n");
        out.push_str("# TYPE sipprov_phone_requests_total counter\n");
        let requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        for (outcome, count) in requests {
            let _ = writeln!(out, "sipprov_phone_requests_total{{outcome=\"{outcome}\"}} {count}");
        }
        let own = [
            (
                "sipprov_connections_refused_total",
                "Connections closed before TLS (limits, bans, allow-list).",
                &self.connections_refused,
            ),
            (
                "sipprov_handshakes_refused_total",
                "TLS handshakes refused or past their deadline.",
                &self.handshakes_refused,
            ),
            ("sipprov_bans_total", "Bans decided by the scan detector.", &self.bans),
            ("sipprov_reloads_total", "Reloads of trust anchors and templates applied.", &self.reloads),
            ("sipprov_reloads_refused_total", "Reloads refused (the old configuration stayed).", &self.reloads_refused),
        ];
        for (name, help, value) in own {
            let _ =
                writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", value.load(Ordering::Relaxed));
        }
        for (name, help, value) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}");
        }
        for (name, help, value) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn renders_counters_by_outcome_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.count_request("served_with_secrets");
        metrics.count_request("served_with_secrets");
        metrics.count_request("mac_mismatch");
        metrics.bans.fetch_add(1, Ordering::Relaxed);
        let text = metrics
            .render(&[("sipprov_dropped_total", "Dropped.", 2)], &[("sipprov_active_bans", "Bans in force.", 3)]);
        assert!(text.contains("# TYPE sipprov_dropped_total counter\nsipprov_dropped_total 2\n"), "{text}");
        assert!(text.contains("sipprov_phone_requests_total{outcome=\"served_with_secrets\"} 2\n"), "{text}");
        assert!(text.contains("sipprov_phone_requests_total{outcome=\"mac_mismatch\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE sipprov_bans_total counter\nsipprov_bans_total 1\n"), "{text}");
        assert!(text.contains("# TYPE sipprov_active_bans gauge\nsipprov_active_bans 3\n"), "{text}");
        assert_eq!(metrics.requests("served_with_secrets"), 2);
    }
}
