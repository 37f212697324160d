//! `POST /v1/import`: devices in bulk, CSV or JSON lines, applied row by row while the body
//! streams in. Idempotent by MAC: a row for an enrolled device updates the fields it gives
//! (settings are merged; never its secrets), or changes nothing if they already hold those
//! values. A bad row is reported with its line number and the rest go on. If the store fails,
//! the import stops there: the rows before it are applied and reported, and the summary says
//! where and why it stopped.

use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Incoming;
use serde::Serialize;
use sipprov_credentials::{Credentials, CredentialsError, DeviceRecord, Updated};

use super::body::{AdminResponse, error, json_lines};
use super::call::{AdminContext, Call};
use super::import_rows::{ImportFormat, MAX_ROW, Row, RowParser};
use super::model::{DeviceInput, DevicePatch, NewDevice, RegistrarView};

/// One row's result, as one JSON line of the response. May carry a secret: no `Debug`.
#[derive(Serialize)]
struct RowResult {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    mac: Option<String>,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The first account's hand-off, for clients written for one account.
    #[serde(skip_serializing_if = "Option::is_none")]
    registrar: Option<RegistrarView>,
    /// Every issued account's hand-off.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    registrars: Vec<RegistrarView>,
}

/// The last line of the response.
#[derive(Debug, Default, Serialize)]
struct Summary {
    rows: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    errors: u64,
    /// Why the import stopped early (the store failed), if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    stopped: Option<String>,
}

/// The largest import body: about two million devices' rows. A larger inventory is imported in
/// several files (an import is idempotent by MAC, so files can overlap).
pub(crate) const MAX_IMPORT_BODY: u64 = 256 * 1024 * 1024;

pub(super) async fn run(context: &AdminContext, call: Call) -> AdminResponse {
    let format = match call.param("format") {
        Some("csv") => ImportFormat::Csv,
        Some("jsonl" | "ndjson") => ImportFormat::JsonLines,
        _ => return error(StatusCode::BAD_REQUEST, "format=csv or format=jsonl is required"),
    };
    // A declared length over the limit is refused before anything is applied.
    if hyper::body::Body::size_hint(&call.body).lower() > MAX_IMPORT_BODY {
        let message = format!("the import is larger than {} MiB: split it into several files", MAX_IMPORT_BODY >> 20);
        return error(StatusCode::PAYLOAD_TOO_LARGE, &message);
    }
    let importer = Importer {
        credentials: Arc::clone(&context.state.credentials),
        realm: context.realm.clone(),
        reveal: call.flag("reveal_passwords"),
        by: call.caller.clone(),
        parser: RowParser::new(format),
        summary: Summary::default(),
        out: Vec::new(),
        line: 0,
    };
    match importer.consume(call.body).await {
        Ok(out) => json_lines(out),
        Err(response) => response,
    }
}

struct Importer {
    credentials: Arc<Credentials>,
    realm: String,
    reveal: bool,
    /// Who is importing, for the audit log.
    by: String,
    parser: RowParser,
    summary: Summary,
    out: Vec<u8>,
    line: u64,
}

impl Importer {
    /// Reads the body to its end, applying complete lines as they arrive; returns the response
    /// lines. A store failure stops the import: rows before it are applied and reported.
    async fn consume(mut self, mut body: Incoming) -> Result<Vec<u8>, AdminResponse> {
        let mut pending: Vec<u8> = Vec::new();
        // Inside a row already reported as too long: drop bytes up to its line break.
        let mut skipping = false;
        let mut received: u64 = 0;
        loop {
            let frame = match body.frame().await {
                None => break,
                Some(Ok(frame)) => frame,
                Some(Err(e)) => return Err(error(StatusCode::BAD_REQUEST, &format!("cannot read the body: {e}"))),
            };
            let Ok(data) = frame.into_data() else { continue };
            received += data.len() as u64;
            if received > MAX_IMPORT_BODY {
                // A body sent without a length: the rows so far stay applied, the rest is not read.
                let limit = MAX_IMPORT_BODY >> 20;
                self.summary.stopped.get_or_insert_with(|| {
                    format!("the import is larger than {limit} MiB: rows after this point were not read")
                });
                pending.clear();
                break;
            }
            pending.extend_from_slice(&data);
            let mut lines = Vec::new();
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = pending.drain(..=end).collect();
                line.pop();
                if !std::mem::take(&mut skipping) {
                    lines.push(Line::Text(line));
                }
            }
            if pending.len() > MAX_ROW && !skipping {
                lines.push(Line::TooLong);
                skipping = true;
            }
            if skipping {
                pending.clear();
            }
            self = self.apply(lines).await?;
        }
        if !pending.is_empty() && !skipping {
            self = self.apply(vec![Line::Text(pending)]).await?;
        }
        let Importer { mut out, summary, .. } = self;
        write_line(&mut out, &serde_json::json!({ "summary": summary }));
        Ok(out)
    }

    /// Applies a batch of lines off the async workers.
    async fn apply(self, lines: Vec<Line>) -> Result<Self, AdminResponse> {
        if lines.is_empty() || self.summary.stopped.is_some() {
            return Ok(self);
        }
        let joined = tokio::task::spawn_blocking(move || {
            let mut importer = self;
            for line in lines {
                importer.line += 1;
                if let Err(e) = importer.apply_line(line) {
                    tracing::error!(error = %e, line = importer.line, "import stopped: the store failed");
                    importer.summary.stopped = Some(format!("line {}: {e}", importer.line));
                    break;
                }
            }
            importer
        })
        .await;
        joined.map_err(|e| {
            tracing::error!(error = %e, "import task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        })
    }

    fn apply_line(&mut self, line: Line) -> Result<(), CredentialsError> {
        let number = self.line;
        let parsed = match &line {
            Line::TooLong => Err(format!("row longer than {MAX_ROW} bytes")),
            Line::Text(bytes) if bytes.len() > MAX_ROW => Err(format!("row longer than {MAX_ROW} bytes")),
            Line::Text(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => self.parser.parse(text),
                Err(_) => Err("row is not UTF-8".into()),
            },
        };
        let row = parsed.and_then(|row| match row {
            Row::Skip => Ok(None),
            Row::Device(input) => input.clone().validate(None).map(|device| Some((device, input))),
        });
        let (device, input) = match row {
            Ok(None) => return Ok(()),
            Ok(Some(device)) => device,
            Err(message) => {
                self.record(RowResult {
                    line: number,
                    mac: None,
                    result: "error",
                    error: Some(message),
                    registrar: None,
                    registrars: Vec::new(),
                });
                return Ok(());
            }
        };
        let result = self.apply_device(number, device, &input)?;
        self.record(result);
        Ok(())
    }

    fn apply_device(&self, line: u64, device: NewDevice, input: &DeviceInput) -> Result<RowResult, CredentialsError> {
        let NewDevice { mac, accounts, profile, passwords, reveal_password, .. } = device;
        let reveal = reveal_password || self.reveal;
        let row = |result, registrars: Vec<RegistrarView>| RowResult {
            line,
            mac: Some(mac.to_string()),
            result,
            error: None,
            registrar: registrars.first().cloned(),
            registrars,
        };
        let failed = |message: &str| RowResult { error: Some(message.to_owned()), ..row("error", Vec::new()) };
        if self.credentials.store().device(&mac)?.is_some() {
            let input = input.clone();
            let change = move |device: &DeviceRecord| DevicePatch::from_import(&input, device).apply(device);
            return Ok(match self.credentials.update(&mac, &self.by, change)? {
                Updated::Changed(device, Some(added)) => {
                    row("updated", RegistrarView::for_issued(&device.accounts, &self.realm, &added, reveal))
                }
                Updated::Changed(_, None) => row("updated", Vec::new()),
                Updated::Unchanged(_) => row("unchanged", Vec::new()),
                Updated::Refused(message) => failed(&message),
                // Deleted meanwhile by another call: nothing of this row was applied.
                Updated::NotEnrolled => {
                    failed("the device was deleted during the import; import again to apply this row")
                }
            });
        }
        let enrolled = accounts.clone();
        match self.credentials.enrol_with_profile(mac, accounts, profile, passwords, &self.by)? {
            Some(issued) => Ok(row("created", RegistrarView::for_issued(&enrolled, &self.realm, &issued, reveal))),
            // Enrolled meanwhile by another call: nothing of this row was applied.
            None => Ok(failed("enrolled by another call during the import; import again to apply this row")),
        }
    }

    fn record(&mut self, result: RowResult) {
        self.summary.rows += 1;
        match result.result {
            "created" => self.summary.created += 1,
            "updated" => self.summary.updated += 1,
            "unchanged" => self.summary.unchanged += 1,
            _ => self.summary.errors += 1,
        }
        write_line(&mut self.out, &result);
    }
}

fn write_line(out: &mut Vec<u8>, value: &impl Serialize) {
    if serde_json::to_writer(&mut *out, value).is_ok() {
        out.push(b'\n');
    }
}

/// One line of the body.
enum Line {
    Text(Vec<u8>),
    /// A row that grew past [`MAX_ROW`] without a line break.
    TooLong,
}
