//! `sipprov audit ...`: the audit log, and the suspicious-activity summary.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::client::Client;
use super::table::{self, print_json};
use super::url::query;

#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    #[command(subcommand)]
    summary: Option<AuditSummary>,
    /// Only this device.
    #[arg(long)]
    mac: Option<String>,
    /// Only this kind (delivered, key-mismatch, banned, ...).
    #[arg(long)]
    kind: Option<String>,
    /// Only since then: 24h, 7d, or 2026-11-27T00:00:00Z.
    #[arg(long, default_value = "24h")]
    since: String,
    /// List the oldest events first (default: the newest first).
    #[arg(long)]
    oldest_first: bool,
    /// Only before then.
    #[arg(long)]
    until: Option<String>,
    /// At most this many events.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
}

#[derive(Debug, Subcommand)]
enum AuditSummary {
    /// What needs looking at: top scanning addresses and networks, key-pin alerts, refusals.
    Suspicious {
        /// The period reviewed: 24h, 7d, or a time.
        #[arg(long, default_value = "24h")]
        since: String,
    },
}

impl AuditArgs {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        if let Some(AuditSummary::Suspicious { since }) = self.summary {
            let summary =
                client.get(&format!("/v1/audit/suspicious{}", query(&[("since", Some(since))])))?.expect(&[200])?;
            return if as_json { print_json(&summary) } else { print_suspicious(&summary) };
        }
        let mut events: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        let (order, cursor_name, next_name) =
            if self.oldest_first { ("oldest", "after", "next_after") } else { ("newest", "before", "next_before") };
        let limit = self.limit as usize;
        while events.len() < limit {
            let page_size = (limit - events.len()).min(1000);
            let path = format!(
                "/v1/audit{}",
                query(&[
                    ("mac", self.mac.clone()),
                    ("kind", self.kind.clone()),
                    ("since", Some(self.since.clone())),
                    ("until", self.until.clone()),
                    ("order", Some(order.to_owned())),
                    (cursor_name, cursor.clone()),
                    ("limit", Some(page_size.to_string())),
                ])
            );
            let page = client.get(&path)?.expect(&[200])?;
            events.extend(page["events"].as_array().cloned().unwrap_or_default());
            match page[next_name].as_u64() {
                Some(next) => cursor = Some(next.to_string()),
                None => break,
            }
        }
        if as_json {
            return print_json(&serde_json::json!({ "events": events }));
        }
        table::print(&[("ID", "id"), ("AT", "at"), ("MAC", "mac"), ("KIND", "kind"), ("DETAIL", "detail")], &events);
        Ok(())
    }
}

fn print_suspicious(summary: &Value) -> anyhow::Result<()> {
    println!("Since {} ({} audit events read)", table::cell(summary.get("since")), summary["events_read"]);
    let sections = [
        ("Top scanning addresses (bans)", "top_scanning_addresses"),
        ("Top scanning networks (bans)", "top_scanning_networks"),
        ("Key-pin alerts (another key claimed a device)", "key_pin_alerts"),
        ("Devices asking for other devices' files (last file asked)", "mac_mismatches"),
        ("Refused devices", "refused_devices"),
        ("Sources of unknown devices", "unknown_device_sources"),
    ];
    for (title, field) in sections {
        let rows = summary[field].as_array().cloned().unwrap_or_default();
        println!("\n{title}:");
        if rows.is_empty() {
            println!("  none");
        } else {
            table::print(&[("SUBJECT", "subject"), ("COUNT", "count"), ("LAST REASON", "last_reason")], &rows);
        }
    }
    println!("\nBans lifted: {}", summary["bans_lifted"]);
    println!("\nSince this server started:");
    if let Some(counters) = summary["since_start"].as_object() {
        for (name, value) in counters {
            println!("  {name:<22} {value}");
        }
    }
    Ok(())
}
