//! Commands that talk to a running sipprovd through its admin API.
//!
//! Connection settings come from flags or the environment: `--url`/`SIPPROV_URL`,
//! `--token`/`SIPPROV_TOKEN` (or `--token-file`), `--ca`/`SIPPROV_CA`; an empty variable counts
//! as unset. Output is a table for people, or JSON with `--json` for scripts (every command
//! prints a document, those that answer nothing too). Exit status: 0 on success, 1 when the API
//! refused or failed, 2 for usage errors (no token), 3 when the token is refused (401, 403), 4
//! when what was named does not exist (404), 5 when the API cannot be reached.

mod audit;
mod ban;
pub(crate) mod client;
pub(crate) mod device;
mod firmware;
mod pending;
mod progress;
mod registrar;
mod report;
mod resync;
mod table;
mod token;
mod url;
mod user;

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
pub(crate) use registrar::RegistrarCommand;
pub(crate) use report::ReportCommand;
pub(crate) use token::TokenCommand;
pub(crate) use user::{SoftphoneCommand, UserCommand};

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
    #[arg(long, env = "SIPPROV_TOKEN_FILE", global = true)]
    token_file: Option<String>,
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
        // An empty variable (`SIPPROV_TOKEN_FILE=`) is as good as unset.
        let present = |value: &Option<String>| value.clone().filter(|v| !v.is_empty());
        let token_file = present(&self.token_file).map(PathBuf::from);
        let token = match (&present(&self.token), &token_file) {
            (Some(_), Some(_)) => anyhow::bail!("a token and a token file: give one of them"),
            (Some(token), None) => token.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read the token file {}", file.display()))?
                .trim()
                .to_owned(),
            (None, None) => anyhow::bail!("no token: pass --token-file FILE, or set SIPPROV_TOKEN"),
        };
        Client::new(&self.url, token, self.ca.as_deref())
    }
}

/// Runs `command` against the API, printing its error and returning the exit status that
/// says what kind of failure it was (see the module docs).
pub(crate) fn run(connection: &Connection, command: impl FnOnce(&Client, bool) -> anyhow::Result<()>) -> ExitCode {
    let client = match connection.client() {
        Ok(client) => client,
        Err(e) => {
            eprintln!("sipprov: {e:#}");
            return ExitCode::from(2);
        }
    };
    match command(&client, connection.json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sipprov: {e:#}");
            ExitCode::from(exit_status(&e))
        }
    }
}

/// The exit status for a failed command.
fn exit_status(e: &anyhow::Error) -> u8 {
    match (e.downcast_ref::<client::Refused>(), e.downcast_ref::<client::Unreachable>()) {
        (Some(refused), _) if matches!(refused.status, 401 | 403) => 3,
        (Some(refused), _) if refused.status == 404 => 4,
        (None, Some(_)) => 5,
        _ => 1,
    }
}
