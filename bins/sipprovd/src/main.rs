//! `sipprovd`: the sipprov provisioning daemon.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use sipprov_credentials::{Keyring, Role};
use sipprov_store_postgres::PostgresOptions;
#[path = "../../cli_docs.rs"]
mod cli_docs;

use sipprovd::backup;
use sipprovd::check::check;
use sipprovd::config::{Config, LoggingSection};
use sipprovd::daemon::Daemon;
use sipprovd::demo::{DEMO_PHONES, Demo, DemoOptions};
use sipprovd::files::write_new_file;
use sipprovd::json_lines::JsonLines;
use sipprovd::log_output::LogOutput;
use sipprovd::migrate;

/// mimalloc: a boot storm allocates per handshake and per request, and the system allocator
/// cost sipprovd about 3 % of its throughput (`docs/performance.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Secure remote provisioning for SIP phones.
#[derive(Debug, Parser)]
#[command(name = "sipprovd", version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("SIPPROV_COMMIT"), ")"), about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a demo server with a generated PKI, three enrolled phones and an admin token.
    Demo {
        /// Directory for the demo's PKI, config and database (created if missing, reused if not).
        #[arg(long, default_value = "sipprov-demo")]
        dir: PathBuf,
        /// Address for the phone listener; port 0 picks a free port [default: the config's,
        /// 127.0.0.1:8443 in a new demo].
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Address for the admin listener; port 0 picks a free port [default: the config's,
        /// 127.0.0.1:8444 in a new demo].
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Seconds the password is still served after the first delivery [default: the config's,
        /// 300 in a new demo].
        #[arg(long)]
        grace: Option<u64>,
    },
    /// Run the server from a configuration file.
    Run {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Check a configuration file: anchors load, templates compile, keys and store readable.
    /// Prints every problem with its file and line; exits 1 if there is any.
    Check {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Create a sealing key file (mode 0600; never overwrites).
    ///
    /// To rotate keys: `keygen new.key --id 2 --previous old.key`, point `store.sealing_key` at
    /// new.key, run `sipprovd reseal`, then the old key may be dropped.
    Keygen {
        /// The key file to create.
        file: PathBuf,
        /// The new key's id (each ciphertext records the id of the key that sealed it).
        #[arg(long, default_value_t = 1)]
        id: u32,
        /// An existing key file whose keys are kept after the new one, so what they sealed opens.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Seal every stored secret again under the current (first) key of the key file.
    Reseal {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
    /// Copy the SQLite store into a new file while the daemon runs: SQLite's online backup, one
    /// consistent moment, the WAL included; the copy is checked and mode 0600.
    ///
    /// Secrets stay sealed in it: keep the sealing key apart from backups.
    Backup {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The backup file to create (never overwritten).
        file: PathBuf,
    },
    /// Replace the SQLite store with a backup (stop the daemon first), then revoke every API
    /// token: the backup's tokens include any revoked since. Create new ones with `token create`.
    Restore {
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
        /// The backup file (from `sipprovd backup`).
        file: PathBuf,
    },
    /// Admin API tokens, offline (works while the daemon is stopped too).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Move a single-node install's SQLite store into PostgreSQL (stop the daemon first).
    ///
    /// Everything moves as it is, secrets still sealed. Run it again to finish a move that
    /// stopped. At the end every record is compared; exits 1 if anything differs.
    Migrate {
        /// `sqlite:PATH`: the database file to move.
        #[arg(long)]
        from: String,
        /// The PostgreSQL connection URL to move it to (its schema is created if missing). Give
        /// it in the environment when it holds a password: a command line is visible to others.
        #[arg(long, env = "SIPPROV_MIGRATE_TO", hide_env_values = true)]
        to: String,
        /// PEM file of the certificate authorities for the database's TLS.
        #[arg(long)]
        to_ca_file: Option<PathBuf>,
    },
    /// Print a shell completion script (`sipprovd completions bash > /etc/bash_completion.d/sipprovd`).
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

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        /// `admin` (everything), `operator` (devices, imports, bans) or `auditor` (read only).
        #[arg(long)]
        role: Role,
        /// Who or what holds it, for the audit log.
        #[arg(long, default_value = "bootstrap")]
        name: String,
        /// The TOML configuration file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the runtime: {e}")),
    };
    let outcome = match cli.command {
        Command::Completions { shell } => return cli_docs::completions(Cli::command(), shell),
        Command::Manpages { dir } => return cli_docs::manpages(Cli::command(), &dir),
        Command::Demo { dir, listen, admin_listen, grace } => {
            runtime.block_on(demo(&dir, DemoOptions { listen, admin_listen, grace }))
        }
        Command::Run { config } => runtime.block_on(run(&config)),
        Command::Check { config } => return check_command(&config),
        Command::Keygen { file, id, previous } => keygen(&file, id, previous.as_deref()),
        Command::Reseal { config } => Config::load(&config).and_then(|config| {
            let resealed = config.credentials()?.reseal_all(500)?;
            say(&format!("Resealed {resealed} device(s) and registrar HA1 row(s) under the current key."));
            Ok(())
        }),
        Command::Migrate { from, to, to_ca_file } => return migrate_command(&from, to, to_ca_file),
        Command::Backup { config, file } => Config::load(&config).and_then(|config| {
            let copied = backup::backup(&config, &file)?;
            say(&format!(
                "Backed up {} devices into {} ({} KiB, schema version {}).",
                copied.devices,
                file.display(),
                copied.bytes / 1024,
                copied.schema_version
            ));
            Ok(())
        }),
        Command::Restore { config, file } => Config::load(&config).and_then(|config| {
            let restored = backup::restore(&config, &file)?;
            say(&format!(
                "Restored {} devices from {}. Revoked all {} API tokens (the backup's could include revoked ones): create new ones with `sipprovd token create`.",
                restored.copied.devices,
                file.display(),
                restored.tokens_revoked
            ));
            Ok(())
        }),
        Command::Token(TokenCommand::Create { role, name, config }) => Config::load(&config).and_then(|config| {
            let token = config.credentials()?.create_api_token(&name, role, "sipprovd token create")?;
            say(token.expose());
            Ok(())
        }),
    };
    LogOutput::flush_installed();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "sipprovd: {e:#}");
    ExitCode::FAILURE
}

fn check_command(config: &Path) -> ExitCode {
    let problems = check(config);
    if problems.is_empty() {
        say(&format!("{}: OK", config.display()));
        return ExitCode::SUCCESS;
    }
    for problem in &problems {
        say(&problem.to_string());
    }
    // Warnings alone do not stop a start.
    if problems.iter().all(|problem| problem.warning) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn migrate_command(from: &str, to: String, ca_file: Option<PathBuf>) -> ExitCode {
    let mut options = PostgresOptions::new(to);
    options.ca_file = ca_file;
    // A batch of hundreds of devices is thousands of round trips to a remote database.
    options.timeout = std::time::Duration::from_secs(600);
    let report = match migrate::sqlite_source(from).and_then(|from| migrate::migrate(&from, &options)) {
        Ok(report) => report,
        Err(e) => return fail(&e),
    };
    say(report.table().trim_end());
    if report.complete() {
        say(&format!("Moved into {}: every record is there and the same.", options.describe()));
        ExitCode::SUCCESS
    } else {
        say("The stores differ (was the daemon still writing?): run the move again, then compare.");
        ExitCode::FAILURE
    }
}

/// Logs to stderr, as JSON lines or text, filtered by `level` (overridden by `RUST_LOG`), in
/// batches every `flush_ms`.
fn init_logging(logging: &LoggingSection) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&logging.level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let output = LogOutput::install(logging.flush_ms);
    let builder = tracing_subscriber::fmt().with_writer(output).with_ansi(ansi).with_env_filter(filter);
    // `try_init` fails only if a subscriber is already installed; it is set up once, here.
    let _ = if logging.format == "json" { builder.event_format(JsonLines).try_init() } else { builder.try_init() };
}

async fn demo(dir: &Path, options: DemoOptions) -> anyhow::Result<()> {
    let mut demo = Demo::prepare(dir, options)?;
    init_logging(&demo.config.logging);
    if let Some(listen) = options.listen.filter(|listen| listen.port() != 0) {
        demo.config.settings.insert("provisioning_url".into(), url_base(listen));
    }
    let banner = if demo.reused {
        format!("Reusing the existing demo in {} (delete it to start afresh).", dir.display())
    } else {
        format!("Created a demo in {}: PKI in pki/, config in sipprov.toml, database sipprov.db.", dir.display())
    };
    let daemon = Daemon::bind(&demo.config, Arc::clone(&demo.credentials), Some(Demo::config_path(dir))).await?;
    demo.record_addresses(daemon.phone_addr(), daemon.admin_addr())?;
    let (url, admin_url) = (url_base(daemon.phone_addr()), url_base(daemon.admin_addr()));
    say(&format!(
        "{banner}\nServing phones on {url}\nEnrolled phones: {}\nFetch a phone's config as that phone:\n\n    {}\n\n\
         Admin API on {admin_url}; use the CLI with it:\n\n    {}\n\nPress Ctrl-C to stop.",
        DEMO_PHONES.map(|m| m.to_string()).join(", "),
        demo.curl_command(&DEMO_PHONES[0], &url),
        demo.cli_command(&admin_url),
    ));
    daemon.serve().await
}

async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    config.logging.check()?;
    config.lifecycle.check().context("[lifecycle]")?;
    config.check_listeners()?;
    init_logging(&config.logging);
    if let Err(e) = config.check_provisioning_name() {
        tracing::warn!(error = format!("{e:#}"), "phones checking the server's name will refuse it");
    }
    let _running = backup::RunLock::shared(&config)?;
    let credentials = Arc::new(config.credentials()?);
    let daemon = Daemon::bind(&config, credentials, Some(config_path.to_owned()))
        .await
        .with_context(|| format!("starting from {}", config_path.display()))?;
    let digest = daemon.digest_addr().map_or_else(|| "-".to_owned(), |addr| addr.to_string());
    let portal = daemon.portal_addr().map_or_else(|| "-".to_owned(), |addr| addr.to_string());
    tracing::info!(phones = %daemon.phone_addr(), admin = %daemon.admin_addr(), %digest, %portal, "serving");
    sipprovd::systemd::ready(&format!(
        "serving phones on {}, the admin API on {}",
        daemon.phone_addr(),
        daemon.admin_addr()
    ));
    sipprovd::systemd::start_watchdog();
    daemon.serve().await
}

fn keygen(file: &Path, id: u32, previous: Option<&Path>) -> anyhow::Result<()> {
    let previous = previous
        .map(|p| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display())))
        .transpose()?;
    let text = Keyring::generate_file(id, previous.as_deref())?;
    write_new_file(file, text.as_bytes(), 0o600)?;
    say(&format!("Wrote sealing key {id} to {} (mode 0600). Keep it out of the database's backups.", file.display()));
    Ok(())
}

/// Prints to stdout, ignoring a closed stdout: a daemon must keep serving when its terminal or
/// the pipe reading it goes away.
fn say(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// `https://host:port` for a bound address; a wildcard address is shown as `localhost`.
fn url_base(addr: SocketAddr) -> String {
    if addr.ip().is_unspecified() { format!("https://localhost:{}", addr.port()) } else { format!("https://{addr}") }
}
