//! A latency histogram for Prometheus: fixed buckets in seconds, counted without a lock.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Bucket bounds in seconds: from 0.5 ms (a poll answered from memory) to 10 s (a handshake at
/// its deadline, a commit behind a slow disk).
pub(crate) const BOUNDS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Observations of one series: a count per bucket (not cumulative), the sum in microseconds.
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; BOUNDS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    pub(crate) fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let bucket = BOUNDS.iter().position(|bound| seconds <= *bound).unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// How many observations there were.
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().map(|count| count.load(Ordering::Relaxed)).sum()
    }

    /// Writes the series' `_bucket`, `_sum` and `_count` lines, with `labels` (`key="value"`
    /// pairs, already escaped, or empty) on each.
    pub(crate) fn write(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (at, count) in self.buckets.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = BOUNDS.get(at).map_or_else(|| "+Inf".to_owned(), f64::to_string);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{braces} {sum}\n{name}_count{braces} {cumulative}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_end_in_the_count() {
        let histogram = Histogram::default();
        histogram.observe(Duration::from_micros(300));
        histogram.observe(Duration::from_millis(30));
        histogram.observe(Duration::from_secs(60));
        let mut out = String::new();
        histogram.write(&mut out, "h_seconds", "outcome=\"served\"");
        assert!(out.contains("h_seconds_bucket{outcome=\"served\",le=\"0.0005\"} 1\n"), "{out}");
        assert!(out.contains("h_seconds_bucket{outcome=\"served\",le=\"0.025\"} 1\n"), "{out}");
        assert!(out.contains("h_seconds_bucket{outcome=\"served\",le=\"0.05\"} 2\n"), "{out}");
        assert!(out.contains("h_seconds_bucket{outcome=\"served\",le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("h_seconds_sum{outcome=\"served\"} 60.0303\n"), "{out}");
        assert!(out.contains("h_seconds_count{outcome=\"served\"} 3\n"), "{out}");
    }
}
