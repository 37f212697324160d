//! `sipprov pending ...`: devices seen with valid certificates but not in the inventory.

use clap::Subcommand;
use serde_json::{Value, json};

use super::client::Client;
use super::table::{self, print_json};
use super::url::{encode, query};

#[derive(Debug, Subcommand)]
pub(crate) enum PendingCommand {
    /// List pending devices: each MAC with the fingerprint of every key that claimed it.
    List,
    /// Enrol a pending device; prints the registrar's HA1 values once.
    Enrol {
        /// The device's MAC.
        mac: String,
        /// The SIP user.
        #[arg(long)]
        user: String,
        /// The name on the phone's screen [default: the user].
        #[arg(long)]
        display_name: Option<String>,
        /// The site the phone belongs to.
        #[arg(long)]
        site: Option<String>,
        /// Also print the plaintext password.
        #[arg(long)]
        reveal_password: bool,
        /// The key fingerprint you approve, as `pending list` shows it; it is pinned, so only
        /// that certificate gets the secrets. Needed when several keys claimed the MAC.
        #[arg(long)]
        spki: Option<String>,
    },
}

impl PendingCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            PendingCommand::List => {
                let mut rows: Vec<Value> = Vec::new();
                let mut after: Option<String> = None;
                loop {
                    let path = format!("/v1/pending{}", query(&[("after", after), ("limit", Some("1000".into()))]));
                    let page = client.get(&path)?.expect(&[200])?;
                    rows.extend(page["pending"].as_array().cloned().unwrap_or_default());
                    after = page["next_after"].as_str().map(str::to_owned);
                    if after.is_none() {
                        break;
                    }
                }
                if as_json {
                    return print_json(&json!({ "pending": rows }));
                }
                table::print(
                    &[
                        ("MAC", "mac"),
                        ("VENDOR", "vendor"),
                        ("KEY (SPKI SHA-256)", "spki_sha256"),
                        ("FIRST SEEN", "first_seen"),
                        ("LAST SEEN", "last_seen"),
                        ("SEEN", "count"),
                    ],
                    &rows,
                );
                Ok(())
            }
            PendingCommand::Enrol { mac, user, display_name, site, reveal_password, spki } => {
                let body = json!({
                    "user_name": user,
                    "display_name": display_name,
                    "site": site,
                    "reveal_password": reveal_password,
                    "spki_sha256": spki,
                });
                let issued = client.post_json(&format!("/v1/pending/{}/enrol", encode(&mac)), &body)?.expect(&[201])?;
                if as_json {
                    return print_json(&issued);
                }
                println!(
                    "Enrolled {}. For the registrar (shown once):",
                    issued["device"]["mac"].as_str().unwrap_or("?")
                );
                if let Some(fields) = issued["registrar"].as_object() {
                    for (name, value) in fields {
                        println!("  {name:<11} {}", table::cell(Some(value)));
                    }
                }
                Ok(())
            }
        }
    }
}
