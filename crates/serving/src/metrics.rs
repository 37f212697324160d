//! Metrics for Prometheus: what both listeners and the daemon's jobs did since the process
//! started. Every label value a family can take is present from the start (at zero), so a
//! dashboard or an alert never waits for a first event; names and units follow Prometheus'
//! conventions (`_total` counters, `_seconds`, `_bytes`, `_timestamp_seconds`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use crate::histogram::Histogram;

/// Why a phone connection got no TLS session: the `reason` of
/// `sipprov_tls_handshake_failures_total`.
pub const HANDSHAKE_FAILURES: [&str; 8] =
    ["no_certificate", "untrusted", "expired", "revoked", "timeout", "banned", "busy", "protocol"];

/// What one background job did.
#[derive(Debug, Default, Clone, Copy)]
struct JobStats {
    runs: u64,
    failures: u64,
    last_success: Option<u64>,
}

/// The counters and histograms, rendered by the admin listener's `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Phone requests by outcome: count and duration.
    requests: Mutex<BTreeMap<&'static str, Histogram>>,
    /// Completed phone TLS handshakes, from accept to the session.
    handshakes: Histogram,
    /// Failed handshakes by reason, in [`HANDSHAKE_FAILURES`] order.
    handshake_failures: [AtomicU64; HANDSHAKE_FAILURES.len()],
    /// Store calls on the phone path (the device read, a delivery's commit).
    store_calls: Histogram,
    /// Store calls on the phone path that failed.
    pub store_errors: AtomicU64,
    /// Background jobs by name.
    jobs: Mutex<BTreeMap<&'static str, JobStats>>,
    /// Admin API calls by route (method, path template) and status class.
    admin_calls: Mutex<BTreeMap<(&'static str, &'static str, &'static str), u64>>,
    /// Server certificates' expiry by listener, seconds since the Unix epoch.
    certificate_expiry: Mutex<BTreeMap<&'static str, u64>>,
    /// `version` and `commit` of the running build.
    build: OnceLock<(String, String)>,
    /// Connections closed before TLS by the rate limiter or the source allow-list.
    pub connections_refused: AtomicU64,
    /// TLS handshakes that failed or passed their deadline.
    pub handshakes_refused: AtomicU64,
    /// Bans decided by the scan detector.
    pub bans: AtomicU64,
    /// Reloads of trust anchors, templates and server certificates.
    pub reloads: AtomicU64,
    /// Reloads refused (the new files did not load; the old ones stay in force).
    pub reloads_refused: AtomicU64,
}

/// The status classes admin calls are counted by.
const STATUS_CLASSES: [&str; 4] = ["2xx", "3xx", "4xx", "5xx"];

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Metrics {
    /// Metrics for a process starting now.
    pub fn new() -> Self {
        crate::process_metrics::note_start();
        Self::default()
    }

    /// Makes every phone request outcome a series from the start.
    pub fn register_outcomes(&self, outcomes: &[&'static str]) {
        let mut requests = lock(&self.requests);
        for outcome in outcomes {
            requests.entry(outcome).or_default();
        }
    }

    /// Counts one phone request with its outcome and how long it took.
    pub fn count_request(&self, outcome: &'static str, took: Duration) {
        lock(&self.requests).entry(outcome).or_default().observe(took);
    }

    /// How many phone requests had `outcome`.
    pub fn requests(&self, outcome: &str) -> u64 {
        lock(&self.requests).get(outcome).map_or(0, Histogram::count)
    }

    /// A phone TLS handshake completed in `took`.
    pub fn handshake_completed(&self, took: Duration) {
        self.handshakes.observe(took);
    }

    /// A phone connection got no TLS session, for `reason` (one of [`HANDSHAKE_FAILURES`]).
    pub fn handshake_failed(&self, reason: &str) {
        let at = HANDSHAKE_FAILURES.iter().position(|known| *known == reason).unwrap_or(HANDSHAKE_FAILURES.len() - 1);
        self.handshake_failures[at].fetch_add(1, Ordering::Relaxed);
    }

    /// A store call on the phone path took `took` and succeeded or not.
    pub fn store_call(&self, took: Duration, ok: bool) {
        self.store_calls.observe(took);
        if !ok {
            self.store_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Makes a background job's series exist before its first run.
    pub fn register_job(&self, job: &'static str) {
        lock(&self.jobs).entry(job).or_default();
    }

    /// A background job ran at `now` (seconds since the Unix epoch), successfully or not.
    pub fn job_ran(&self, job: &'static str, ok: bool, now: u64) {
        let mut jobs = lock(&self.jobs);
        let stats = jobs.entry(job).or_default();
        stats.runs += 1;
        if ok {
            stats.last_success = Some(now);
        } else {
            stats.failures += 1;
        }
    }

    /// Makes every admin route (method, path template) a series of each status class from the
    /// start.
    pub fn register_admin_routes(&self, routes: impl IntoIterator<Item = (&'static str, &'static str)>) {
        let mut calls = lock(&self.admin_calls);
        for (method, path) in routes {
            for class in STATUS_CLASSES {
                calls.entry((method, path, class)).or_default();
            }
        }
    }

    /// Counts one admin call to the route `method` `path` answered with `status`.
    pub fn count_admin_call(&self, method: &'static str, path: &'static str, status: u16) {
        let class = STATUS_CLASSES.get(usize::from(status / 100).saturating_sub(2)).copied().unwrap_or("5xx");
        *lock(&self.admin_calls).entry((method, path, class)).or_default() += 1;
    }

    /// When `listener`'s server certificate expires, in seconds since the Unix epoch.
    pub fn set_certificate_expiry(&self, listener: &'static str, not_after: u64) {
        lock(&self.certificate_expiry).insert(listener, not_after);
    }

    /// The running build, for `sipprov_build_info`; the first call wins.
    pub fn set_build_info(&self, version: &str, commit: &str) {
        let _ = self.build.set((version.to_owned(), commit.to_owned()));
    }

    /// The Prometheus text exposition format (version 0.0.4). `counters` and `gauges` are kept
    /// elsewhere (name, help, value): counters only ever grow.
    pub fn render(&self, counters: &[(&str, &str, u64)], gauges: &[(&str, &str, u64)]) -> String {
        let mut out = String::new();
        let header = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        let requests = lock(&self.requests);
        header(&mut out, "sipprov_phone_requests_total", "counter", "Phone requests by outcome.");
        for (outcome, histogram) in requests.iter() {
            let _ = writeln!(out, "sipprov_phone_requests_total{{outcome=\"{outcome}\"}} {}", histogram.count());
        }
        let name = "sipprov_phone_request_duration_seconds";
        header(&mut out, name, "histogram", "Phone requests from arrival to answer, by outcome, in seconds.");
        for (outcome, histogram) in requests.iter() {
            histogram.write(&mut out, name, &format!("outcome=\"{outcome}\""));
        }
        drop(requests);

        let name = "sipprov_tls_handshake_duration_seconds";
        header(&mut out, name, "histogram", "Completed phone TLS handshakes, from accept to the session, in seconds.");
        self.handshakes.write(&mut out, name, "");
        let name = "sipprov_tls_handshake_failures_total";
        header(&mut out, name, "counter", "Phone connections that got no TLS session, by reason.");
        for (reason, count) in HANDSHAKE_FAILURES.iter().zip(&self.handshake_failures) {
            let _ = writeln!(out, "{name}{{reason=\"{reason}\"}} {}", count.load(Ordering::Relaxed));
        }

        let name = "sipprov_store_call_duration_seconds";
        header(
            &mut out,
            name,
            "histogram",
            "Store calls on the phone path (device reads, delivery commits), in seconds.",
        );
        self.store_calls.write(&mut out, name, "");

        let jobs = lock(&self.jobs).clone();
        header(&mut out, "sipprov_job_runs_total", "counter", "Background job runs.");
        for (job, stats) in &jobs {
            let _ = writeln!(out, "sipprov_job_runs_total{{job=\"{job}\"}} {}", stats.runs);
        }
        header(&mut out, "sipprov_job_failures_total", "counter", "Background job runs that failed.");
        for (job, stats) in &jobs {
            let _ = writeln!(out, "sipprov_job_failures_total{{job=\"{job}\"}} {}", stats.failures);
        }
        let name = "sipprov_job_last_success_timestamp_seconds";
        header(
            &mut out,
            name,
            "gauge",
            "When each background job last succeeded (0: not yet), seconds since the Unix epoch.",
        );
        for (job, stats) in &jobs {
            let _ = writeln!(out, "{name}{{job=\"{job}\"}} {}", stats.last_success.unwrap_or(0));
        }

        let name = "sipprov_admin_requests_total";
        header(&mut out, name, "counter", "Admin API calls by route and status class (`unmatched`: no route).");
        for ((method, path, class), count) in lock(&self.admin_calls).iter() {
            let _ = writeln!(out, "{name}{{method=\"{method}\",route=\"{path}\",status=\"{class}\"}} {count}");
        }

        let expiry = lock(&self.certificate_expiry).clone();
        let name = "sipprov_server_certificate_expiry_timestamp_seconds";
        header(
            &mut out,
            name,
            "gauge",
            "When each listener's server certificate expires, seconds since the Unix epoch.",
        );
        for (listener, not_after) in expiry {
            let _ = writeln!(out, "{name}{{listener=\"{listener}\"}} {not_after}");
        }

        if let Some((version, commit)) = self.build.get() {
            header(
                &mut out,
                "sipprov_build_info",
                "gauge",
                "The running build: always 1, its version and commit as labels.",
            );
            let (version, commit) = (escape(version), escape(commit));
            let _ = writeln!(out, "sipprov_build_info{{version=\"{version}\",commit=\"{commit}\"}} 1");
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
            ("sipprov_store_errors_total", "Store calls on the phone path that failed.", &self.store_errors),
            ("sipprov_bans_total", "Bans decided by the scan detector.", &self.bans),
            (
                "sipprov_reloads_total",
                "Reloads of trust anchors, templates and server certificates applied.",
                &self.reloads,
            ),
            ("sipprov_reloads_refused_total", "Reloads refused (the old configuration stayed).", &self.reloads_refused),
        ];
        for (name, help, value) in own {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }
        for (name, help, value) in counters {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        for (name, help, value) in gauges {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        crate::process_metrics::write(&mut out);
        out
    }
}

/// A family of one label kept elsewhere (`name{label="value"} count` for each value), in the
/// text format, for [`Metrics::render`]'s callers to append: `kind` is `counter` or `gauge`.
pub fn write_family<V: std::fmt::Display>(
    out: &mut String,
    (name, kind, help): (&str, &str, &str),
    label: &str,
    values: impl IntoIterator<Item = (V, u64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    for (value, count) in values {
        let _ = writeln!(out, "{name}{{{label}=\"{}\"}} {count}", escape(&value.to_string()));
    }
}

/// A label value as the text format needs it: backslash, quote and line break escaped.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn every_series_is_there_from_the_start_and_counts_in_the_text_format() {
        let metrics = Metrics::default();
        metrics.register_outcomes(&["served_with_secrets", "mac_mismatch", "not_enrolled"]);
        metrics.register_job("expiry sweep");
        metrics.register_admin_routes([("GET", "/v1/devices")]);
        metrics.set_build_info("0.1.0", "abc\"def");
        let fresh = metrics.render(&[], &[]);
        assert!(fresh.contains("sipprov_phone_requests_total{outcome=\"not_enrolled\"} 0\n"), "{fresh}");
        assert!(fresh.contains("sipprov_tls_handshake_failures_total{reason=\"busy\"} 0\n"), "{fresh}");
        assert!(fresh.contains("sipprov_job_last_success_timestamp_seconds{job=\"expiry sweep\"} 0\n"), "{fresh}");
        assert!(
            fresh.contains("sipprov_admin_requests_total{method=\"GET\",route=\"/v1/devices\",status=\"5xx\"} 0\n")
        );
        assert!(fresh.contains("sipprov_build_info{version=\"0.1.0\",commit=\"abc\\\"def\"} 1\n"), "{fresh}");

        metrics.count_request("served_with_secrets", Duration::from_millis(3));
        metrics.count_request("served_with_secrets", Duration::from_millis(3));
        metrics.count_request("mac_mismatch", Duration::from_millis(1));
        metrics.handshake_failed("expired");
        metrics.handshake_failed("something else");
        metrics.job_ran("expiry sweep", true, 1_800_000_000);
        metrics.job_ran("expiry sweep", false, 1_800_000_060);
        metrics.count_admin_call("GET", "/v1/devices", 404);
        metrics.bans.fetch_add(1, Ordering::Relaxed);
        let text = metrics
            .render(&[("sipprov_dropped_total", "Dropped.", 2)], &[("sipprov_active_bans", "Bans in force.", 3)]);
        assert!(text.contains("# TYPE sipprov_dropped_total counter\nsipprov_dropped_total 2\n"), "{text}");
        assert!(text.contains("sipprov_phone_requests_total{outcome=\"served_with_secrets\"} 2\n"), "{text}");
        assert!(text.contains(
            "sipprov_phone_request_duration_seconds_bucket{outcome=\"served_with_secrets\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains("sipprov_phone_requests_total{outcome=\"mac_mismatch\"} 1\n"), "{text}");
        assert!(text.contains("sipprov_tls_handshake_failures_total{reason=\"expired\"} 1\n"), "{text}");
        assert!(text.contains("sipprov_tls_handshake_failures_total{reason=\"protocol\"} 1\n"), "{text}");
        assert!(text.contains("sipprov_job_runs_total{job=\"expiry sweep\"} 2\n"), "{text}");
        assert!(text.contains("sipprov_job_failures_total{job=\"expiry sweep\"} 1\n"), "{text}");
        assert!(text.contains("sipprov_job_last_success_timestamp_seconds{job=\"expiry sweep\"} 1800000000\n"));
        assert!(text.contains("sipprov_admin_requests_total{method=\"GET\",route=\"/v1/devices\",status=\"4xx\"} 1\n"));
        assert!(text.contains("# TYPE sipprov_bans_total counter\nsipprov_bans_total 1\n"), "{text}");
        assert!(text.contains("# TYPE sipprov_active_bans gauge\nsipprov_active_bans 3\n"), "{text}");
        assert_eq!(metrics.requests("served_with_secrets"), 2);
    }
}
