//! `sipprov bench`: how fast a provisioning server serves a boot storm, against a bare TLS
//! server with the same TLS configuration. See docs/performance.md.

mod baseline;
mod compare;
mod fleet;
mod reports;
mod servers;
mod soak;
mod storm;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use compare::{Compare, Scenario};
use fleet::{Fleet, KeyKind};
use storm::Storm;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Play N distinct phones connecting at once: each connection a full TLS handshake with
    /// the phone's own certificate and one GET of its own file. The target must trust the
    /// bench device CA (`DIR/device-ca.pem`, rule `cn-mac`).
    Storm {
        /// The server's address, e.g. 127.0.0.1:8443.
        #[arg(long)]
        target: SocketAddr,
        /// The bench directory: its PKI and cached phone certificates (made on first use).
        #[arg(long, default_value = "sipprov-bench")]
        dir: PathBuf,
        /// How many distinct phones.
        #[arg(long, default_value_t = 200)]
        phones: usize,
        /// Skip the first phones (to use phones never fetched before).
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Connections in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// The phones' key type.
        #[arg(long, value_enum, default_value = "ecdsa-p256")]
        key: KeyKind,
        /// TLS 1.2 only.
        #[arg(long)]
        tls12: bool,
        /// Each phone once, then stop.
        #[arg(long)]
        once: bool,
        /// The CA that issued the target's certificate [default: the bench server CA].
        #[arg(long)]
        server_ca: Option<PathBuf>,
        /// Enrol the phones first, through the admin API (`--url`, `--token-file`, `--ca`);
        /// phones already enrolled are left as they are.
        #[arg(long)]
        enrol: bool,
    },
    /// A bare rustls + hyper server with the phone listener's TLS configuration and the bench
    /// anchors, serving one fixed 4 KB body: the reference a provisioning server is compared to.
    Baseline {
        /// Where to listen (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:9443")]
        listen: SocketAddr,
        /// The bench directory.
        #[arg(long, default_value = "sipprov-bench")]
        dir: PathBuf,
    },
    /// Run the baseline and a real sipprovd in turn under the same storms and report each
    /// figure and the ratio sipprovd/baseline (`--json` for the report as JSON). Build both
    /// binaries in release mode first.
    Compare {
        /// Seconds per storm.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Which scenarios [default: steady, first_boot, rsa2048, tls12].
        #[arg(long, value_enum, value_delimiter = ',')]
        scenarios: Vec<Scenario>,
        /// The bench directory.
        #[arg(long, default_value = "sipprov-bench")]
        dir: PathBuf,
        /// The sipprovd binary [default: the one next to this sipprov].
        #[arg(long)]
        sipprovd: Option<PathBuf>,
        /// Distinct phones polling in the steady scenarios.
        #[arg(long, default_value_t = 200)]
        phones: usize,
        /// Connections in flight at once.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// A/B rounds.
        #[arg(long, default_value_t = 2)]
        rounds: usize,
        /// Phones per first_boot round (each fetched once).
        #[arg(long, default_value_t = 20_000)]
        first_boot_phones: usize,
        /// A PostgreSQL server URL on which the `postgres` scenario creates (and then drops) a
        /// database of its own.
        #[arg(long, env = "SIPPROV_BENCH_DATABASE_URL")]
        postgres: Option<String>,
    },
    /// Run a real sipprovd for MINUTES under mixed traffic (polls, first boots, a scanner,
    /// password rotations and audit log reads through the admin API, a reload each minute) and
    /// sample its memory, open descriptors, database size and poll latency each minute (see
    /// docs/reliability.md). Build both binaries in release mode first.
    Soak {
        /// Minutes to run.
        #[arg(long, default_value_t = 30)]
        minutes: u64,
        /// Provisioned phones polling.
        #[arg(long, default_value_t = 1_000)]
        phones: usize,
        /// The bench directory.
        #[arg(long, default_value = "sipprov-bench")]
        dir: PathBuf,
        /// The sipprovd binary [default: the one next to this sipprov].
        #[arg(long)]
        sipprovd: Option<PathBuf>,
    },
    /// Time each fleet report (firmware compliance, the /metrics summary, stale, mismatch) over
    /// an inventory of N devices with fleet facts, enrolled once into a SQLite store under the
    /// bench directory and reused.
    Reports {
        /// Enrolled devices.
        #[arg(long, default_value_t = 1_000_000)]
        devices: usize,
        /// The bench directory.
        #[arg(long, default_value = "sipprov-bench")]
        dir: PathBuf,
    },
}

impl BenchCommand {
    /// Runs the command; `connection` is the admin API's (for `storm --enrol`), `json` asks
    /// for reports as JSON.
    pub(crate) fn run(self, connection: &crate::api::Connection, json: bool) -> anyhow::Result<()> {
        match self {
            BenchCommand::Storm {
                target,
                dir,
                phones,
                offset,
                concurrency,
                duration,
                key,
                tls12,
                once,
                server_ca,
                enrol,
            } => {
                let fleet = Fleet::open(&dir)?;
                let phones = fleet.phones(key, offset, phones)?;
                if enrol {
                    enrol_through_api(&connection.client()?, &phones)?;
                }
                let storm = Storm {
                    target,
                    server_ca: match server_ca {
                        Some(path) => rustls_pki_types::pem::PemObject::from_pem_file(&path)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                        None => fleet.server_ca()?,
                    },
                    phones,
                    concurrency,
                    duration: Duration::from_secs(duration),
                    tls12,
                    once,
                    scan: false,
                };
                let report = storm.run()?;
                if json {
                    println!("{}", report.to_json());
                } else {
                    let value = report.to_json();
                    println!(
                        "{} connections in {} s: {} conn/s; latency p50 {} ms, p90 {} ms, p99 {} ms, max {} ms; errors {}",
                        value["connections"],
                        value["seconds"],
                        value["conn_per_s"],
                        value["p50_ms"],
                        value["p90_ms"],
                        value["p99_ms"],
                        value["max_ms"],
                        value["errors"]
                    );
                }
                Ok(())
            }
            BenchCommand::Reports { devices, dir } => {
                let report = reports::run(&dir, devices)?;
                if json {
                    println!("{report}");
                } else {
                    println!("{devices} devices; peak RSS {} MB", report["peak_rss_mb"]);
                    for (name, times) in report["reports"].as_object().into_iter().flatten() {
                        println!("{name:<48} fastest {} ms, median {} ms", times["fastest_ms"], times["median_ms"]);
                    }
                }
                Ok(())
            }
            BenchCommand::Baseline { listen, dir } => baseline::serve(&Fleet::open(&dir)?, listen),
            BenchCommand::Soak { minutes, phones, dir, sipprovd } => {
                let soak = soak::Soak { dir, sipprovd: sipprovd_binary(sipprovd)?, minutes, phones };
                let report = soak.run()?;
                if json {
                    println!("{report}");
                } else {
                    soak::print_table(&report);
                }
                Ok(())
            }
            BenchCommand::Compare {
                duration,
                scenarios,
                dir,
                sipprovd,
                phones,
                concurrency,
                rounds,
                first_boot_phones,
                postgres,
            } => {
                let sipprovd = sipprovd_binary(sipprovd)?;
                let scenarios = if scenarios.is_empty() {
                    vec![Scenario::Steady, Scenario::FirstBoot, Scenario::Rsa2048, Scenario::Tls12]
                } else {
                    scenarios
                };
                let compare = Compare {
                    dir,
                    sipprovd,
                    duration: Duration::from_secs(duration),
                    phones,
                    concurrency,
                    rounds,
                    first_boot_phones,
                    postgres,
                };
                let report = compare.run(&scenarios)?;
                if json {
                    println!("{report}");
                } else {
                    compare::print_table(&report);
                }
                Ok(())
            }
        }
    }
}

/// The sipprovd to run: `given`, or the one next to this sipprov.
fn sipprovd_binary(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let sipprovd = match given {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("sipprovd"),
    };
    anyhow::ensure!(
        sipprovd.exists(),
        "{} not found: `cargo build --release -p sipprovd -p sipprov`, or give --sipprovd",
        sipprovd.display()
    );
    Ok(sipprovd)
}

/// Enrols the storm's phones through a running server's admin API (a CSV import; phones
/// already enrolled are unchanged).
fn enrol_through_api(client: &crate::api::Client, phones: &[fleet::Phone]) -> anyhow::Result<()> {
    let mut csv = String::from("mac,user_name\n");
    for (n, phone) in phones.iter().enumerate() {
        csv.push_str(&format!("{},{}\n", phone.mac, 100_000 + n));
    }
    let (status, text) = client.post_stream("/v1/import?format=csv", "text/csv", &mut csv.as_bytes())?;
    anyhow::ensure!(status == 200, "the import was refused ({status}): {text}");
    Ok(())
}
