//! `sipprov token ...`: admin API tokens, created through the API (needs an admin token).

use clap::Subcommand;
use serde_json::json;

use super::client::Client;
use super::table::{self, print_json};
use super::url::encode;

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// `admin`, `operator` or `auditor` (read only).
        #[arg(long)]
        role: String,
        /// Who or what holds it.
        #[arg(long)]
        name: String,
    },
    /// List tokens: id, name, role, created (never the tokens themselves).
    List,
    /// Revoke a token by its id (as `token list` shows it); it stops working at once.
    Revoke {
        /// The token's id, or its first 8 or more hex digits.
        id: String,
    },
}

impl TokenCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        match self {
            TokenCommand::Create { role, name } => {
                let created = client.post_json("/v1/tokens", &json!({ "name": name, "role": role }))?.expect(&[201])?;
                if as_json {
                    return print_json(&created);
                }
                println!("{}", created["token"].as_str().unwrap_or_default());
            }
            TokenCommand::List => {
                let tokens = client.get("/v1/tokens")?.expect(&[200])?;
                if as_json {
                    return print_json(&tokens);
                }
                let rows = tokens["tokens"].as_array().cloned().unwrap_or_default();
                table::print(&[("ID", "id"), ("NAME", "name"), ("ROLE", "role"), ("CREATED", "created_at")], &rows);
            }
            TokenCommand::Revoke { id } => {
                client.delete(&format!("/v1/tokens/{}", encode(&id)))?.expect(&[204])?;
                if as_json {
                    print_json(&serde_json::json!({ "revoked": id }))?;
                } else {
                    println!("Revoked token {id}.");
                }
            }
        }
        Ok(())
    }
}
