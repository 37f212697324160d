//! `sipprov ban ...`: bans in force, and lifting one.

use clap::Subcommand;

use super::client::Client;
use super::table::{self, print_json};
use super::url::encode;

#[derive(Debug, Subcommand)]
pub(crate) enum BanCommand {
    /// The bans in force (every node's).
    List,
    /// Lift a ban.
    Remove {
        /// The banned address or network, as listed (e.g. 192.0.2.7, 2001:db8::/64).
        key: String,
    },
}

impl BanCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            BanCommand::List => {
                let bans = client.get("/v1/bans")?.expect(&[200])?;
                if as_json {
                    return print_json(&bans);
                }
                let rows = bans["bans"].as_array().cloned().unwrap_or_default();
                table::print(&[("KEY", "key"), ("REASON", "reason"), ("UNTIL", "until")], &rows);
                Ok(())
            }
            BanCommand::Remove { key } => {
                client.delete(&format!("/v1/bans/{}", encode(&key)))?.expect(&[204])?;
                if as_json {
                    print_json(&serde_json::json!({ "lifted": key }))?;
                } else {
                    println!("Lifted the ban on {key}.");
                }
                Ok(())
            }
        }
    }
}
