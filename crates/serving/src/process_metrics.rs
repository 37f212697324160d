//! The standard `process_*` metrics every Prometheus client exports, read from `/proc/self`
//! at each scrape: CPU time, memory, descriptors, start time. Written here rather than taken
//! from a crate: five numbers from three small files, and nothing to read elsewhere than Linux
//! (where they are left out).

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Linux reports CPU times in clock ticks of `USER_HZ`, which is 100 on every architecture
/// the kernel exposes to user space.
const TICKS_PER_SECOND: f64 = 100.0;
/// `VmRSS` in `/proc/self/status` is in kB (KiB), whatever the page size.
const KIB: f64 = 1024.0;

/// When the process noted its start ([`note_start`]): the start time where `/proc/stat` is hidden
/// (systemd's `ProcSubset=pid`).
static STARTED: LazyLock<f64> =
    LazyLock::new(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |since| since.as_secs_f64()));

/// Notes the start time now, for when the boot time cannot be read later.
pub(crate) fn note_start() {
    LazyLock::force(&STARTED);
}

/// Appends the `process_*` families to `out`; nothing where `/proc` cannot be read.
pub(crate) fn write(out: &mut String) {
    let stat = std::fs::read_to_string("/proc/self/stat").ok();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .as_deref()
        .and_then(|s| s.rsplit_once(')'))
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |n: usize| fields.get(n - 3).and_then(|v| v.parse::<f64>().ok());
    if let (Some(utime), Some(stime)) = (field(14), field(15)) {
        family(
            out,
            "process_cpu_seconds_total",
            "counter",
            "User and system CPU time spent, in seconds.",
            (utime + stime) / TICKS_PER_SECOND,
        );
    }
    let started = match (field(22), boot_time()) {
        (Some(started), Some(boot)) => boot + started / TICKS_PER_SECOND,
        _ => *STARTED,
    };
    let help = "Start time of the process since the Unix epoch, in seconds.";
    family(out, "process_start_time_seconds", "gauge", help, started);
    if let Some(virtual_bytes) = field(23) {
        family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size, in bytes.", virtual_bytes);
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let resident = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok());
    if let Some(resident) = resident {
        family(out, "process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.", resident * KIB);
    }
    if let Ok(descriptors) = std::fs::read_dir("/proc/self/fd") {
        family(out, "process_open_fds", "gauge", "Open file descriptors.", descriptors.count() as f64);
    }
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let max_fds = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok());
    if let Some(max_fds) = max_fds {
        family(out, "process_max_fds", "gauge", "The most file descriptors the process may open.", max_fds);
    }
}

/// When the machine booted, in seconds since the Unix epoch (`btime` of `/proc/stat`).
fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|line| line.strip_prefix("btime "))?.trim().parse().ok()
}

fn family(out: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_process_reports_itself() {
        let mut out = String::new();
        write(&mut out);
        let value = |name: &str| -> f64 {
            let line = out.lines().find(|line| line.starts_with(&format!("{name} "))).unwrap_or_default();
            line.rsplit(' ').next().and_then(|v| v.parse().ok()).unwrap_or(-1.0)
        };
        assert!(value("process_resident_memory_bytes") > 1_000_000.0, "{out}");
        assert!(value("process_open_fds") >= 3.0, "{out}");
        assert!(value("process_max_fds") >= value("process_open_fds"), "{out}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(started > now - 3600.0 && started <= now + 5.0, "{started} vs {now}");
        assert!(value("process_cpu_seconds_total") >= 0.0, "{out}");
    }
}
