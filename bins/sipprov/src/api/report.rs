//! `sipprov report ...`: fleet reports.

use clap::Subcommand;
use serde_json::Value;

use super::client::Client;
use super::table::{self, print_json};
use super::url::query;

#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Firmware compliance: who is behind its target (grouped, then one by one), who runs a
    /// flagged version.
    Firmware {
        #[command(flatten)]
        page: Page,
    },
    /// Devices not seen for N days; dormant, never-seen and pending counts.
    Stale {
        /// The threshold in days [default: the server's fleet stale_days setting].
        #[arg(long)]
        days: Option<u64>,
        #[command(flatten)]
        page: Page,
    },
    /// Devices by the ITSPA rating of their latest fetch.
    Ratings,
    /// Devices whose User-Agent contradicts their certificate (another vendor or MAC).
    Mismatch {
        #[command(flatten)]
        page: Page,
    },
    /// The ITSPA recommendations a deployment's configuration decides, each with how it meets
    /// it or why not (offline: reads the daemon's config file). Exit status 1 if a row fails.
    Compliance(crate::commands::compliance::ComplianceArgs),
}

/// Paging of a listing.
#[derive(Debug, clap::Args)]
pub(crate) struct Page {
    /// List devices after this MAC (the previous page's `next_after`).
    #[arg(long)]
    after: Option<String>,
    /// At most this many devices.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

impl Page {
    fn pairs(&self) -> Vec<(&'static str, Option<String>)> {
        vec![("after", self.after.clone()), ("limit", Some(self.limit.to_string()))]
    }
}

impl ReportCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            ReportCommand::Firmware { page } => {
                let report = client.get(&format!("/v1/reports/firmware{}", query(&page.pairs())))?.expect(&[200])?;
                if as_json {
                    return print_json(&report);
                }
                println!(
                    "compliant {}  behind {}  unreported {}  without target {}",
                    report["compliant"], report["behind"], report["unreported"], report["without_target"]
                );
                let groups = rows(&report["behind_groups"]);
                if !groups.is_empty() {
                    println!("\nBehind, by model and version:");
                    let columns = [
                        ("VENDOR", "vendor"),
                        ("MODEL", "model"),
                        ("VERSION", "version"),
                        ("TARGET", "target"),
                        ("DEVICES", "devices"),
                        ("LONGEST BEHIND (s)", "longest_behind_seconds"),
                    ];
                    table::print(&columns, &groups);
                }
                let flagged = rows(&report["on_flagged"]);
                if !flagged.is_empty() {
                    println!("\nOn flagged versions:");
                    let columns = [
                        ("VENDOR", "vendor"),
                        ("MODEL", "model"),
                        ("VERSION", "version"),
                        ("REASON", "reason"),
                        ("DEVICES", "devices"),
                    ];
                    table::print(&columns, &flagged);
                }
                let laggards = rows(&report["laggards"]);
                if !laggards.is_empty() {
                    println!("\nBehind, one by one:");
                    let columns = [
                        ("MAC", "mac"),
                        ("MODEL", "model"),
                        ("VERSION", "version"),
                        ("TARGET", "target"),
                        ("BEHIND (s)", "behind_seconds"),
                    ];
                    table::print(&columns, &laggards);
                }
                next_page(&report);
                Ok(())
            }
            ReportCommand::Stale { days, page } => {
                let mut pairs = page.pairs();
                pairs.push(("days", days.map(|d| d.to_string())));
                let report = client.get(&format!("/v1/reports/stale{}", query(&pairs)))?.expect(&[200])?;
                if as_json {
                    return print_json(&report);
                }
                println!(
                    "not seen for {} days: {}  never seen: {}  dormant: {}  pending: {}",
                    report["days"], report["stale"], report["never_seen"], report["dormant"], report["pending"]
                );
                devices(&report);
                Ok(())
            }
            ReportCommand::Ratings => {
                let report = client.get("/v1/reports/ratings")?.expect(&[200])?;
                if as_json {
                    return print_json(&report);
                }
                let mut rows: Vec<Value> = report["ratings"]
                    .as_object()
                    .map(|ratings| {
                        ratings
                            .iter()
                            .map(|(rating, n)| serde_json::json!({ "rating": rating, "devices": n }))
                            .collect()
                    })
                    .unwrap_or_default();
                rows.push(serde_json::json!({ "rating": "none yet", "devices": report["unrated"] }));
                table::print(&[("RATING", "rating"), ("DEVICES", "devices")], &rows);
                Ok(())
            }
            ReportCommand::Mismatch { page } => {
                let report = client.get(&format!("/v1/reports/mismatch{}", query(&page.pairs())))?.expect(&[200])?;
                if as_json {
                    return print_json(&report);
                }
                devices(&report);
                Ok(())
            }
            // Read from the config file, not the API: `main` runs it without a client.
            ReportCommand::Compliance(_) => anyhow::bail!("report compliance reads --config, not the admin API"),
        }
    }
}

fn rows(value: &Value) -> Vec<Value> {
    value.as_array().cloned().unwrap_or_default()
}

fn devices(report: &Value) {
    let columns = [
        ("MAC", "mac"),
        ("STATE", "state"),
        ("LAST SEEN", "last_seen"),
        ("FIRMWARE", "firmware"),
        ("MISMATCH", "mismatch"),
    ];
    table::print(&columns, &rows(&report["devices"]));
    next_page(report);
}

fn next_page(report: &Value) {
    if let Some(after) = report["next_after"].as_str() {
        println!("\nMore: --after {after}");
    }
}
