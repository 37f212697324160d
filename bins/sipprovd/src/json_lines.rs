//! The JSON log format: one object per line, written straight into the line's buffer.
//!
//! The lines are those of tracing-subscriber's JSON formatter with `flatten_event(true)` and no
//! span: `timestamp` (UTC, microseconds), `level`, the event's fields in order (`message`
//! first), `target`. That formatter builds a serializer, a timestamp string and a formatted
//! string per `Display` field for every line; a boot storm logs one line per request and one
//! per audit event, and writing them directly takes about half the time (see
//! `docs/performance.md`). `the_lines_are_those_of_the_json_formatter` holds the two to the
//! same output.

use std::cell::Cell;
use std::fmt::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats every event as one JSON object on its own line.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let metadata = event.metadata();
        writer.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut writer, SystemTime::now())?;
        write!(writer, "\",\"level\":\"{}\"", metadata.level().as_str())?;
        let mut fields = Fields { writer: &mut writer, written: Ok(()) };
        event.record(&mut fields);
        fields.written?;
        writer.write_str(",\"target\":")?;
        write_string(&mut writer, metadata.target())?;
        writer.write_str("}\n")
    }
}

/// Writes each field as `,"name":value`.
struct Fields<'w, 'b> {
    writer: &'w mut Writer<'b>,
    /// The first failure to write, after which nothing more is written.
    written: fmt::Result,
}

impl Fields<'_, '_> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.written.is_ok() {
            self.written = self
                .writer
                .write_char(',')
                .and_then(|()| write_string(self.writer, field.name()))
                .and_then(|()| self.writer.write_char(':'))
                .and_then(|()| value(self.writer));
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |writer| write_string(writer, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |writer| write!(writer, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |writer| write!(writer, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |writer| write!(writer, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // As serde_json writes a float: shortest round-trip digits, `null` when not finite.
        self.entry(field, |writer| match serde_json::Number::from_f64(value) {
            Some(number) => write!(writer, "{number}"),
            None => writer.write_str("null"),
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |writer| {
            writer.write_char('"')?;
            write!(Escaping(writer), "{value:?}")?;
            writer.write_char('"')
        });
    }
}

/// `text` as a JSON string.
fn write_string(writer: &mut impl Write, text: &str) -> fmt::Result {
    writer.write_char('"')?;
    Escaping(writer).write_str(text)?;
    writer.write_char('"')
}

/// Writes what it is given escaped for the inside of a JSON string, as serde_json escapes it:
/// `"`, `\` and control characters below U+0020; everything else as it is.
struct Escaping<'w, W: Write>(&'w mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain = 0;
        for (at, byte) in text.bytes().enumerate() {
            let short = match byte {
                b'"' => Some("\\\""),
                b'\\' => Some("\\\\"),
                b'\n' => Some("\\n"),
                b'\r' => Some("\\r"),
                b'\t' => Some("\\t"),
                0x08 => Some("\\b"),
                0x0c => Some("\\f"),
                0..=0x1f => None,
                _ => continue,
            };
            self.0.write_str(&text[plain..at])?;
            match short {
                Some(escaped) => self.0.write_str(escaped)?,
                None => write!(self.0, "\\u{byte:04x}")?,
            }
            plain = at + 1;
        }
        self.0.write_str(&text[plain..])
    }
}

thread_local! {
    /// The second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS`: lines come many
    /// to a second.
    static LAST_SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// `at` as RFC 3339 in UTC with microseconds: `2026-12-06T04:07:21.520540Z`.
fn write_timestamp(writer: &mut impl Write, at: SystemTime) -> fmt::Result {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let second = since.as_secs();
    let (cached, mut date) = LAST_SECOND.get();
    if cached != second {
        let civil = i64::try_from(second)
            .ok()
            .and_then(|second| jiff::Timestamp::from_second(second).ok())
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let civil = jiff::tz::Offset::UTC.to_datetime(civil);
        let text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            civil.year(),
            civil.month(),
            civil.day(),
            civil.hour(),
            civil.minute(),
            civil.second()
        );
        // Years 0 to 9999 (jiff's range ends at 9999): always 19 bytes.
        date.copy_from_slice(&text.as_bytes()[..19]);
        LAST_SECOND.set((second, date));
    }
    writer.write_str(std::str::from_utf8(&date).map_err(|_| fmt::Error)?)?;
    write!(writer, ".{:06}Z", since.subsec_micros())
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Collected(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Collected {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Collected {
        type Writer = Collected;

        fn make_writer(&'a self) -> Self::Writer {
            self.clone()
        }
    }

    impl Collected {
        fn lines(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
            let bytes = self.0.lock().unwrap().clone();
            let text = String::from_utf8(bytes).unwrap();
            text.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect()
        }
    }

    /// Every kind of value sipprovd logs, and text that must be escaped.
    fn log_everything() {
        let peer: std::net::SocketAddr = "198.51.100.23:60722".parse().unwrap();
        let error = io::Error::other("disk \"full\"\n");
        tracing::info!(
            request_id = "5f3a9c1200000017",
            %peer,
            rating = 5u8,
            status = 200u16,
            offset = -3i64,
            duration_ms = 1.42,
            slow = 1e-7,
            whole = 100.0,
            not_a_number = f64::NAN,
            cached = true,
            user_agent = "Yealink \"SIP-T54W\" \\ 96.86\u{1}\u{7f}\t\r\nné",
            path = "/ünïcode/🙂.cfg",
            "phone request"
        );
        tracing::warn!(error = &error as &dyn std::error::Error, "cannot {} the {:?}", "write", "file");
        tracing::error!(target: "sipprov::audit", kind = "delivered", "audit event");
    }

    #[test]
    fn the_lines_are_those_of_the_json_formatter() {
        let (ours, theirs) = (Collected::default(), Collected::default());
        let subscriber = tracing_subscriber::fmt().with_writer(ours.clone()).event_format(JsonLines).finish();
        tracing::subscriber::with_default(subscriber, log_everything);
        let subscriber = tracing_subscriber::fmt()
            .with_writer(theirs.clone())
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .finish();
        tracing::subscriber::with_default(subscriber, log_everything);

        let (mut ours, mut theirs) = (ours.lines(), theirs.lines());
        assert_eq!(ours.len(), 3);
        for (ours, theirs) in ours.iter_mut().zip(&mut theirs) {
            // Written a moment apart: each a UTC time with microseconds.
            for line in [&mut *ours, &mut *theirs] {
                let at = line.remove("timestamp").unwrap();
                let at = at.as_str().unwrap();
                assert!(at.len() == 27 && at.ends_with('Z') && at.as_bytes()[19] == b'.', "{at}");
                at.parse::<jiff::Timestamp>().unwrap();
            }
            assert_eq!(ours, theirs);
            // The same keys in the same order, too.
            assert_eq!(ours.keys().collect::<Vec<_>>(), theirs.keys().collect::<Vec<_>>());
        }
        assert_eq!(ours[0]["user_agent"], "Yealink \"SIP-T54W\" \\ 96.86\u{1}\u{7f}\t\r\nné");
        assert_eq!(ours[0]["not_a_number"], serde_json::Value::Null);
        assert_eq!(ours[1]["message"], "cannot write the \"file\"");
        assert_eq!(ours[2]["target"], "sipprov::audit");
    }

    #[test]
    fn text_is_escaped_as_serde_json_escapes_it() {
        for text in ["plain", "\"quoted\" \\ back", "\u{0}\u{1f}\u{7f}\u{8}\u{c}", "é🙂\n\r\t", ""] {
            let mut ours = String::new();
            write_string(&mut ours, text).unwrap();
            assert_eq!(ours, serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let mut text = String::new();
        let at = UNIX_EPOCH + Duration::new(1_796_592_812, 520_540_999);
        write_timestamp(&mut text, at).unwrap();
        assert_eq!(text, "2026-12-06T21:33:32.520540Z");
        // The second cached on this thread is not reused for another.
        text.clear();
        write_timestamp(&mut text, at + Duration::from_secs(86_400)).unwrap();
        assert_eq!(text, "2026-12-07T21:33:32.520540Z");
        text.clear();
        write_timestamp(&mut text, UNIX_EPOCH).unwrap();
        assert_eq!(text, "1970-01-01T00:00:00.000000Z");
    }
}
