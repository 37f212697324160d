//! Where log lines go: stderr, written in batches.
//!
//! A boot storm logs one line per request. Written one system call per line, the log cost a
//! poll about 4 % of the throughput (measured with `sipprov bench`), as much as reading the
//! device from the store. Lines are therefore gathered in memory and written together: every
//! `[logging] flush_ms` (100 by default), as soon as [`FULL`] bytes wait, at once for a warning
//! or an error (after every line before it, so the order is kept), before a panic's message,
//! and when the daemon exits. A crash loses at most the last interval's lines below warning;
//! audit events are committed to the store before any answer goes out, whatever happens to the
//! log. `flush_ms = 0` writes each line as it comes.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Bytes waiting that are written at once, without waiting for the interval.
pub const FULL: usize = 64 * 1024;

/// The log lines not yet written to stderr.
#[derive(Debug)]
pub struct LogOutput {
    pending: Mutex<Vec<u8>>,
    /// Whether lines wait for the interval at all (`flush_ms` > 0).
    batched: bool,
}

static OUTPUT: OnceLock<LogOutput> = OnceLock::new();

impl LogOutput {
    /// The process's log output, writing every `flush_ms` milliseconds (0: every line at once).
    /// The first call fixes the interval and starts the thread that keeps it.
    pub fn install(flush_ms: u64) -> &'static LogOutput {
        let mut started = false;
        let output = OUTPUT.get_or_init(|| {
            started = true;
            LogOutput { pending: Mutex::new(Vec::with_capacity(FULL)), batched: flush_ms > 0 }
        });
        if started {
            // A panic's message goes straight to stderr: the lines before it go first. (A
            // panic while the lines are being written leaves them to that write.)
            let report = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if let Ok(mut pending) = output.pending.try_lock() {
                    write_out(&mut pending);
                }
                report(info);
            }));
        }
        if started && output.batched {
            let interval = Duration::from_millis(flush_ms);
            // If the thread cannot start, lines still go out when FULL bytes wait, at a
            // warning and at exit.
            let _ = std::thread::Builder::new().name("sipprov-log".into()).spawn(move || {
                loop {
                    std::thread::sleep(interval);
                    output.flush();
                }
            });
        }
        output
    }

    /// Writes every waiting line now; a no-op before [`LogOutput::install`]. Called at exit.
    pub fn flush_installed() {
        if let Some(output) = OUTPUT.get() {
            output.flush();
        }
    }

    /// Writes every waiting line now.
    pub fn flush(&self) {
        write_out(&mut self.pending());
    }

    fn pending(&self) -> MutexGuard<'_, Vec<u8>> {
        // Only whole lines are appended: a poisoned buffer is still one to write.
        self.pending.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Writes `pending` to stderr and empties it. A daemon keeps serving when the pipe reading its
/// log goes away, so a failed write is dropped.
fn write_out(pending: &mut Vec<u8>) {
    if !pending.is_empty() {
        let _ = std::io::stderr().lock().write_all(pending);
        pending.clear();
    }
}

/// One event's writer: appends to the waiting lines, and writes them out when it is dropped
/// if the event is urgent (a warning or an error) or lines are not batched.
#[derive(Debug)]
pub struct EventWriter<'a> {
    output: &'a LogOutput,
    urgent: bool,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.output.pending();
        pending.extend_from_slice(line);
        if pending.len() >= FULL {
            write_out(&mut pending);
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        if self.urgent || !self.output.batched {
            self.output.flush();
        }
    }
}

impl MakeWriter<'_> for &'static LogOutput {
    type Writer = EventWriter<'static>;

    fn make_writer(&self) -> Self::Writer {
        EventWriter { output: self, urgent: true }
    }

    fn make_writer_for(&self, meta: &Metadata<'_>) -> Self::Writer {
        EventWriter { output: self, urgent: is_urgent(*meta.level()) }
    }
}

/// A warning or an error is written at once (tracing orders levels from ERROR up to TRACE).
fn is_urgent(level: Level) -> bool {
    level <= Level::WARN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(output: &LogOutput) -> Vec<u8> {
        output.pending().clone()
    }

    #[test]
    fn info_lines_wait_and_warnings_write_everything_before_them() {
        let output = LogOutput { pending: Mutex::new(Vec::new()), batched: true };
        let mut info = EventWriter { output: &output, urgent: false };
        info.write_all(b"one\n").unwrap();
        drop(info);
        assert_eq!(waiting(&output), b"one\n", "an info line waits for the interval");
        let mut warning = EventWriter { output: &output, urgent: true };
        warning.write_all(b"two\n").unwrap();
        assert_eq!(waiting(&output), b"one\ntwo\n");
        drop(warning);
        assert!(waiting(&output).is_empty(), "a warning writes itself and what came before it");
    }

    #[test]
    fn unbatched_output_writes_every_line_and_a_full_buffer_goes_out_at_once() {
        let unbatched = LogOutput { pending: Mutex::new(Vec::new()), batched: false };
        let mut info = EventWriter { output: &unbatched, urgent: false };
        info.write_all(b"line\n").unwrap();
        drop(info);
        assert!(waiting(&unbatched).is_empty(), "flush_ms = 0 writes each line as it comes");

        let batched = LogOutput { pending: Mutex::new(Vec::new()), batched: true };
        let mut info = EventWriter { output: &batched, urgent: false };
        info.write_all(&vec![b'x'; FULL - 1]).unwrap();
        assert_eq!(waiting(&batched).len(), FULL - 1);
        info.write_all(b"\n").unwrap();
        assert!(waiting(&batched).is_empty(), "FULL bytes are written without waiting");
    }

    #[test]
    fn warnings_and_errors_are_urgent() {
        assert!(is_urgent(Level::ERROR));
        assert!(is_urgent(Level::WARN));
        assert!(!is_urgent(Level::INFO));
        assert!(!is_urgent(Level::DEBUG));
    }
}
