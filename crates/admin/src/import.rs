//! `POST /v1/import`: devices in bulk, CSV or JSON lines, applied row by row while the body
//! streams in. Idempotent by MAC: a row for an enrolled device updates the fields it gives
//! (settings are merged; never its secrets), or changes nothing if they already hold those
//! values. A bad row is reported with its line number and the rest go on. If the store fails,
//! the import stops there: the rows before it are applied and reported, and the summary says
//! where and why it stopped.

use std::ops::ControlFlow;
use std::sync::Arc;

use http_body_util::BodyExt;
use hyper::StatusCode;
use hyper::body::Incoming;
use serde::Serialize;
use sipprov_credentials::{Credentials, CredentialsError, DeviceRecord, Updated};
use tokio::sync::mpsc;

use super::body::{AdminResponse, error, json_lines};
use super::call::{AdminContext, Call};
use super::import_body::{BodyReader, CHUNKS_IN_FLIGHT, Chunk, RowEnd};
use super::import_rows::{ImportFormat, MAX_ROW, ParsedRow, read_rows};
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
    /// The enrolment secret issued by an `auth=digest` row, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    enrolment_secret: Option<String>,
}

/// The last line of the response.
#[derive(Debug, Default, Serialize)]
struct Summary {
    rows: u64,
    created: u64,
    updated: u64,
    unchanged: u64,
    errors: u64,
    /// Nothing was changed: the results say what each row would have done.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    dry_run: bool,
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
    let dry_run = call.flag("dry_run");
    let importer = Importer {
        credentials: Arc::clone(&context.state.credentials),
        realm: context.realm.clone(),
        reveal: call.flag("reveal_passwords"),
        by: call.caller.clone(),
        dry_run,
        summary: Summary { dry_run, ..Summary::default() },
        out: Vec::new(),
    };
    // The rows are parsed and applied on a blocking thread while the body streams in.
    let (chunks, received) = mpsc::channel(CHUNKS_IN_FLIGHT);
    let worker = tokio::task::spawn_blocking(move || importer.consume(format, BodyReader::new(received, MAX_ROW)));
    pump(call.body, &chunks).await;
    drop(chunks);
    match worker.await {
        Ok(out) => json_lines(out),
        Err(e) => {
            tracing::error!(error = %e, "import task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// Hands the body to the parser as it arrives. A body past the limit or one that cannot be
/// read ends in an error the parser reports: the rows before it stay applied, a row cut short
/// is not applied.
async fn pump(mut body: Incoming, chunks: &mpsc::Sender<Chunk>) {
    let mut received: u64 = 0;
    loop {
        let chunk = match body.frame().await {
            None => return,
            Some(Err(e)) => Err(format!("cannot read the body: {e}")),
            Some(Ok(frame)) => match frame.into_data() {
                Err(_) => continue,
                Ok(data) => {
                    received += data.len() as u64;
                    if received > MAX_IMPORT_BODY {
                        let limit = MAX_IMPORT_BODY >> 20;
                        Err(format!("the import is larger than {limit} MiB: rows after this point were not read"))
                    } else {
                        Ok(data)
                    }
                }
            },
        };
        let last = chunk.is_err();
        // A parser that stopped (the store failed) takes no more: the rest is not read.
        if chunks.send(chunk).await.is_err() || last {
            return;
        }
    }
}

struct Importer {
    credentials: Arc<Credentials>,
    realm: String,
    reveal: bool,
    /// Who is importing, for the audit log.
    by: String,
    /// Say what each row would do, change nothing.
    dry_run: bool,
    summary: Summary,
    out: Vec<u8>,
}

impl Importer {
    /// Reads and applies the rows to the end of the body; returns the response lines. A store
    /// failure stops the import: rows before it are applied and reported.
    fn consume(mut self, format: ImportFormat, (body, row_end): (BodyReader, RowEnd)) -> Vec<u8> {
        let read = read_rows(format, body, &row_end, |line, row| match self.apply_row(line, row) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                tracing::error!(error = %e, line, "import stopped: the store failed");
                self.summary.stopped = Some(format!("line {line}: {e}"));
                ControlFlow::Break(())
            }
        });
        if let Err(e) = read {
            self.summary.stopped.get_or_insert(e);
        }
        let Importer { mut out, summary, .. } = self;
        write_line(&mut out, &serde_json::json!({ "summary": summary }));
        out
    }

    fn apply_row(&mut self, line: u64, row: ParsedRow) -> Result<(), CredentialsError> {
        let parsed = row.and_then(|input| input.clone().validate(None).map(|device| (device, input)));
        let (device, input) = match parsed {
            Ok(parsed) => parsed,
            Err(message) => {
                self.record(RowResult {
                    line,
                    mac: None,
                    result: "error",
                    error: Some(message),
                    registrar: None,
                    registrars: Vec::new(),
                    enrolment_secret: None,
                });
                return Ok(());
            }
        };
        let result = self.apply_device(line, device, &input)?;
        self.record(result);
        Ok(())
    }

    fn apply_device(&self, line: u64, device: NewDevice, input: &DeviceInput) -> Result<RowResult, CredentialsError> {
        let NewDevice { mac, accounts, profile, passwords, reveal_password, digest, .. } = device;
        let reveal = reveal_password || self.reveal;
        let row = |result, registrars: Vec<RegistrarView>| RowResult {
            line,
            mac: Some(mac.to_string()),
            result,
            error: None,
            registrar: registrars.first().cloned(),
            registrars,
            enrolment_secret: None,
        };
        // `auth=digest` gives a device without one an enrolment secret; `auth=certificate`
        // takes it away.
        let changes_auth = |has_secret: bool| digest.is_some_and(|digest| digest != has_secret);
        let failed = |message: &str| RowResult { error: Some(message.to_owned()), ..row("error", Vec::new()) };
        let enrolled = self.credentials.store().device(&mac)?;
        if self.dry_run {
            return Ok(match enrolled {
                None => row("created", Vec::new()),
                Some(device) => match DevicePatch::from_import(input, &device).apply(&device) {
                    Err(message) => failed(&message),
                    Ok((accounts, profile)) => match sipprov_credentials::check_accounts(&accounts) {
                        Err(message) => failed(&message),
                        Ok(())
                            if accounts == device.accounts
                                && profile == device.profile
                                && !changes_auth(device.enrolment_secret.is_some()) =>
                        {
                            row("unchanged", Vec::new())
                        }
                        Ok(()) => row("updated", Vec::new()),
                    },
                },
            });
        }
        if let Some(before) = enrolled {
            let input = input.clone();
            let change = move |device: &DeviceRecord| DevicePatch::from_import(&input, device).apply(device);
            let mut result = match self.credentials.update(&mac, &self.by, change)? {
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
            };
            if result.result != "error" && changes_auth(before.enrolment_secret.is_some()) {
                result.result = "updated";
                if digest == Some(true) {
                    result.enrolment_secret = self.issue_secret(&mac)?;
                } else {
                    self.credentials.remove_enrolment_secret(&mac, &self.by)?;
                }
            }
            return Ok(result);
        }
        let enrolled = accounts.clone();
        match self.credentials.enrol_with_profile(mac, accounts, profile, passwords, &self.by)? {
            Some(issued) => {
                let mut created = row("created", RegistrarView::for_issued(&enrolled, &self.realm, &issued, reveal));
                if digest == Some(true) {
                    created.enrolment_secret = self.issue_secret(&mac)?;
                }
                Ok(created)
            }
            // Enrolled meanwhile by another call: nothing of this row was applied.
            None => Ok(failed("enrolled by another call during the import; import again to apply this row")),
        }
    }

    fn issue_secret(&self, mac: &sipprov_identity::Mac) -> Result<Option<String>, CredentialsError> {
        let secret = self.credentials.issue_enrolment_secret(mac, &self.by)?;
        Ok(secret.map(|secret| secret.expose().to_owned()))
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
