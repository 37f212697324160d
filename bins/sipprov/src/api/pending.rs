//! `sipprov pending ...`: devices seen with valid certificates but not in the inventory.

use clap::Subcommand;
use serde_json::json;

use super::client::Client;
use super::{encode, print_json, table};

#[derive(Debug, Subcommand)]
pub(crate) enum PendingCommand {
    /// List pending devices.
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
    },
}

impl PendingCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            PendingCommand::List => {
                let pending = client.get("/v1/pending")?.expect(&[200])?;
                if as_json {
                    return print_json(&pending);
                }
                let rows = pending["pending"].as_array().cloned().unwrap_or_default();
                table::print(
                    &[
                        ("MAC", "mac"),
                        ("VENDOR", "vendor"),
                        ("FIRST SEEN", "first_seen"),
                        ("LAST SEEN", "last_seen"),
                        ("SEEN", "count"),
                    ],
                    &rows,
                );
                Ok(())
            }
            PendingCommand::Enrol { mac, user, display_name, site, reveal_password } => {
                let body = json!({
                    "user_name": user,
                    "display_name": display_name,
                    "site": site,
                    "reveal_password": reveal_password,
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
