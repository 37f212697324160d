//! `sipprov device ...`: the inventory.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::{Value, json};

use super::client::Client;
use super::progress::Progress;
use super::table::{self, print_json};
use super::url::{encode, query};

#[derive(Debug, Subcommand)]
pub(crate) enum DeviceCommand {
    /// Enrol a device; prints the registrar's HA1 values once.
    Add(AddArgs),
    /// List devices, with filters.
    List(ListArgs),
    /// Show one device.
    Show {
        /// The device's MAC, in any common spelling.
        mac: String,
    },
    /// Change a device's account or profile (not its secrets).
    Update(UpdateArgs),
    /// Ask devices to fetch their configuration now (a SIP NOTIFY through the registrar).
    Resync(super::resync::ResyncArgs),
    /// Import devices from a CSV or JSON-lines file, idempotent by MAC.
    Import(ImportArgs),
    /// Fresh secrets and a cleared key pin (a replaced or factory-reset phone).
    Rearm(ReissueArgs),
    /// Fresh secrets, key pin kept (a suspected leak).
    Rotate(ReissueArgs),
    /// Stop serving the device.
    Disable {
        /// The device's MAC.
        mac: String,
    },
    /// Serve the device again.
    Enable {
        /// The device's MAC.
        mac: String,
    },
    /// Delete the device and its secrets.
    Delete {
        /// The device's MAC.
        mac: String,
    },
    /// Give a phone without a usable certificate a new enrolment secret (HTTP Digest over TLS,
    /// ITSPA rating 4), replacing any it had; printed once. `--remove`: back to its certificate.
    Secret {
        /// The device's MAC.
        mac: String,
        /// Delete the secret instead: the device authenticates by certificate again.
        #[arg(long)]
        remove: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The device's MAC.
    mac: String,
    /// The SIP user (extension or number).
    #[arg(long)]
    user: String,
    /// The digest authentication name [default: the user].
    #[arg(long)]
    auth_name: Option<String>,
    /// The name on the phone's screen [default: the user].
    #[arg(long)]
    display_name: Option<String>,
    #[command(flatten)]
    profile: ProfileArgs,
    /// Read the SIP password from this file (from your OSS/BSS) instead of generating one.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Also print the plaintext password (only the HA1 values otherwise).
    #[arg(long)]
    reveal_password: bool,
    /// How the phone authenticates: its factory `certificate`, or `digest` with an enrolment
    /// secret printed once (needs --vendor).
    #[arg(long, value_parser = ["certificate", "digest"])]
    auth: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ProfileArgs {
    /// The vendor (e.g. yealink).
    #[arg(long)]
    vendor: Option<String>,
    /// The model (e.g. T54W).
    #[arg(long)]
    model: Option<String>,
    /// The site the phone belongs to.
    #[arg(long)]
    site: Option<String>,
    /// A device setting, NAME=VALUE (repeatable).
    #[arg(long = "setting", value_name = "NAME=VALUE")]
    settings: Vec<String>,
}

impl ProfileArgs {
    fn settings(&self) -> anyhow::Result<Option<BTreeMap<String, String>>> {
        if self.settings.is_empty() {
            return Ok(None);
        }
        self.settings
            .iter()
            .map(|pair| match pair.split_once('=') {
                Some((name, value)) => Ok((name.trim().to_owned(), value.to_owned())),
                None => bail!("--setting {pair:?} must be NAME=VALUE"),
            })
            .collect::<anyhow::Result<_>>()
            .map(Some)
    }
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only devices in this state: issued, delivered, purged, dormant.
    #[arg(long)]
    state: Option<String>,
    /// Only this vendor.
    #[arg(long)]
    vendor: Option<String>,
    /// Only this site.
    #[arg(long)]
    site: Option<String>,
    /// Only devices that fetched since then (e.g. 24h, 7d, 2026-11-27T00:00:00Z).
    #[arg(long)]
    seen_since: Option<String>,
    /// Only devices that have not fetched since then.
    #[arg(long)]
    not_seen_since: Option<String>,
    /// At most this many (all pages when not given).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
}

#[derive(Debug, Args)]
pub(crate) struct UpdateArgs {
    /// The device's MAC.
    mac: String,
    /// The SIP user.
    #[arg(long)]
    user: Option<String>,
    /// The digest authentication name.
    #[arg(long)]
    auth_name: Option<String>,
    /// The name on the phone's screen.
    #[arg(long)]
    display_name: Option<String>,
    #[command(flatten)]
    profile: ProfileArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ImportFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Args)]
pub(crate) struct ImportArgs {
    /// The file: CSV with a header line (mac,user_name,... setting.NAME; `,`, `;` or tab
    /// between fields, as Excel writes it), or JSON lines.
    file: PathBuf,
    /// The file's format [default: from its extension, .csv or .jsonl].
    #[arg(long, value_enum)]
    format: Option<ImportFormat>,
    /// Also include plaintext passwords in the results (HA1 values only otherwise).
    #[arg(long)]
    reveal_passwords: bool,
    /// Check every row and say what it would do (created, updated, unchanged, error); change
    /// nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReissueArgs {
    /// The device's MAC.
    mac: String,
    /// Only the account on this line (port, handset); without it, every account and the admin
    /// password.
    #[arg(long)]
    line: Option<u16>,
    /// Read the new SIP password from this file (from your OSS/BSS) instead of generating one.
    #[arg(long)]
    password_file: Option<PathBuf>,
    /// Also print the plaintext password.
    #[arg(long)]
    reveal_password: bool,
}

const DEVICE_COLUMNS: [(&str, &str); 8] = [
    ("MAC", "mac"),
    ("USER", "user_name"),
    ("NAME", "display_name"),
    ("VENDOR", "vendor"),
    ("SITE", "site"),
    ("STATE", "state"),
    ("DISABLED", "disabled"),
    ("LAST FETCH", "last_fetch"),
];

impl DeviceCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            DeviceCommand::Add(args) => {
                let password = read_password(args.password_file.as_deref())?;
                let mut body = json!({
                    "mac": args.mac,
                    "user_name": args.user,
                    "auth_name": args.auth_name,
                    "display_name": args.display_name,
                    "vendor": args.profile.vendor,
                    "model": args.profile.model,
                    "site": args.profile.site,
                    "password": password,
                    "reveal_password": args.reveal_password,
                    "auth": args.auth,
                });
                if let Some(settings) = args.profile.settings()? {
                    body["settings"] = json!(settings);
                }
                strip_nulls(&mut body);
                let issued = client.post_json("/v1/devices", &body)?.expect(&[201])?;
                show_issued(&issued, as_json)
            }
            DeviceCommand::List(args) => list(client, args, as_json),
            DeviceCommand::Show { mac } => {
                let device = client.get(&format!("/v1/devices/{}", encode(&mac)))?.expect(&[200])?;
                show_device(&device, as_json)
            }
            DeviceCommand::Update(args) => {
                let mut body = json!({
                    "user_name": args.user,
                    "auth_name": args.auth_name,
                    "display_name": args.display_name,
                    "vendor": args.profile.vendor,
                    "model": args.profile.model,
                    "site": args.profile.site,
                });
                if let Some(settings) = args.profile.settings()? {
                    body["settings"] = json!(settings);
                }
                strip_nulls(&mut body);
                let device = client.patch_json(&format!("/v1/devices/{}", encode(&args.mac)), &body)?.expect(&[200])?;
                show_device(&device, as_json)
            }
            DeviceCommand::Import(args) => import(client, args, as_json),
            DeviceCommand::Rearm(args) => reissue(client, "rearm", args, as_json),
            DeviceCommand::Rotate(args) => reissue(client, "rotate", args, as_json),
            DeviceCommand::Disable { mac } => action(client, &mac, "disable", as_json),
            DeviceCommand::Enable { mac } => action(client, &mac, "enable", as_json),
            DeviceCommand::Secret { mac, remove: false } => {
                let path = format!("/v1/devices/{}/enrolment-secret", encode(&mac));
                let issued = client.post_json(&path, &json!({}))?.expect(&[200])?;
                if as_json {
                    return print_json(&issued);
                }
                println!("Enrolment secret of {} (shown once; the phone's HTTP Digest credentials):", issued["mac"]);
                println!("  username  {}", table::cell(issued.get("username")));
                println!("  password  {}", table::cell(issued.get("enrolment_secret")));
                Ok(())
            }
            DeviceCommand::Secret { mac, remove: true } => {
                client.delete(&format!("/v1/devices/{}/enrolment-secret", encode(&mac)))?.expect(&[204])?;
                if as_json {
                    print_json(&serde_json::json!({ "removed_secret": mac }))?;
                } else {
                    println!("Removed the enrolment secret of {mac}: it authenticates by certificate again.");
                }
                Ok(())
            }
            DeviceCommand::Resync(args) => args.run(client, as_json),
            DeviceCommand::Delete { mac } => {
                client.delete(&format!("/v1/devices/{}", encode(&mac)))?.expect(&[204])?;
                if as_json {
                    print_json(&serde_json::json!({ "deleted": mac }))?;
                } else {
                    println!("Deleted {mac}.");
                }
                Ok(())
            }
        }
    }
}

fn list(client: &Client, args: ListArgs, as_json: bool) -> anyhow::Result<()> {
    let limit = args.limit.map(|limit| limit as usize);
    let mut devices: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page_size = limit.map_or(1000, |limit| limit.saturating_sub(devices.len()).clamp(1, 1000));
        let path = format!(
            "/v1/devices{}",
            query(&[
                ("state", args.state.clone()),
                ("vendor", args.vendor.clone()),
                ("site", args.site.clone()),
                ("seen_since", args.seen_since.clone()),
                ("not_seen_since", args.not_seen_since.clone()),
                ("after", after.clone()),
                ("limit", Some(page_size.to_string())),
            ])
        );
        let page = client.get(&path)?.expect(&[200])?;
        devices.extend(page["devices"].as_array().cloned().unwrap_or_default());
        after = page["next_after"].as_str().map(str::to_owned);
        if after.is_none() || limit.is_some_and(|limit| devices.len() >= limit) {
            break;
        }
    }
    if as_json {
        return print_json(&json!({ "devices": devices }));
    }
    table::print(&DEVICE_COLUMNS, &devices);
    Ok(())
}

fn import(client: &Client, args: ImportArgs, as_json: bool) -> anyhow::Result<()> {
    let format = match args.format {
        Some(format) => format,
        None => match args.file.extension().and_then(|e| e.to_str()) {
            Some("csv") => ImportFormat::Csv,
            Some("jsonl" | "ndjson") => ImportFormat::Jsonl,
            _ => bail!("cannot tell the format of {} from its name: pass --format csv or jsonl", args.file.display()),
        },
    };
    let (name, content_type) = match format {
        ImportFormat::Csv => ("csv", "text/csv"),
        ImportFormat::Jsonl => ("jsonl", "application/x-ndjson"),
    };
    let file = std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut body = Progress::new(std::io::BufReader::new(file), total);
    let reveal = args.reveal_passwords.then(|| "true".to_owned());
    let dry_run = args.dry_run.then(|| "true".to_owned());
    let path = format!(
        "/v1/import{}",
        query(&[("format", Some(name.to_owned())), ("reveal_passwords", reveal), ("dry_run", dry_run)])
    );
    let (status, text) = client.post_stream(&path, content_type, &mut body)?;
    if status != 200 {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(text);
        bail!("import refused: {message} (HTTP {status})");
    }
    if as_json {
        print!("{text}");
    }
    let mut summary = Value::Null;
    let mut handed_over = Vec::new();
    for line in text.lines() {
        let row: Value = serde_json::from_str(line).context("the import response is not JSON lines")?;
        if row.get("summary").is_some() {
            summary = row["summary"].clone();
        } else if row["result"] == "error" && !as_json {
            eprintln!("line {}: {}", row["line"], table::cell(row.get("error")));
        } else if let Some(registrar) = row.get("registrar") {
            let mut registrar = registrar.clone();
            registrar["mac"] = row["mac"].clone();
            handed_over.push(registrar);
        }
    }
    if !as_json {
        if !handed_over.is_empty() {
            // The only time these exist outside the registrar: sipprov keeps no password.
            println!("For the registrar (shown once; --json gives them as JSON lines):");
            table::print(
                &[
                    ("MAC", "mac"),
                    ("USER", "user"),
                    ("REALM", "realm"),
                    ("HA1 MD5", "ha1_md5"),
                    ("PASSWORD", "password"),
                ],
                &handed_over,
            );
        }
        let (would, nothing) = if args.dry_run { ("would be ", " Dry run: nothing was changed.") } else { ("", "") };
        println!(
            "{} rows: {} {would}created, {} {would}updated, {} unchanged, {} errors.{nothing}",
            summary["rows"], summary["created"], summary["updated"], summary["unchanged"], summary["errors"]
        );
    }
    if let Some(reason) = summary["stopped"].as_str() {
        bail!("the import stopped early ({reason}); rows before it were applied");
    }
    match summary["errors"].as_u64() {
        Some(0) => Ok(()),
        Some(errors) => bail!("{errors} row(s) were not imported"),
        None => bail!("the import response has no summary"),
    }
}

fn reissue(client: &Client, action: &str, args: ReissueArgs, as_json: bool) -> anyhow::Result<()> {
    let password = read_password(args.password_file.as_deref())?;
    let mut body = json!({ "password": password, "reveal_password": args.reveal_password, "line": args.line });
    strip_nulls(&mut body);
    let issued = client.post_json(&format!("/v1/devices/{}/{action}", encode(&args.mac)), &body)?.expect(&[200])?;
    show_issued(&issued, as_json)
}

/// A password from a file (its first line), for passwords that come from the operator's OSS/BSS.
fn read_password(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    file.map(|file| {
        std::fs::read_to_string(file)
            .map(|p| p.trim_end_matches(['\r', '\n']).to_owned())
            .with_context(|| format!("cannot read {}", file.display()))
    })
    .transpose()
}

fn action(client: &Client, mac: &str, action: &str, as_json: bool) -> anyhow::Result<()> {
    let device = client.post_json(&format!("/v1/devices/{}/{action}", encode(mac)), &json!({}))?.expect(&[200])?;
    show_device(&device, as_json)
}

fn show_device(device: &Value, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(device);
    }
    if let Some(fields) = device.as_object() {
        for (name, value) in fields.iter().filter(|(name, _)| *name != "accounts") {
            println!("{name:<14} {}", table::cell(Some(value)));
        }
    }
    if let Some(accounts) = device["accounts"].as_array() {
        println!();
        table::print(&ACCOUNT_COLUMNS, accounts);
    }
    Ok(())
}

const ACCOUNT_COLUMNS: [(&str, &str); 8] = [
    ("LINE", "line"),
    ("USER", "user_name"),
    ("AUTH", "auth_name"),
    ("NAME", "display_name"),
    ("REGISTRAR", "registrar"),
    ("TRANSPORT", "transport"),
    ("SRTP", "srtp"),
    ("SECRET HELD", "holds_secret"),
];

fn show_issued(issued: &Value, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        return print_json(issued);
    }
    show_device(&issued["device"], false)?;
    if let Some(secret) = issued.get("enrolment_secret").and_then(Value::as_str) {
        println!("\nEnrolment secret, the phone's HTTP Digest password (shown once): {secret}");
    }
    println!("\nFor the registrar (shown once):");
    for registrar in issued["registrars"].as_array().into_iter().flatten() {
        if let Some(fields) = registrar.as_object() {
            println!();
            for (name, value) in fields {
                println!("  {name:<11} {}", table::cell(Some(value)));
            }
        }
    }
    Ok(())
}

fn strip_nulls(value: &mut Value) {
    if let Some(object) = value.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
}
