//! Bulk import rows: CSV with a header line, or JSON lines, each row becoming a [`DeviceInput`].
//!
//! Rows are read while the body streams in, so an import is applied as it arrives and one bad
//! row is reported without stopping the rest. CSV is read by the `csv` crate: RFC 4180 quoting,
//! line breaks inside quoted fields, and the delimiter Excel writes in the operator's locale
//! (`,` or `;`, or a tab), told from the header line.

use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;

use super::import_body::{BodyReader, RowEnd};
use super::model::{AccountInput, DeviceInput};

/// The longest row accepted; a longer one is reported and skipped. One that never ends (almost
/// always a quote that is never closed, swallowing every row after it) stops the import.
pub(crate) const MAX_ROW: usize = 64 * 1024;

/// The format of an import body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ImportFormat {
    /// A header line naming the columns, then one device per row. Columns: `mac`, `user_name`,
    /// `auth_name`, `display_name`, `vendor`, `model`, `site`, `password`, `setting.<name>`
    /// for device settings and `account.<N>.<field>` for several accounts.
    Csv,
    /// One JSON object per line, as for `POST /v1/devices`.
    JsonLines,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Column {
    Field(&'static str),
    Setting(String),
    /// `account.N.FIELD`: a field of the account on line N.
    Account(u16, &'static str),
}

/// The fields an `account.N.` column may name.
const ACCOUNT_FIELDS: [&str; 8] =
    ["user_name", "auth_name", "display_name", "registrar", "outbound_proxy", "transport", "srtp", "password"];

const FIELDS: [&str; 9] =
    ["mac", "user_name", "auth_name", "display_name", "vendor", "model", "site", "password", "auth"];

/// One row as read: the device it describes, or why it describes none.
pub(crate) type ParsedRow = Result<Box<DeviceInput>, String>;

/// Reads every row of `body` in `format`, handing each to `each` with its line number (the line
/// it starts on) until `each` breaks. Fails with a sentence if the body itself cannot be read
/// (the client went away, a row never ends).
pub(crate) fn read_rows(
    format: ImportFormat,
    body: BodyReader,
    row_end: &RowEnd,
    each: impl FnMut(u64, ParsedRow) -> ControlFlow<()>,
) -> Result<(), String> {
    let body = BufReader::with_capacity(MAX_ROW, body);
    match format {
        ImportFormat::Csv => read_csv(body, row_end, each),
        ImportFormat::JsonLines => read_json_lines(body, row_end, each),
    }
}

fn read_json_lines(
    mut body: BufReader<BodyReader>,
    row_end: &RowEnd,
    mut each: impl FnMut(u64, ParsedRow) -> ControlFlow<()>,
) -> Result<(), String> {
    let (mut line, mut read, mut number) = (Vec::new(), 0u64, 0u64);
    loop {
        line.clear();
        let n = body.read_until(b'\n', &mut line).map_err(|e| e.to_string())?;
        if n == 0 {
            return Ok(());
        }
        (read, number) = (read + n as u64, number + 1);
        row_end.set(read);
        let row = match std::str::from_utf8(&line).map(|text| text.trim_end_matches(['\r', '\n'])) {
            _ if n > MAX_ROW => Err(too_long()),
            Err(_) => Err("row is not UTF-8".into()),
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => {
                serde_json::from_str::<DeviceInput>(text).map(Box::new).map_err(|e| format!("invalid JSON: {e}"))
            }
        };
        if each(number, row).is_break() {
            return Ok(());
        }
    }
}

fn read_csv(
    mut body: BufReader<BodyReader>,
    row_end: &RowEnd,
    mut each: impl FnMut(u64, ParsedRow) -> ControlFlow<()>,
) -> Result<(), String> {
    // The header line tells the delimiter; it is then read again as the first row.
    let mut header_line = Vec::new();
    (&mut body).take(MAX_ROW as u64).read_until(b'\n', &mut header_line).map_err(|e| e.to_string())?;
    let delimiter = delimiter_of(&header_line);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        // Rows end at `\n` only, a `\r` before it is taken off the last field: with CRLF as one
        // terminator the reader would number a row by the line before it.
        .terminator(csv::Terminator::Any(b'\n'))
        .buffer_capacity(MAX_ROW)
        .from_reader(std::io::Cursor::new(header_line).chain(body));
    let mut record = csv::ByteRecord::new();
    let mut header: Option<Result<Vec<Column>, String>> = None;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => return Err(csv_error(&e)),
        }
        row_end.set(reader.position().byte());
        let number = record.position().map_or(0, csv::Position::line);
        if record.iter().all(|field| field.trim_ascii().is_empty()) {
            continue;
        }
        let last = record.len().saturating_sub(1);
        let fields: Result<Vec<String>, _> = (record.iter().enumerate())
            .map(|(at, field)| if at == last { field.strip_suffix(b"\r").unwrap_or(field) } else { field })
            .map(|field| std::str::from_utf8(field).map(str::to_owned))
            .collect();
        let row = match (fields, &header) {
            _ if record.as_slice().len() > MAX_ROW => Err(too_long()),
            (Err(_), _) => Err("row is not UTF-8".into()),
            (Ok(fields), None) => match parse_header(fields) {
                Ok(columns) => {
                    header = Some(Ok(columns));
                    continue;
                }
                Err(e) => {
                    header = Some(Err(e.clone()));
                    Err(e)
                }
            },
            (Ok(_), Some(Err(e))) => Err(format!("not imported: the header line is invalid ({e})")),
            (Ok(fields), Some(Ok(columns))) => device_of(columns, fields).map(Box::new),
        };
        if each(number, row).is_break() {
            return Ok(());
        }
    }
}

fn too_long() -> String {
    format!("row longer than {} KiB", MAX_ROW / 1024)
}

/// The error of a body that cannot be read, without the `csv` crate's wrapping.
fn csv_error(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// The delimiter the header `line` uses: whichever of `,`, `;` and tab it has most of (a
/// header names columns, so it holds no quoted delimiters), `,` if none.
fn delimiter_of(line: &[u8]) -> u8 {
    let count = |delimiter: u8| line.iter().filter(|b| **b == delimiter).count();
    [b';', b'\t']
        .into_iter()
        .fold(b',', |best, candidate| if count(candidate) > count(best) { candidate } else { best })
}

/// The device a CSV row describes under `header`.
fn device_of(header: &[Column], fields: Vec<String>) -> Result<DeviceInput, String> {
    if fields.len() != header.len() {
        return Err(format!("{} fields, but the header has {}", fields.len(), header.len()));
    }
    let mut input = DeviceInput::default();
    for (column, value) in header.iter().zip(fields) {
        if value.is_empty() {
            continue;
        }
        match column {
            Column::Setting(name) => {
                input.settings.insert(name.clone(), value);
            }
            Column::Account(line, field) => {
                let accounts = input.accounts.get_or_insert_with(Vec::new);
                let at = match accounts.iter().position(|account| account.line == Some(*line)) {
                    Some(at) => at,
                    None => {
                        accounts.push(AccountInput { line: Some(*line), ..AccountInput::default() });
                        accounts.len() - 1
                    }
                };
                let account = &mut accounts[at];
                let slot = match *field {
                    "user_name" => &mut account.user_name,
                    "auth_name" => &mut account.auth_name,
                    "display_name" => &mut account.display_name,
                    "registrar" => &mut account.registrar,
                    "outbound_proxy" => &mut account.outbound_proxy,
                    "transport" => &mut account.transport,
                    "srtp" => &mut account.srtp,
                    _ => &mut account.password,
                };
                *slot = Some(value);
            }
            Column::Field(name) => {
                let slot = match *name {
                    "mac" => &mut input.mac,
                    "user_name" => &mut input.user_name,
                    "auth_name" => &mut input.auth_name,
                    "display_name" => &mut input.display_name,
                    "vendor" => &mut input.vendor,
                    "model" => &mut input.model,
                    "site" => &mut input.site,
                    "auth" => &mut input.auth,
                    _ => &mut input.password,
                };
                *slot = Some(value);
            }
        }
    }
    Ok(input)
}

fn parse_header(fields: Vec<String>) -> Result<Vec<Column>, String> {
    let mut columns = Vec::with_capacity(fields.len());
    for field in fields {
        let name = field.trim().to_ascii_lowercase();
        let column = if let Some(setting) = name.strip_prefix("setting.") {
            Column::Setting(setting.to_owned())
        } else if let Some(account) = name.strip_prefix("account.") {
            account_column(account).ok_or_else(|| {
                format!(
                    "header: {name:?} is not account.N.FIELD (N from 1; FIELD one of {})",
                    ACCOUNT_FIELDS.join(", ")
                )
            })?
        } else if let Some(known) = FIELDS.iter().find(|known| **known == name) {
            Column::Field(known)
        } else {
            return Err(format!(
                "header: unknown column {name:?} (known: {}, setting.<name> and account.<N>.<field>)",
                FIELDS.join(", ")
            ));
        };
        if columns.contains(&column) {
            return Err(format!("header: column {name:?} appears twice"));
        }
        columns.push(column);
    }
    let per_account = columns.iter().any(|column| matches!(column, Column::Account(..)));
    let one_account = ["user_name", "auth_name", "display_name", "password"]
        .iter()
        .any(|field| columns.contains(&Column::Field(field)));
    if per_account && one_account {
        return Err("header: give the accounts as account.N.* columns or as user_name, ..., not both".into());
    }
    let user_names = columns.contains(&Column::Field("user_name"))
        || columns.iter().any(|column| matches!(column, Column::Account(_, "user_name")));
    if !columns.contains(&Column::Field("mac")) || !user_names {
        return Err("header: the columns mac and user_name are required (account.N.user_name per account)".into());
    }
    Ok(columns)
}

/// `N.FIELD` of an `account.N.FIELD` column.
fn account_column(rest: &str) -> Option<Column> {
    let (line, field) = rest.split_once('.')?;
    let line: u16 = line.parse().ok().filter(|line| *line >= 1)?;
    let field = ACCOUNT_FIELDS.iter().find(|known| **known == field)?;
    Some(Column::Account(line, field))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // test code: failing loudly is the point

    use hyper::body::Bytes;
    use tokio::sync::mpsc;

    use super::*;

    /// Every row of `body`, sent in pieces of `piece` bytes, with its line; or why the body
    /// could not be read.
    fn rows_in_pieces(format: ImportFormat, body: &[u8], piece: usize) -> (Vec<(u64, ParsedRow)>, Option<String>) {
        let (sender, receiver) = mpsc::channel(body.len() / piece + 2);
        for chunk in body.chunks(piece) {
            sender.try_send(Ok(Bytes::copy_from_slice(chunk))).unwrap();
        }
        drop(sender);
        let (reader, row_end) = BodyReader::new(receiver, MAX_ROW);
        let mut rows = Vec::new();
        let read = read_rows(format, reader, &row_end, |line, row| {
            rows.push((line, row));
            ControlFlow::Continue(())
        });
        (rows, read.err())
    }

    fn rows(format: ImportFormat, body: &str) -> Vec<(u64, ParsedRow)> {
        let (rows, error) = rows_in_pieces(format, body.as_bytes(), 7);
        assert_eq!(error, None);
        rows
    }

    fn device(row: &(u64, ParsedRow)) -> &DeviceInput {
        row.1.as_ref().unwrap()
    }

    fn error(row: &(u64, ParsedRow)) -> &str {
        row.1.as_ref().err().unwrap()
    }

    #[test]
    fn csv_rows_follow_their_header() {
        let body = "MAC,user_name,display_name,site,setting.language\r\n\
                    00:15:65:00:00:01,1001,\"Desk \"\"A\"\", 2nd floor\",leeds,Deutsch\r\n\
                    00:15:65:00:00:02,1002,,,\n   \n\
                    00:15:65:00:00:03,1003\n";
        let rows = rows(ImportFormat::Csv, body);
        assert_eq!(rows.len(), 3);
        let first = device(&rows[0]);
        assert_eq!(rows[0].0, 2);
        assert_eq!(first.mac.as_deref(), Some("00:15:65:00:00:01"));
        assert_eq!(first.display_name.as_deref(), Some("Desk \"A\", 2nd floor"));
        assert_eq!(first.site.as_deref(), Some("leeds"));
        assert_eq!(first.settings.get("language").map(String::as_str), Some("Deutsch"));
        let sparse = device(&rows[1]);
        assert_eq!(sparse.display_name, None);
        assert!(sparse.settings.is_empty());
        assert_eq!(rows[2].0, 5, "the blank line counts");
        assert!(error(&rows[2]).contains("2 fields, but the header has 5"));
    }

    #[test]
    fn excel_csv_with_a_byte_order_mark_semicolons_and_line_breaks_in_quotes_is_read() {
        let body = "\u{feff}mac;user_name;display_name;setting.language\r\n\
                    00:15:65:00:00:01;1001;\"Reception\r\nfront desk; left\";Deutsch\r\n\
                    00:15:65:00:00:02;1002;Office;Français\r\n";
        for piece in [1, 2, 5, 1000] {
            let (rows, error) = rows_in_pieces(ImportFormat::Csv, body.as_bytes(), piece);
            assert_eq!(error, None);
            assert_eq!(rows.len(), 2, "pieces of {piece}");
            let first = device(&rows[0]);
            assert_eq!(first.mac.as_deref(), Some("00:15:65:00:00:01"));
            assert_eq!(first.display_name.as_deref(), Some("Reception\r\nfront desk; left"));
            assert_eq!(first.settings.get("language").map(String::as_str), Some("Deutsch"));
            assert_eq!(rows[1].0, 4, "the second row starts on line 4");
            assert_eq!(device(&rows[1]).settings.get("language").map(String::as_str), Some("Français"));
        }
        let tabs = rows(ImportFormat::Csv, "mac\tuser_name\n001565000001\t1001\n");
        assert_eq!(device(&tabs[0]).user_name.as_deref(), Some("1001"));
        // A byte order mark is only one at the start of the body.
        let late = rows(ImportFormat::Csv, "mac,user_name,display_name\n001565000001,1001,\u{feff}x\n");
        assert_eq!(device(&late[0]).display_name.as_deref(), Some("\u{feff}x"));
    }

    #[test]
    fn a_row_too_long_is_skipped_and_a_row_that_never_ends_stops_the_import() {
        let long =
            format!("mac,user_name,display_name\n001565000001,1001,{}\n001565000002,1002,ok\n", "x".repeat(MAX_ROW));
        let csv = rows(ImportFormat::Csv, &long);
        assert!(error(&csv[0]).contains("row longer than 64 KiB"));
        assert_eq!(device(&csv[1]).display_name.as_deref(), Some("ok"));

        let unclosed =
            format!("mac,user_name,display_name\n001565000001,1001,\"open\n{}", "001565000002,1002,x\n".repeat(30_000));
        let (applied, stopped) = rows_in_pieces(ImportFormat::Csv, unclosed.as_bytes(), 4096);
        assert!(applied.is_empty(), "nothing after the open quote is applied");
        assert!(stopped.unwrap().contains("a quote that is never closed?"));

        let json = format!("{}\n{{\"mac\": \"001565000002\", \"user_name\": \"2\"}}\n", "x".repeat(MAX_ROW + 1));
        let rows = rows(ImportFormat::JsonLines, &json);
        assert!(error(&rows[0]).contains("row longer than 64 KiB"));
        assert_eq!(rows[1].0, 2);
        assert_eq!(device(&rows[1]).user_name.as_deref(), Some("2"));
    }

    #[test]
    fn a_body_that_cannot_be_read_ends_the_rows_with_its_reason() {
        let (sender, receiver) = mpsc::channel(4);
        sender.try_send(Ok(Bytes::from_static(b"mac,user_name\n001565000001,1\n0015650"))).unwrap();
        sender.try_send(Err("cannot read the body: connection reset".into())).unwrap();
        let (reader, row_end) = BodyReader::new(receiver, MAX_ROW);
        let mut rows = Vec::new();
        let read = read_rows(ImportFormat::Csv, reader, &row_end, |line, row| {
            rows.push((line, row));
            ControlFlow::Continue(())
        });
        assert_eq!(read.err().as_deref(), Some("cannot read the body: connection reset"));
        assert_eq!(rows.len(), 1, "the row cut short is not applied");
    }

    #[test]
    fn a_bad_csv_header_is_explained() {
        let header = |line: &str| error(&rows(ImportFormat::Csv, line)[0]).to_owned();
        assert!(header("mac,user_name,colour").contains("unknown column \"colour\""));
        assert!(header("mac,mac,user_name").contains("appears twice"));
        assert!(header("mac,site").contains("mac and user_name are required"));
        assert!(header("mac,account.0.user_name").contains("not account.N.FIELD"));
        assert!(header("mac,account.1.colour").contains("not account.N.FIELD"));
        assert!(header("mac,user_name,account.2.user_name").contains("not both"));
    }

    #[test]
    fn account_columns_fill_one_account_per_line() {
        let header = "mac,model,account.1.user_name,account.2.user_name,account.2.transport,account.2.password";
        let rows = rows(ImportFormat::Csv, &format!("{header}\n000b82aabb01,HT812,2001,2002,tls,Port-Two-Secret-2\n"));
        let device = device(&rows[0]).clone().validate(None).unwrap();
        assert_eq!(device.accounts.iter().map(|a| a.user_name.as_str()).collect::<Vec<_>>(), ["2001", "2002"]);
        assert_eq!(device.accounts[1].transport, Some(sipprov_credentials::Transport::Tls));
        assert_eq!(device.passwords.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [2]);
        let rows = rows_in_pieces(ImportFormat::Csv, b"mac,colour\n00:15:65:00:00:01,red\n", 64).0;
        assert_eq!(rows.len(), 2);
        assert!(error(&rows[1]).contains("the header line is invalid"));
    }

    #[test]
    fn json_lines_are_device_documents() {
        let body = "{\"mac\": \"001565000001\", \"user_name\": \"1001\", \"settings\": {\"a\": \"b\"}}\r\n\n{not json\n{\"mac\": \"x\", \"shoe_size\": 9}";
        let rows = rows(ImportFormat::JsonLines, body);
        assert_eq!(device(&rows[0]).user_name.as_deref(), Some("1001"));
        assert_eq!(rows[1].0, 3);
        assert!(error(&rows[1]).starts_with("invalid JSON"));
        assert!(error(&rows[2]).contains("shoe_size"));
    }
}
