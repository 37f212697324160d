//! `sipprov`: the operator's command line for sipprov.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Operate a sipprov provisioning server and inspect what phones present.
#[derive(Debug, Parser)]
#[command(name = "sipprov", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Device certificates and the identities read from them.
    #[command(subcommand)]
    Identity(commands::identity::IdentityCommand),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Identity(command) => command.run(),
    }
}
