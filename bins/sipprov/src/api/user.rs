//! `sipprov user ...` and `sipprov softphone link`: the softphone portal's users and one-time
//! provisioning links (admin API; sipprovd needs `[portal]`).

use clap::Subcommand;
use serde_json::json;

use super::client::Client;
use super::table::{self, print_json};
use super::url::encode;

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Create a portal user with its softphones; prints the one-time activation link (give it
    /// to the user by a channel other than the one their password will travel by).
    Add {
        /// The login name (a-z, 0-9, '.', '_', '@', '-').
        #[arg(long)]
        name: String,
        /// Where to reach the user.
        #[arg(long)]
        email: String,
        /// A softphone (inventory MAC) the user may see; repeat for several.
        #[arg(long = "device", value_name = "MAC")]
        devices: Vec<String>,
    },
    /// List users: name, e-mail, softphones, whether activated, lockouts.
    List,
    /// Remove a user; its sessions end.
    Remove {
        /// The login name.
        name: String,
    },
    /// Give a user a new activation link (a forgotten password); the old password stops working.
    Reset {
        /// The login name.
        name: String,
    },
}

impl UserCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            UserCommand::Add { name, email, devices } => {
                let body = json!({ "name": name, "email": email, "devices": devices });
                let created = client.post_json("/v1/users", &body)?.expect(&[201])?;
                if as_json {
                    return print_json(&created);
                }
                println!(
                    "Created {name}. Activation link (until {}):",
                    created["activation_expires_at"].as_str().unwrap_or("-")
                );
                println!("{}", created["activation_url"].as_str().unwrap_or_default());
            }
            UserCommand::List => {
                let users = client.get("/v1/users")?.expect(&[200])?;
                if as_json {
                    return print_json(&users);
                }
                let rows: Vec<serde_json::Value> = users["users"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|mut user| {
                        let devices = user["devices"]
                            .as_array()
                            .map(|d| d.iter().filter_map(|m| m.as_str()).collect::<Vec<_>>().join(","));
                        user["devices"] = devices.unwrap_or_default().into();
                        user
                    })
                    .collect();
                let columns = [
                    ("NAME", "name"),
                    ("EMAIL", "email"),
                    ("DEVICES", "devices"),
                    ("ACTIVE", "active"),
                    ("LOCKED UNTIL", "locked_until"),
                ];
                table::print(&columns, &rows);
            }
            UserCommand::Remove { name } => {
                client.delete(&format!("/v1/users/{}", encode(&name)))?.expect(&[204])?;
                if as_json {
                    print_json(&json!({ "removed": name }))?;
                } else {
                    println!("Removed {name}.");
                }
            }
            UserCommand::Reset { name } => {
                let reset =
                    client.post_json(&format!("/v1/users/{}/reset", encode(&name)), &json!({}))?.expect(&[200])?;
                if as_json {
                    return print_json(&reset);
                }
                println!("{}", reset["activation_url"].as_str().unwrap_or_default());
            }
        }
        Ok(())
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum SoftphoneCommand {
    /// Make a one-time provisioning link for a softphone (never containing its password):
    /// the softphone fetching it gets its config once, before it expires.
    Link {
        /// The softphone's inventory MAC.
        mac: String,
        /// How long the link works, e.g. 15m or 1h (at most 24h) [default: the portal's].
        #[arg(long)]
        ttl: Option<String>,
    },
}

impl SoftphoneCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            SoftphoneCommand::Link { mac, ttl } => {
                let query = ttl.map(|ttl| format!("?ttl={}", encode(&ttl))).unwrap_or_default();
                let link = client
                    .post_json(&format!("/v1/softphones/{}/link{query}", encode(&mac)), &json!({}))?
                    .expect(&[201])?;
                if as_json {
                    return print_json(&link);
                }
                println!("{}", link["url"].as_str().unwrap_or_default());
                for (name, url) in link["formats"].as_object().into_iter().flatten() {
                    println!("  for {name}: {}", url.as_str().unwrap_or_default());
                }
                println!("(single use, until {})", link["expires_at"].as_str().unwrap_or("-"));
            }
        }
        Ok(())
    }
}
