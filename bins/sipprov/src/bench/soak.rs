//! `sipprov bench soak`: a real `sipprovd` under mixed traffic for many minutes, sampled each
//! minute, to show that neither its memory nor its open descriptors grow without bound and
//! that its latency does not drift. See docs/reliability.md.
//!
//! Each minute mixes: provisioned phones polling, first boots (phones never fetched before,
//! each once), a scanner asking for other phones' files, an operator rotating passwords through
//! the admin API (the phones then fetch the new ones) and reading the audit log, and one reload
//! (SIGHUP). After it: the server's resident memory, open descriptors, database size, and the
//! polls' rate and latency.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::fleet::{Fleet, KeyKind};
use super::servers::{BenchStore, Server, prepare_sipprovd};
use super::storm::{Report, Storm, round};
use crate::api::client::Client;

/// First boots per minute: each a phone never fetched before.
const FIRST_BOOTS_PER_MINUTE: usize = 300;
/// How long each minute's traffic runs; the rest of the minute is sampling and pauses.
const TRAFFIC: Duration = Duration::from_secs(45);

/// A soak run.
pub(crate) struct Soak {
    /// The bench directory (its PKI, cached phones, and the soak's instance directory).
    pub(crate) dir: PathBuf,
    pub(crate) sipprovd: PathBuf,
    pub(crate) minutes: u64,
    /// Provisioned phones polling.
    pub(crate) phones: usize,
}

impl Soak {
    /// Runs the soak and returns one sample per minute and the drift between its first and
    /// last minutes.
    pub(crate) fn run(&self) -> anyhow::Result<Value> {
        let fleet = Fleet::open(&self.dir)?;
        let first_boots = FIRST_BOOTS_PER_MINUTE * usize::try_from(self.minutes)?;
        let enrolled = self.phones + first_boots;
        eprintln!("soak: {enrolled} phones ({} polling, {first_boots} first boots) ...", self.phones);
        fleet.phones(KeyKind::EcdsaP256, 0, enrolled)?;
        let instance = self.dir.join("sipprovd-soak");
        prepare_sipprovd(&instance, &fleet, 60, enrolled, BenchStore::Sqlite)?;
        let server = Server::sipprovd(&self.sipprovd, &instance, None)?;
        let admin = Client::new(
            &format!("https://{}", server.admin.context("sipprovd named no admin address")?),
            operator_token(&self.sipprovd, &instance)?,
            Some(&fleet.path("server-ca.pem")),
        )?;
        let storm = |phones, offset, concurrency, once, scan| -> anyhow::Result<Storm> {
            Ok(Storm {
                target: server.addr,
                server_ca: fleet.server_ca()?,
                phones: fleet.phones(KeyKind::EcdsaP256, offset, phones)?,
                concurrency,
                duration: TRAFFIC,
                tls12: false,
                once,
                scan,
            })
        };
        let started = Instant::now();
        let mut samples = Vec::new();
        for minute in 1..=self.minutes {
            let minute_started = Instant::now();
            let offset = self.phones + FIRST_BOOTS_PER_MINUTE * usize::try_from(minute - 1)?;
            let polls = storm(self.phones, 0, 8, false, false)?;
            let boots = storm(FIRST_BOOTS_PER_MINUTE, offset, 2, true, false)?;
            let scans = storm(50, 0, 1, false, true)?;
            let (done, calls) = (AtomicBool::new(false), Mutex::new((0u64, 0u64)));
            let (polls, boots, scans) = std::thread::scope(|scope| -> anyhow::Result<(Report, Report, Report)> {
                let storms = [polls, boots, scans].map(|storm| scope.spawn(move || storm.run()));
                scope.spawn(|| operate(&admin, self.phones, minute, &done, &calls));
                let [polls, boots, scans] = storms.map(|storm| storm.join());
                done.store(true, Ordering::Relaxed);
                let report = |joined: std::thread::Result<anyhow::Result<Report>>| {
                    joined.map_err(|_| anyhow::anyhow!("a storm panicked"))?
                };
                Ok((report(polls)?, report(boots)?, report(scans)?))
            })?;
            let (rotations, failed_calls) = *calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            reload(&server)?;
            let sample = json!({
                "minute": minute,
                "rss_mb": round(server.rss_mib().unwrap_or(0.0)),
                "open_fds": server.open_descriptors().unwrap_or(0),
                "db_mb": round(database_mib(&instance)),
                "polls_per_s": round(polls.rate()),
                "poll_p50_ms": round(polls.percentile(0.5)),
                "poll_p99_ms": round(polls.percentile(0.99)),
                "poll_errors": polls.errors.values().sum::<u64>(),
                "first_boots": boots.completed,
                "first_boot_errors": boots.errors.values().sum::<u64>(),
                "scans_refused": scans.errors.get("status 404").copied().unwrap_or(0),
                "scans_served": scans.completed,
                "rotations": rotations,
                "failed_admin_calls": failed_calls,
            });
            eprintln!("soak: {sample}");
            samples.push(sample);
            std::thread::sleep(Duration::from_secs(60).saturating_sub(minute_started.elapsed()));
        }
        if !server.is_running() {
            bail!("sipprovd stopped during the soak");
        }
        Ok(json!({
            "minutes": self.minutes,
            "seconds": started.elapsed().as_secs(),
            "samples": samples,
            "drift": drift(&samples),
            "peak_rss_mb": round(server.peak_rss_mib().unwrap_or(0.0)),
        }))
    }
}

/// The operator's part of a minute: a password rotation every 3 s and a read of the audit log, until
/// `done`; counts (rotations made, calls failed) into `calls`.
fn operate(admin: &Client, phones: usize, minute: u64, done: &AtomicBool, calls: &Mutex<(u64, u64)>) {
    let mut turn = 0usize;
    while !done.load(Ordering::Relaxed) {
        let index = (usize::try_from(minute).unwrap_or(0) * 7919 + turn * 104_729) % phones.max(1);
        let mac = super::fleet::mac_of(index);
        let rotated = admin.post_json(&format!("/v1/devices/{mac}/rotate"), &json!({})).is_ok_and(|r| r.status == 200);
        let read = admin.get("/v1/audit?limit=100").is_ok_and(|r| r.status == 200);
        if let Ok(mut calls) = calls.lock() {
            calls.0 += u64::from(rotated);
            calls.1 += u64::from(!rotated) + u64::from(!read);
        }
        turn += 1;
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// `sipprovd token create --role operator` against the instance's store.
fn operator_token(sipprovd: &Path, instance: &Path) -> anyhow::Result<String> {
    let output = Command::new(sipprovd)
        .args(["token", "create", "--role", "operator", "--name", "soak", "--config"])
        .arg(instance.join("sipprov.toml"))
        .output()
        .context("running sipprovd token create")?;
    if !output.status.success() {
        bail!("sipprovd token create: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8(output.stdout)?.trim().to_owned())
}

/// Asks the server to reload its configuration, as `systemctl reload` does.
fn reload(server: &Server) -> anyhow::Result<()> {
    let status = Command::new("kill").args(["-HUP", &server.pid().to_string()]).status()?;
    if !status.success() {
        bail!("kill -HUP {} failed", server.pid());
    }
    Ok(())
}

/// The database and its write-ahead log, in MiB.
fn database_mib(instance: &Path) -> f64 {
    ["sipprov.db", "sipprov.db-wal"]
        .iter()
        .filter_map(|file| std::fs::metadata(instance.join(file)).ok())
        .map(|meta| meta.len() as f64 / 1_048_576.0)
        .sum()
}

/// How the last third of the run compares with the first third (after a minute's warm-up):
/// memory and descriptors in absolute terms, latency as a ratio.
fn drift(samples: &[Value]) -> Value {
    let third = (samples.len() / 3).max(1);
    let field = |part: &[Value], name: &str| -> f64 {
        let values: Vec<f64> = part.iter().filter_map(|s| s[name].as_f64()).collect();
        values.iter().sum::<f64>() / values.len().max(1) as f64
    };
    let early = &samples[1.min(samples.len())..(1 + third).min(samples.len())];
    let late = &samples[samples.len().saturating_sub(third)..];
    json!({
        "rss_mb": round(field(late, "rss_mb") - field(early, "rss_mb")),
        "open_fds": round(field(late, "open_fds") - field(early, "open_fds")),
        "poll_p50_ratio": round(field(late, "poll_p50_ms") / field(early, "poll_p50_ms").max(f64::MIN_POSITIVE)),
        "poll_p99_ratio": round(field(late, "poll_p99_ms") / field(early, "poll_p99_ms").max(f64::MIN_POSITIVE)),
    })
}

/// The samples as a table, then the drift.
pub(crate) fn print_table(report: &Value) {
    println!("minute  RSS MB  fds  DB MB  polls/s  p50 ms  p99 ms  errors  first boots  scans 404  rotations");
    for sample in report["samples"].as_array().into_iter().flatten() {
        println!(
            "{:>6}  {:>6}  {:>3}  {:>5}  {:>7}  {:>6}  {:>6}  {:>6}  {:>11}  {:>9}  {:>9}",
            sample["minute"],
            sample["rss_mb"],
            sample["open_fds"],
            sample["db_mb"],
            sample["polls_per_s"],
            sample["poll_p50_ms"],
            sample["poll_p99_ms"],
            sample["poll_errors"],
            sample["first_boots"],
            sample["scans_refused"],
            sample["rotations"],
        );
    }
    println!("drift, last third against the first (after minute 1): {}", report["drift"]);
    println!("peak RSS {} MB over {} s", report["peak_rss_mb"], report["seconds"]);
}
