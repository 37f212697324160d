//! Upload progress on a terminal: a reader that reports how much it has read.

use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

/// Wraps a reader of `total` bytes; draws a progress bar on stderr when it is a terminal.
pub(crate) struct Progress<R> {
    inner: R,
    total: u64,
    read: u64,
    visible: bool,
    last_drawn: Option<Instant>,
    finished: bool,
}

impl<R: Read> Progress<R> {
    pub(crate) fn new(inner: R, total: u64) -> Self {
        Self { inner, total, read: 0, visible: std::io::stderr().is_terminal(), last_drawn: None, finished: false }
    }

    fn draw(&mut self, done: bool) {
        if !self.visible || (!done && self.last_drawn.is_some_and(|at| at.elapsed() < Duration::from_millis(100))) {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let fraction = if self.total == 0 { 1.0 } else { self.read as f64 / self.total as f64 };
        let filled = (fraction.clamp(0.0, 1.0) * 30.0) as usize;
        let mut stderr = std::io::stderr().lock();
        let _ = write!(
            stderr,
            "\rimporting [{}{}] {:>3}%  {} / {} KiB{}",
            "#".repeat(filled),
            " ".repeat(30 - filled),
            (fraction * 100.0) as u32,
            self.read / 1024,
            self.total / 1024,
            if done { "\n" } else { "" }
        );
        let _ = stderr.flush();
    }
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        self.read += n as u64;
        if n == 0 && !std::mem::replace(&mut self.finished, true) {
            self.draw(true);
        } else if n > 0 {
            self.draw(false);
        }
        Ok(n)
    }
}
