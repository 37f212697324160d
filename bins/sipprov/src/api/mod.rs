//! Commands that talk to a running sipprovd through its admin API.
//!
//! Connection settings come from flags or the environment: `--url`/`SIPPROV_URL`,
//! `--token`/`SIPPROV_TOKEN` (or `--token-file`), `--ca`/`SIPPROV_CA`. Output is a table for
//! people, or the API's JSON with `--json` for scripts. Exit status: 0 on success, 1 when the
//! API refused or failed, 2 for usage errors.

mod audit;
mod ban;
mod client;
pub(crate) mod device;
mod firmware;
mod pending;
mod progress;
mod report;
mod table;
mod token;
mod url;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

pub(crate) use audit::AuditArgs;
pub(crate) use ban::BanCommand;
pub(crate) use client::Client;
pub(crate) use device::DeviceCommand;
pub(crate) use firmware::FirmwareCommand;
pub(crate) use pending::PendingCommand;
pub(crate) use report::ReportCommand;
pub(crate) use token::TokenCommand;

/// How to reach the admin API.
#[derive(Debug, Args)]
pub(crate) struct Connection {
    /// The admin API's base URL.
    #[arg(long, env = "SIPPROV_URL", default_value = "https://127.0.0.1:8444", global = true)]
    url: String,
    /// The bearer token (prefer --token-file or SIPPROV_TOKEN: command lines are visible to other users).
    #[arg(long, env = "SIPPROV_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// A file holding the bearer token (e.g. the demo's admin.token).
    #[arg(long, env = "SIPPROV_TOKEN_FILE", global = true, conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// The PEM CA certificate that signed the admin listener's certificate.
    #[arg(long, env = "SIPPROV_CA", global = true)]
    ca: Option<PathBuf>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

impl Connection {
    /// A client for the admin API with these settings.
    pub(crate) fn client(&self) -> anyhow::Result<Client> {
        let token = match (&self.token, &self.token_file) {
            (Some(token), _) => token.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?
                .trim()
                .to_owned(),
            (None, None) => anyhow::bail!("no token: pass --token-file FILE, or set SIPPROV_TOKEN"),
        };
        Client::new(&self.url, token, self.ca.as_deref())
    }
}

/// Runs `command` against the API, printing its error and returning exit code 1 on failure.
pub(crate) fn run(connection: &Connection, command: impl FnOnce(&Client, bool) -> anyhow::Result<()>) -> ExitCode {
    let outcome = connection.client().and_then(|client| command(&client, connection.json));
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipprov: {e:#}");
            ExitCode::FAILURE
        }
    }
}
