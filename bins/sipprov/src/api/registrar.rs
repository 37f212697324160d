//! `sipprov registrar ...`: what waits for the registrars, and rebuilding them.

use clap::Subcommand;
use serde_json::json;

use super::client::Client;
use super::table::{self, cell, print_json};

#[derive(Debug, Subcommand)]
pub(crate) enum RegistrarCommand {
    /// The registrars configured, and how many changes wait for them.
    Status,
    /// Write every account's HA1 kept to every registrar again (after the registrar lost data,
    /// or was added), and list the users a registrar holds that no account has.
    Sync {
        /// Report what would be done; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Also remove the users of the realm that no account has (only for a realm that is
        /// sipprov's alone: other users of the registrar would go too).
        #[arg(long)]
        prune: bool,
    },
}

impl RegistrarCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            RegistrarCommand::Status => {
                let status = client.get("/v1/registrar")?.expect(&[200])?;
                if as_json {
                    return print_json(&status);
                }
                println!("realm       {}", cell(status.get("realm")));
                let names: Vec<String> =
                    status["registrars"].as_array().into_iter().flatten().map(|name| cell(Some(name))).collect();
                println!("registrars  {}", names.join(", "));
                println!("pending     {}", cell(status.get("pending")));
                if let Some(oldest) = status.get("oldest_pending").filter(|oldest| !oldest.is_null()) {
                    let (change, user, mac) =
                        (cell(oldest.get("change")), cell(oldest.get("user")), cell(oldest.get("mac")));
                    println!("oldest      {change} {user} ({mac})");
                }
                Ok(())
            }
            RegistrarCommand::Sync { dry_run, prune } => {
                let body = json!({"dry_run": dry_run, "prune": prune});
                let sync = client.post_json("/v1/registrar/sync", &body)?.expect(&[200])?;
                if as_json {
                    return print_json(&sync);
                }
                let rows: Vec<serde_json::Value> = sync["registrars"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|report| {
                        let count = |field: &str| report[field].as_array().map_or(json!("-"), |list| json!(list.len()));
                        json!({
                            "registrar": report["registrar"],
                            "set": report["set"],
                            "deleted": count("deleted"),
                            "unknown": count("unknown"),
                        })
                    })
                    .collect();
                let columns =
                    [("REGISTRAR", "registrar"), ("SET", "set"), ("DELETED", "deleted"), ("UNKNOWN", "unknown")];
                table::print(&columns, &rows);
                let missing = sync["missing"].as_array().map_or(0, Vec::len);
                if missing > 0 {
                    println!(
                        "{missing} account(s) have no HA1 kept (enrolled before a registrar was configured): rotate them."
                    );
                }
                if dry_run {
                    println!("Dry run: nothing was written.");
                }
                Ok(())
            }
        }
    }
}
