//! `sipprov firmware ...`: the firmware catalogue and its targets.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Client;
use super::table::{self, print_json};
use super::url::{encode, query};

#[derive(Debug, Subcommand)]
pub(crate) enum FirmwareCommand {
    /// Register an image: upload it (streamed, hashed as it goes), stored under its SHA-256.
    Add {
        /// The image file.
        file: PathBuf,
        /// Its vendor (yealink, polycom, cisco, snom, grandstream, fanvil, gigaset).
        #[arg(long)]
        vendor: String,
        /// The models it is for, comma-separated, as the inventory or the User-Agent names them.
        #[arg(long, value_delimiter = ',', required = true)]
        models: Vec<String>,
        /// Its version, as the phone's User-Agent reports it once running (`sipprov ua parse`).
        #[arg(long)]
        version: String,
        /// The file name phones may ask for it by [default: the file's own name].
        #[arg(long)]
        name: Option<String>,
    },
    /// The registered images.
    List,
    /// Remove an image (refused while a target names its version).
    Remove {
        /// Its SHA-256.
        sha256: String,
    },
    /// Flag an image as not to run (neither served nor rendered), or clear its flag.
    Flag {
        /// Its SHA-256.
        sha256: String,
        /// Why (a CVE, a defect).
        #[arg(long, required_unless_present = "clear", conflicts_with = "clear")]
        reason: Option<String>,
        /// Clear the flag.
        #[arg(long)]
        clear: bool,
    },
    /// Firmware targets: the version each model should run.
    #[command(subcommand)]
    Target(TargetCommand),
}

#[derive(Debug, Subcommand)]
pub(crate) enum TargetCommand {
    /// Set the version a vendor's model should run, everywhere, at a site or on one device.
    Set {
        /// The vendor.
        #[arg(long)]
        vendor: String,
        /// The model.
        #[arg(long)]
        model: String,
        /// The version: a registered, unflagged image of it for this model.
        #[arg(long)]
        version: String,
        /// Only at this site.
        #[arg(long, conflicts_with = "device")]
        site: Option<String>,
        /// Only this device (a MAC).
        #[arg(long)]
        device: Option<String>,
        /// Stage it: a stable share of the devices in scope first, 1 to 99 (chosen by MAC hash).
        #[arg(long, conflicts_with = "devices")]
        percent: Option<u8>,
        /// Stage it: these devices first (comma-separated MACs).
        #[arg(long, value_delimiter = ',')]
        devices: Option<Vec<String>>,
    },
    /// The targets.
    List,
    /// Clear a target.
    Clear {
        /// The vendor.
        #[arg(long)]
        vendor: String,
        /// The model.
        #[arg(long)]
        model: String,
        /// The site's target.
        #[arg(long, conflicts_with = "device")]
        site: Option<String>,
        /// The device's target.
        #[arg(long)]
        device: Option<String>,
    },
}

impl FirmwareCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            FirmwareCommand::Add { file, vendor, models, version, name } => {
                let name = match name {
                    Some(name) => name,
                    None => file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                };
                let mut image =
                    std::fs::File::open(&file).with_context(|| format!("cannot open {}", file.display()))?;
                let path = format!(
                    "/v1/firmware{}",
                    query(&[
                        ("vendor", Some(vendor)),
                        ("models", Some(models.join(","))),
                        ("version", Some(version)),
                        ("name", Some(name)),
                    ])
                );
                let (status, text) = client.post_stream(&path, "application/octet-stream", &mut image)?;
                let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                let image = super::client::Reply { status, body }.expect(&[200, 201])?;
                if as_json {
                    return print_json(&image);
                }
                let verb = if status == 201 { "Registered" } else { "Already registered:" };
                println!(
                    "{verb} {} {} for {} (sha256 {}).",
                    image["vendor"], image["version"], image["models"], image["sha256"]
                );
                Ok(())
            }
            FirmwareCommand::List => {
                let policy = client.get("/v1/firmware")?.expect(&[200])?;
                if as_json {
                    return print_json(&policy);
                }
                let rows = policy["images"].as_array().cloned().unwrap_or_default();
                let columns = [
                    ("SHA256", "sha256"),
                    ("VENDOR", "vendor"),
                    ("MODELS", "models"),
                    ("VERSION", "version"),
                    ("NAME", "name"),
                    ("SIZE", "size"),
                    ("FLAGGED", "flagged"),
                ];
                table::print(&columns, &rows);
                Ok(())
            }
            FirmwareCommand::Remove { sha256 } => {
                let image = client.delete(&format!("/v1/firmware/{}", encode(&sha256)))?.expect(&[200])?;
                if as_json {
                    return print_json(&image);
                }
                println!("Removed {} {} ({sha256}).", image["vendor"], image["version"]);
                Ok(())
            }
            FirmwareCommand::Flag { sha256, reason, clear } => {
                let reason = if clear { None } else { reason };
                let path = format!("/v1/firmware/{}/flag", encode(&sha256));
                let image = client.post_json(&path, &json!({ "reason": reason }))?.expect(&[200])?;
                if as_json {
                    return print_json(&image);
                }
                match image.get("flagged").and_then(Value::as_str) {
                    Some(reason) => println!("Flagged {} {}: {reason}.", image["vendor"], image["version"]),
                    None => println!("Cleared the flag of {} {}.", image["vendor"], image["version"]),
                }
                Ok(())
            }
            FirmwareCommand::Target(command) => command.run(client, as_json),
        }
    }
}

impl TargetCommand {
    fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            TargetCommand::Set { vendor, model, version, site, device, percent, devices } => {
                let body = json!({
                    "vendor": vendor, "model": model, "version": version, "site": site, "device": device,
                    "percent": percent, "devices": devices,
                });
                let target = client.put_json("/v1/firmware/targets", &body)?.expect(&[200])?;
                if as_json {
                    return print_json(&target);
                }
                println!("{}", describe(&target));
                Ok(())
            }
            TargetCommand::List => {
                let policy = client.get("/v1/firmware")?.expect(&[200])?;
                if as_json {
                    return print_json(&policy["targets"]);
                }
                let rows: Vec<Value> = policy["targets"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .iter()
                    .map(|t| {
                        json!({
                            "vendor": t["vendor"], "model": t["model"], "scope": scope(&t["scope"]),
                            "version": t["version"], "rollout": rollout(&t["rollout"]),
                        })
                    })
                    .collect();
                let columns = [
                    ("VENDOR", "vendor"),
                    ("MODEL", "model"),
                    ("SCOPE", "scope"),
                    ("VERSION", "version"),
                    ("ROLLOUT", "rollout"),
                ];
                table::print(&columns, &rows);
                Ok(())
            }
            TargetCommand::Clear { vendor, model, site, device } => {
                let path = format!(
                    "/v1/firmware/targets{}",
                    query(&[("vendor", Some(vendor)), ("model", Some(model)), ("site", site), ("device", device)])
                );
                let target = client.delete(&path)?.expect(&[200])?;
                if as_json {
                    return print_json(&target);
                }
                println!("Cleared: {}", describe(&target));
                Ok(())
            }
        }
    }
}

/// `yealink T54W everywhere -> 96.86.0.100 (10%)`.
fn describe(target: &Value) -> String {
    format!(
        "{} {} {} -> {} ({})",
        table::cell(target.get("vendor")),
        table::cell(target.get("model")),
        scope(&target["scope"]),
        table::cell(target.get("version")),
        rollout(&target["rollout"])
    )
}

fn scope(scope: &Value) -> String {
    match scope {
        Value::Object(map) => map.iter().map(|(k, v)| format!("{k}={}", table::cell(Some(v)))).collect(),
        other => table::cell(Some(other)),
    }
}

fn rollout(rollout: &Value) -> String {
    match rollout {
        Value::Object(map) if map.contains_key("percent") => format!("{}%", map["percent"]),
        Value::Object(map) => format!("{} devices first", map["devices"].as_array().map_or(0, Vec::len)),
        other => table::cell(Some(other)),
    }
}
