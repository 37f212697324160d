//! The import body as a blocking reader: the request body streams in on the async side and is
//! read, while it arrives, by a parser on a blocking thread.
//!
//! It also strips a leading UTF-8 byte order mark (what Excel's "CSV UTF-8" writes) and stops a
//! row that never ends: the parser marks where each row ends, and a reader that has run far
//! past that mark fails with a sentence saying so.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hyper::body::Bytes;
use tokio::sync::mpsc;

/// What the async side sends: a piece of the body, or why the body could not be read.
pub(crate) type Chunk = Result<Bytes, String>;

/// How many pieces of the body may wait for the parser: the rest waits in the client's socket.
pub(crate) const CHUNKS_IN_FLIGHT: usize = 16;

/// A blocking [`Read`] over the chunks of a body.
pub(crate) struct BodyReader {
    chunks: mpsc::Receiver<Chunk>,
    current: Bytes,
    /// Bytes handed to the parser so far (a byte order mark is not handed over).
    read: u64,
    /// Where the last complete row ended, as the parser reports it.
    row_end: Arc<AtomicU64>,
    /// The longest row the parser accepts.
    longest_row: u64,
    at_start: bool,
}

/// The parser's handle to tell the reader where a row ended.
#[derive(Clone)]
pub(crate) struct RowEnd(Arc<AtomicU64>);

impl RowEnd {
    pub(crate) fn set(&self, offset: u64) {
        self.0.store(offset, Ordering::Relaxed);
    }
}

impl BodyReader {
    /// A reader of `chunks` for a parser that accepts rows of up to `longest_row` bytes.
    pub(crate) fn new(chunks: mpsc::Receiver<Chunk>, longest_row: usize) -> (Self, RowEnd) {
        let row_end = Arc::new(AtomicU64::new(0));
        let reader = Self {
            chunks,
            current: Bytes::new(),
            read: 0,
            row_end: Arc::clone(&row_end),
            longest_row: longest_row as u64,
            at_start: true,
        };
        (reader, RowEnd(row_end))
    }

    /// The next non-empty chunk, or `None` at the end of the body.
    fn fill(&mut self) -> io::Result<bool> {
        while self.current.is_empty() {
            match self.chunks.blocking_recv() {
                None => return Ok(false),
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(message)) => return Err(io::Error::other(message)),
            }
        }
        Ok(true)
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.fill()? {
            return Ok(0);
        }
        if std::mem::take(&mut self.at_start) {
            // Only the body's first bytes can be a byte order mark; chunks may split it.
            let mut head = Vec::with_capacity(3);
            while head.len() < 3 && self.fill()? {
                let take = (3 - head.len()).min(self.current.len());
                head.extend_from_slice(&self.current.split_to(take));
            }
            if head != b"\xEF\xBB\xBF" {
                head.extend_from_slice(&self.current);
                self.current = Bytes::from(head);
            }
            if !self.fill()? {
                return Ok(0);
            }
        }
        let since_row = self.read.saturating_sub(self.row_end.load(Ordering::Relaxed));
        // Reads run ahead of the parser by its buffers, at most a few rows' worth.
        if since_row > 4 * self.longest_row {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("a row is longer than {} KiB (a quote that is never closed?)", self.longest_row / 1024),
            ));
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        self.read += n as u64;
        Ok(n)
    }
}
