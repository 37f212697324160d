//! The servers a comparison runs, as child processes pinned to their own core: a real
//! `sipprovd` set up for the bench phones, and the bare baseline.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, Store, SystemClock};
use sipprov_identity::Mac;
use sipprov_store_postgres::{PostgresOptions, PostgresStore};
use sipprov_store_sqlite::SqliteStore;

use super::fleet::Fleet;

/// A command run on `core` when the machine has cores to spare and `taskset` is there.
pub(crate) fn pinned(program: &Path, core: Option<usize>) -> Command {
    match core {
        Some(core) => {
            let mut command = Command::new("taskset");
            command.args(["-c", &core.to_string()]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// Whether server and load generator can each have a core of their own.
pub(crate) fn can_pin() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    cores >= 2 && Command::new("taskset").arg("-V").output().is_ok_and(|out| out.status.success())
}

/// A server child process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) addr: SocketAddr,
    /// The admin listener's address (sipprovd only).
    pub(crate) admin: Option<SocketAddr>,
}

impl Server {
    /// The bare baseline server on a free loopback port.
    pub(crate) fn baseline(exe: &Path, fleet_dir: &Path, core: Option<usize>) -> anyhow::Result<Self> {
        let mut child = pinned(exe, core)
            .args(["bench", "baseline", "--listen", "127.0.0.1:0", "--dir"])
            .arg(fleet_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the baseline server")?;
        let stdout = child.stdout.take().context("the baseline's output")?;
        let addr = first_line_with(stdout, |line| line.strip_prefix("listening on ").and_then(|a| a.parse().ok()))
            .context("the baseline server did not start")?;
        Ok(Self { child, addr, admin: None })
    }

    /// `sipprovd run` from the instance directory `dir` (see [`prepare_sipprovd`]).
    pub(crate) fn sipprovd(sipprovd: &Path, dir: &Path, core: Option<usize>) -> anyhow::Result<Self> {
        let mut child = pinned(sipprovd, core)
            .args(["run", "--config"])
            .arg(dir.join("sipprov.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", sipprovd.display()))?;
        let stderr = child.stderr.take().context("sipprovd's log")?;
        let (addr, admin) = first_line_with(stderr, |line| {
            let log: serde_json::Value = serde_json::from_str(line).ok()?;
            let address = |name: &str| log[name].as_str()?.parse::<SocketAddr>().ok();
            (log["message"] == "serving").then(|| Some((address("phones")?, address("admin"))))?
        })
        .context("sipprovd did not start; run it by hand with the same config to see why")?;
        Ok(Self { child, addr, admin })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still there (not exited, not a zombie).
    pub(crate) fn is_running(&self) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        !stat.is_empty() && stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z")
    }

    /// The most memory the process has held (VmHWM), in MiB.
    pub(crate) fn peak_rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmHWM:")
    }

    /// The memory the process holds now (VmRSS), in MiB.
    pub(crate) fn rss_mib(&self) -> Option<f64> {
        self.memory_mib("VmRSS:")
    }

    /// The process's open file descriptors (sockets, database files, pipes).
    pub(crate) fn open_descriptors(&self) -> Option<usize> {
        Some(std::fs::read_dir(format!("/proc/{}/fd", self.child.id())).ok()?.count())
    }

    /// Waits, at most `limit`, until the process has used under 2 % of a core for a second:
    /// its start-up jobs (the first expiry sweep over every enrolled device) are done, so they
    /// do not take the pinned core from a measured storm.
    pub(crate) fn settle(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        let mut quiet = 0;
        while quiet < 2 && std::time::Instant::now() < deadline {
            let before = self.cpu_ticks();
            std::thread::sleep(Duration::from_millis(500));
            quiet = if self.cpu_ticks().saturating_sub(before) <= 1 { quiet + 1 } else { 0 };
        }
    }

    /// User and system time used so far, in clock ticks (1/100 s on Linux).
    fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
        fields.get(11..13).into_iter().flatten().filter_map(|f| f.parse::<u64>().ok()).sum()
    }

    fn memory_mib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: f64 =
            status.lines().find_map(|l| l.strip_prefix(field))?.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads lines of `stream` until `found` returns a value (within a minute); the rest of the
/// stream is drained in the background so the child never blocks on a full pipe.
fn first_line_with<T: Send + 'static>(
    reader: impl std::io::Read + Send + 'static,
    found: impl Fn(&str) -> Option<T> + Send + 'static,
) -> Option<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if !sent && let Some(value) = found(&line) {
                let _ = sender.send(value);
                sent = true;
            }
        }
    });
    receiver.recv_timeout(Duration::from_secs(60)).ok()
}

/// Where a bench `sipprovd` keeps its store.
#[derive(Debug, Clone, Copy)]
pub(crate) enum BenchStore<'a> {
    /// `sipprov.db` in the instance directory.
    Sqlite,
    /// This (empty) PostgreSQL database.
    Postgres(&'a str),
}

/// Sets up a `sipprovd` instance in `dir` (emptied first): a config trusting the bench device
/// CA (`cn-mac`), rate limits out of the way, JSON request logs as in production, a sealing key,
/// and `enrolled` phones in its `store`, enrolled directly through the libraries.
pub(crate) fn prepare_sipprovd(
    dir: &Path,
    fleet: &Fleet,
    grace_seconds: u64,
    enrolled: usize,
    store: BenchStore<'_>,
) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("cannot empty {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let keys = Keyring::generate_file(1, None)?;
    std::fs::write(dir.join("sealing.key"), &keys)?;
    // sipprovd refuses a sealing key others may read.
    std::fs::set_permissions(dir.join("sealing.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    let quoted = |path: PathBuf| format!("{:?}", path.display().to_string());
    let store_line = match store {
        BenchStore::Sqlite => r#"sqlite = "sipprov.db""#.to_owned(),
        BenchStore::Postgres(url) => format!("postgres = {url:?}"),
    };
    let config = format!(
        r#"# Written by `sipprov bench`: a sipprovd serving the bench phones.
[phones]
listen = "127.0.0.1:0"
certificate = {server}
key = {server_key}

[admin]
listen = "127.0.0.1:0"

[logging]
format = "json"
level = "info"

[[trust]]
bundle = {device_ca}
rule = "cn-mac"

[store]
{store_line}
sealing_key = "sealing.key"

[lifecycle]
grace_seconds = {grace_seconds}

[sip]
registrar = "sip.example.net"

[settings]
provisioning_url = "https://127.0.0.1"

# The load generator is one address playing many phones: its limits are raised out of the way.
[limits]
connections_burst = 100000000
connection_interval_ms = 1
requests_burst = 100000000
request_interval_ms = 1
device_requests_burst = 100000000
device_request_interval_ms = 1
max_connections_per_source = 100000
max_handshakes_in_flight = 4096
max_handshakes_per_source = 4096
max_handshakes_per_network = 4096
never_ban = ["127.0.0.0/8"]
"#,
        server = quoted(fleet.path("server.pem")),
        server_key = quoted(fleet.path("server.key")),
        device_ca = quoted(fleet.device_ca_path()),
    );
    std::fs::write(dir.join("sipprov.toml"), config)?;
    let store: Arc<dyn Store> = match store {
        BenchStore::Sqlite => Arc::new(SqliteStore::open(dir.join("sipprov.db"))?),
        BenchStore::Postgres(url) => Arc::new(PostgresStore::connect(&PostgresOptions::new(url))?),
    };
    enrol(store, &keys, enrolled)
}

/// Enrols phones `0..count` of the bench fleet, from several threads so their writes share
/// commits.
pub(crate) fn enrol(store: Arc<dyn Store>, keys: &str, count: usize) -> anyhow::Result<()> {
    let credentials =
        Arc::new(Credentials::new(store, Lifecycle::default(), Some(Keyring::parse(keys)?), Arc::new(SystemClock)));
    const THREADS: usize = 16;
    let workers: Vec<_> = (0..THREADS)
        .map(|worker| {
            let credentials = Arc::clone(&credentials);
            std::thread::spawn(move || -> anyhow::Result<()> {
                for index in (worker..count).step_by(THREADS) {
                    let mac: Mac = super::fleet::mac_of(index);
                    let account =
                        Account::new(1, format!("{}", 100_000 + index), format!("sp-{mac}"), format!("Bench {index}"));
                    credentials.enrol(mac, vec![account], Vec::new())?;
                }
                Ok(())
            })
        })
        .collect();
    for worker in workers {
        match worker.join() {
            Ok(result) => result?,
            Err(_) => bail!("an enrolment thread panicked"),
        }
    }
    Ok(())
}
