//! `sipprovd`: the sipprov provisioning daemon.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sipprov_credentials::{Credentials, Keyring};
use sipprov_server::PhoneServer;
use sipprovd::config::Config;
use sipprovd::demo::{DEMO_PHONES, Demo};
use sipprovd::files::write_new_file;

/// Secure remote provisioning for SIP phones.
#[derive(Debug, Parser)]
#[command(name = "sipprovd", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a demo server with a generated PKI and three enrolled phones.
    Demo {
        /// Directory for the demo's PKI, config and database (created if missing, reused if not).
        #[arg(long, default_value = "sipprov-demo")]
        dir: PathBuf,
        /// Address for the phone listener (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Demo { dir, listen, grace } => demo(&dir, listen, grace).await,
        Command::Run { config } => run(&config).await,
        Command::Keygen { file, id, previous } => keygen(&file, id, previous.as_deref()),
        Command::Reseal { config } => {
            let resealed = Config::load(&config)?.credentials()?.reseal_all(500)?;
            say(&format!("Resealed the secrets of {resealed} device(s) under the current key."));
            Ok(())
        }
    }
}

async fn demo(dir: &Path, listen: SocketAddr, grace: Option<u64>) -> anyhow::Result<()> {
    let mut demo = Demo::prepare(dir, grace)?;
    demo.config.phones.listen = listen;
    if listen.port() != 0 {
        demo.config.settings.insert("provisioning_url".into(), url_base(listen));
    }
    let banner = if demo.reused {
        format!("Reusing the existing demo in {} (delete it to start afresh).", dir.display())
    } else {
        format!("Created a demo in {}: PKI in pki/, config in sipprov.toml, database sipprov.db.", dir.display())
    };
    let config = demo.config.server_config_with(Arc::clone(&demo.credentials))?;
    start_sweeper(Arc::clone(&config.credentials));
    let server = PhoneServer::bind(listen, config).await?;
    let url = url_base(server.local_addr());
    say(&format!(
        "{banner}\nServing phones on {url}\nEnrolled phones: {}\nFetch a phone's config as that phone:\n\n    {}\n\nPress Ctrl-C to stop.",
        DEMO_PHONES.map(|m| m.to_string()).join(", "),
        demo.curl_command(&DEMO_PHONES[0], &url),
    ));
    server.serve(shutdown_signal()).await?;
    Ok(())
}

async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let server_config = config.server_config()?;
    start_sweeper(Arc::clone(&server_config.credentials));
    let server = PhoneServer::bind(config.phones.listen, server_config)
        .await
        .with_context(|| format!("starting from {}", config_path.display()))?;
    tracing::info!(addr = %server.local_addr(), "serving phones");
    server.serve(shutdown_signal()).await?;
    Ok(())
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

/// How often expiries (purge after grace, dormant after N days) are applied without a fetch.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Devices read per store query during a sweep.
const SWEEP_BATCH: usize = 500;

/// Applies due expiries in the background, so secrets go away on time even if the phone never
/// comes back.
fn start_sweeper(credentials: Arc<Credentials>) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(SWEEP_EVERY);
        loop {
            every.tick().await;
            let credentials = Arc::clone(&credentials);
            match tokio::task::spawn_blocking(move || credentials.sweep(SWEEP_BATCH)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(changed)) => tracing::info!(changed, "expiry sweep"),
                Ok(Err(e)) => tracing::error!(error = %e, "expiry sweep failed"),
                Err(e) => tracing::error!(error = %e, "expiry sweep task failed"),
            }
        }
    });
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

/// Completes on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down");
}
