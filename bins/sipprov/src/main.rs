//! `sipprov`: the operator's command line for sipprov.
#![allow(clippy::print_stdout, clippy::print_stderr)]
// Doc comments here are the --help text clap prints to a terminal, not rustdoc pages.
#![allow(rustdoc::bare_urls, rustdoc::invalid_html_tags)]

mod api;
mod bench;
#[path = "../../cli_docs.rs"]
mod cli_docs;
mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Operate a sipprov provisioning server and inspect what phones present.
#[derive(Debug, Parser)]
#[command(name = "sipprov", version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SIPPROV_COMMIT"), ")"), about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    connection: api::Connection,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Device certificates and the identities read from them.
    #[command(subcommand)]
    Identity(commands::identity::IdentityCommand),
    /// What a User-Agent claims about a phone.
    #[command(subcommand)]
    Ua(commands::ua::UaCommand),
    /// Which file a request path names.
    #[command(subcommand)]
    Path(commands::path::PathCommand),
    /// Render a vendor config file from a settings file, as the server would.
    Render(commands::render::RenderArgs),
    /// Check a rendered config file against the hardening policy.
    Lint(commands::lint::LintArgs),
    /// The device inventory (admin API).
    #[command(subcommand)]
    Device(api::DeviceCommand),
    /// Devices seen but not enrolled (admin API).
    #[command(subcommand)]
    Pending(api::PendingCommand),
    /// The audit log and the suspicious-activity summary (admin API).
    Audit(api::AuditArgs),
    /// Bans on scanning addresses and networks (admin API).
    #[command(subcommand)]
    Ban(api::BanCommand),
    /// The registrars told each account's HA1: their queue, and rebuilding them (admin API).
    #[command(subcommand)]
    Registrar(api::RegistrarCommand),
    /// The firmware catalogue and targets (admin API).
    #[command(subcommand)]
    Firmware(api::FirmwareCommand),
    /// Fleet reports: firmware compliance, stale devices, ratings, User-Agent contradictions
    /// (admin API).
    #[command(subcommand)]
    Report(api::ReportCommand),
    /// Admin API tokens (admin API; `sipprovd token create` makes the first one offline).
    #[command(subcommand)]
    Token(api::TokenCommand),
    /// The softphone portal's users (admin API; needs `[portal]`).
    #[command(subcommand)]
    User(api::UserCommand),
    /// One-time provisioning links for softphones (admin API; needs `[portal]`).
    #[command(subcommand)]
    Softphone(api::SoftphoneCommand),
    /// Measure a boot storm against a server and against a bare TLS baseline.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Print a shell completion script (`sipprov completions bash > /etc/bash_completion.d/sipprov`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages, one per command, into a directory.
    #[command(hide = true)]
    Manpages {
        /// Where to write them.
        dir: std::path::PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let connection = &cli.connection;
    match cli.command {
        Command::Device(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Pending(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Audit(args) => api::run(connection, |client, json| args.run(client, json)),
        Command::Ban(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Registrar(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Token(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::User(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Softphone(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Firmware(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Report(api::ReportCommand::Compliance(args)) => args.run(connection.json),
        Command::Report(command) => api::run(connection, |client, json| command.run(client, json)),
        Command::Completions { shell } => cli_docs::completions(Cli::command(), shell),
        Command::Manpages { dir } => cli_docs::manpages(Cli::command(), &dir),
        Command::Identity(command) => command.run(),
        Command::Ua(command) => command.run(),
        Command::Path(command) => command.run(),
        Command::Render(args) => args.run(),
        Command::Lint(args) => args.run(),
        Command::Bench(command) => match command.run(connection, connection.json) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sipprov: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}
