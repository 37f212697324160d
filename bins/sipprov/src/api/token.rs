//! `sipprov token ...`: admin API tokens, created through the API (needs an admin token).

use clap::Subcommand;
use serde_json::json;

use super::client::Client;
use super::print_json;

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
}

impl TokenCommand {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        let TokenCommand::Create { role, name } = self;
        let created = client.post_json("/v1/tokens", &json!({ "name": name, "role": role }))?.expect(&[201])?;
        if as_json {
            return print_json(&created);
        }
        println!("{}", created["token"].as_str().unwrap_or_default());
        Ok(())
    }
}
