//! `sipprov bench compare`: the baseline and a real `sipprovd` under the same storms, in turn
//! (A/B/A/B), server and load generator on cores of their own, reported as ratios.
//!
//! Ratios, not absolute rates: the machines are noisy and differ, but both servers meet the
//! same noise within one run. Each storm runs as a child process (`sipprov bench storm`), so it
//! can be pinned to its core.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::fleet::{Fleet, KeyKind};
use sipprov_store_postgres::TestDatabase;

use super::servers::{BenchStore, Server, can_pin, pinned, prepare_sipprovd};
use super::storm::{Report, Summary, round};

/// What a comparison measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub(crate) enum Scenario {
    /// Provisioned phones polling: every password already purged.
    Steady,
    /// Every connection a first delivery, durably recorded before the answer.
    #[value(name = "first_boot")]
    FirstBoot,
    /// Polls against 1,000,000 enrolled devices, against 1,000 enrolled.
    #[value(name = "inventory_1m")]
    Inventory1m,
    /// As steady, phones with RSA-2048 keys.
    Rsa2048,
    /// As steady, over TLS 1.2.
    Tls12,
    /// As steady, sipprovd on PostgreSQL (`--postgres`), also against sipprovd on SQLite.
    Postgres,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Steady => "steady",
            Scenario::FirstBoot => "first_boot",
            Scenario::Inventory1m => "inventory_1m",
            Scenario::Rsa2048 => "rsa2048",
            Scenario::Tls12 => "tls12",
            Scenario::Postgres => "postgres",
        }
    }
}

/// How a comparison is run.
pub(crate) struct Compare {
    pub(crate) dir: PathBuf,
    pub(crate) sipprovd: PathBuf,
    pub(crate) duration: Duration,
    pub(crate) phones: usize,
    pub(crate) concurrency: usize,
    pub(crate) rounds: usize,
    pub(crate) first_boot_phones: usize,
    /// A PostgreSQL server on which the `postgres` scenario may create its database.
    pub(crate) postgres: Option<String>,
}

/// First deliveries before `first_boot`'s measured rounds (a few seconds' worth).
const FIRST_BOOT_WARM_UP: usize = 5_000;

/// One storm's settings, as passed to a child `sipprov bench storm`.
#[derive(Clone, Copy)]
struct StormPlan {
    phones: usize,
    offset: usize,
    key: KeyKind,
    tls12: bool,
    once: bool,
}

impl StormPlan {
    fn steady(phones: usize) -> Self {
        Self { phones, offset: 0, key: KeyKind::EcdsaP256, tls12: false, once: false }
    }
}

impl Compare {
    /// Runs `scenarios` and returns the report (`{"scenarios": {...}, "sipprovd_peak_rss_mb"}`).
    pub(crate) fn run(&self, scenarios: &[Scenario]) -> anyhow::Result<Value> {
        let exe = std::env::current_exe().context("the sipprov executable")?;
        let pin = can_pin();
        let (server_core, storm_core) = if pin { (Some(0), Some(1)) } else { (None, None) };
        let fleet = Fleet::open(&self.dir)?;
        let baseline = Server::baseline(&exe, &self.dir, server_core)?;
        let mut results = serde_json::Map::new();
        let mut peak_rss: f64 = 0.0;
        for &scenario in scenarios {
            eprintln!("bench: {} ...", scenario.name());
            let storm = |server: &Server, plan: StormPlan| self.storm(&exe, storm_core, server, plan);
            let instance = self.dir.join(format!("sipprovd-{}", scenario.name()));
            let mut result = match scenario {
                Scenario::Steady | Scenario::Rsa2048 | Scenario::Tls12 => {
                    let plan = StormPlan {
                        key: if scenario == Scenario::Rsa2048 { KeyKind::Rsa2048 } else { KeyKind::EcdsaP256 },
                        tls12: scenario == Scenario::Tls12,
                        ..StormPlan::steady(self.phones)
                    };
                    fleet.phones(plan.key, 0, plan.phones)?;
                    let server = self.provisioned(
                        &fleet,
                        &instance,
                        server_core,
                        plan.phones,
                        plan.phones,
                        plan,
                        BenchStore::Sqlite,
                    )?;
                    let result = self.alternate(|| storm(&baseline, plan), || storm(&server, plan))?;
                    peak_rss = peak_rss.max(server.peak_rss_mib().unwrap_or(0.0));
                    result
                }
                Scenario::FirstBoot => {
                    let per_round = self.first_boot_phones;
                    let measured = per_round * self.rounds;
                    fleet.phones(KeyKind::EcdsaP256, 0, measured + FIRST_BOOT_WARM_UP)?;
                    prepare_sipprovd(&instance, &fleet, 300, measured + FIRST_BOOT_WARM_UP, BenchStore::Sqlite)?;
                    let server = Server::sipprovd(&self.sipprovd, &instance, server_core)?;
                    server.settle(Duration::from_secs(60));
                    // First deliveries to phones never measured, as `steady` delivers and
                    // purges before it measures: the first storm a freshly started sipprovd
                    // serves measured 5-15 % slower than the ones after it.
                    let warm_up = StormPlan { offset: measured, once: true, ..StormPlan::steady(FIRST_BOOT_WARM_UP) };
                    storm(&server, warm_up)?;
                    let plan = |round: usize| StormPlan {
                        offset: round * per_round,
                        once: true,
                        ..StormPlan::steady(per_round)
                    };
                    let mut round = 0;
                    let result = self.alternate(
                        || storm(&baseline, plan(0)),
                        || {
                            round += 1;
                            storm(&server, plan(round - 1))
                        },
                    )?;
                    peak_rss = peak_rss.max(server.peak_rss_mib().unwrap_or(0.0));
                    result
                }
                Scenario::Postgres => {
                    let Some(server_url) = &self.postgres else {
                        bail!("the postgres scenario needs --postgres URL, a server where it may create a database");
                    };
                    let database = TestDatabase::create(server_url)
                        .map_err(|e| anyhow::anyhow!("cannot create the bench database: {e}"))?;
                    let plan = StormPlan::steady(self.phones);
                    fleet.phones(plan.key, 0, plan.phones)?;
                    let sqlite_dir = self.dir.join("sipprovd-postgres-vs-sqlite");
                    let (phones, store) = (plan.phones, BenchStore::Postgres(database.url()));
                    let sqlite =
                        self.provisioned(&fleet, &sqlite_dir, server_core, phones, phones, plan, BenchStore::Sqlite)?;
                    let server = self.provisioned(&fleet, &instance, server_core, phones, phones, plan, store)?;
                    let versus_sqlite = self.alternate(|| storm(&sqlite, plan), || storm(&server, plan))?;
                    let mut result = self.alternate(|| storm(&baseline, plan), || storm(&server, plan))?;
                    peak_rss = peak_rss.max(server.peak_rss_mib().unwrap_or(0.0));
                    result["sipprovd_sqlite"] = versus_sqlite["baseline"].clone();
                    result["ratio_vs_sqlite"] = versus_sqlite["ratio_conn_per_s"].clone();
                    result
                }
                Scenario::Inventory1m => {
                    let polled = 1_000;
                    let plan = StormPlan::steady(polled);
                    fleet.phones(KeyKind::EcdsaP256, 0, polled)?;
                    let small_dir = self.dir.join("sipprovd-inventory_1k");
                    let small =
                        self.provisioned(&fleet, &small_dir, server_core, polled, polled, plan, BenchStore::Sqlite)?;
                    let large =
                        self.provisioned(&fleet, &instance, server_core, 1_000_000, polled, plan, BenchStore::Sqlite)?;
                    let versus_small = self.alternate(|| storm(&small, plan), || storm(&large, plan))?;
                    let mut result = self.alternate(|| storm(&baseline, plan), || storm(&large, plan))?;
                    let rss = large.peak_rss_mib().unwrap_or(0.0);
                    peak_rss = peak_rss.max(rss);
                    result["sipprovd_1k"] = versus_small["baseline"].clone();
                    result["ratio_vs_1k"] = versus_small["ratio_conn_per_s"].clone();
                    result["peak_rss_mb"] = json!(round(rss));
                    result
                }
            };
            result["pinned"] = json!(pin);
            results.insert(scenario.name().to_owned(), result);
        }
        Ok(json!({ "scenarios": results, "sipprovd_peak_rss_mb": round(peak_rss) }))
    }

    /// A sipprovd on `store` with `enrolled` devices, the first `polled` of them delivered and
    /// purged, so that every poll measured afterwards is a provisioned phone's.
    #[allow(clippy::too_many_arguments)] // one call per scenario, each naming every setting
    fn provisioned(
        &self,
        fleet: &Fleet,
        dir: &Path,
        core: Option<usize>,
        enrolled: usize,
        polled: usize,
        plan: StormPlan,
        store: BenchStore<'_>,
    ) -> anyhow::Result<Server> {
        prepare_sipprovd(dir, fleet, 1, enrolled, store)?;
        let server = Server::sipprovd(&self.sipprovd, dir, core)?;
        let exe = std::env::current_exe()?;
        let once = StormPlan { phones: polled, once: true, ..plan };
        self.storm(&exe, None, &server, once)?; // first deliveries
        std::thread::sleep(Duration::from_millis(2_200)); // past the one-second grace
        self.storm(&exe, None, &server, once)?; // the purges
        Ok(server)
    }

    /// `rounds` times: a storm against A (the reference), then against B; the figures and the
    /// ratio B/A with its spread over the rounds.
    fn alternate(
        &self,
        mut reference: impl FnMut() -> anyhow::Result<Summary>,
        mut measured: impl FnMut() -> anyhow::Result<Summary>,
    ) -> anyhow::Result<Value> {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for _ in 0..self.rounds.max(1) {
            a.push(reference()?);
            b.push(measured()?);
        }
        let mean =
            |runs: &[Summary], field: fn(&Summary) -> f64| runs.iter().map(field).sum::<f64>() / runs.len() as f64;
        let rate = |s: &Summary| s.conn_per_s;
        let p99 = |s: &Summary| s.p99_ms;
        let ratios: Vec<f64> =
            a.iter().zip(&b).map(|(a, b)| b.conn_per_s / a.conn_per_s.max(f64::MIN_POSITIVE)).collect();
        let spread = [ratios.iter().copied().fold(f64::INFINITY, f64::min), ratios.iter().copied().fold(0.0, f64::max)];
        Ok(json!({
            "sipprovd": { "conn_per_s": round(mean(&b, rate)), "p99_ms": round(mean(&b, p99)), "errors": b.iter().map(|s| s.errors).sum::<u64>() },
            "baseline": { "conn_per_s": round(mean(&a, rate)), "p99_ms": round(mean(&a, p99)), "errors": a.iter().map(|s| s.errors).sum::<u64>() },
            "ratio_conn_per_s": round3(mean(&b, rate) / mean(&a, rate).max(f64::MIN_POSITIVE)),
            "ratio_p99": round3(mean(&b, p99) / mean(&a, p99).max(f64::MIN_POSITIVE)),
            "ratio_spread": [round3(spread[0]), round3(spread[1])],
            "rounds": a.iter().zip(&b).zip(&ratios).map(|((a, b), ratio)| json!({
                "baseline_conn_per_s": round(a.conn_per_s), "sipprovd_conn_per_s": round(b.conn_per_s), "ratio": round3(*ratio),
            })).collect::<Vec<_>>(),
        }))
    }

    /// One storm against `server`, as a child `sipprov bench storm` on `core`.
    fn storm(&self, exe: &Path, core: Option<usize>, server: &Server, plan: StormPlan) -> anyhow::Result<Summary> {
        let mut command = pinned(exe, core);
        command
            .args(["bench", "storm", "--json", "--target", &server.addr.to_string(), "--dir"])
            .arg(&self.dir)
            .args(["--phones", &plan.phones.to_string(), "--offset", &plan.offset.to_string()])
            .args(["--concurrency", &self.concurrency.to_string()])
            .args(["--duration", &self.duration.as_secs().to_string()])
            .args(["--key", if plan.key == KeyKind::Rsa2048 { "rsa-2048" } else { "ecdsa-p256" }]);
        if plan.tls12 {
            command.arg("--tls12");
        }
        if plan.once {
            command.arg("--once");
        }
        let output = run(&mut command)?;
        let report: Value = serde_json::from_slice(&output).context("the storm's report")?;
        Ok(Report::summary_of(&report))
    }
}

fn run(command: &mut Command) -> anyhow::Result<Vec<u8>> {
    let output = command.output().context("running a storm")?;
    if !output.status.success() {
        bail!("a storm failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(output.stdout)
}

fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// The comparison as a table, one scenario a line.
pub(crate) fn print_table(report: &Value) {
    println!(
        "{:<14} {:>12} {:>12} {:>8} {:>14} {:>10} {:>10} {:>8}",
        "scenario", "sipprovd/s", "baseline/s", "ratio", "spread", "p99 ms", "base p99", "p99 x"
    );
    let scenarios: BTreeMap<String, Value> =
        report["scenarios"].as_object().map(|m| m.clone().into_iter().collect()).unwrap_or_default();
    for (name, result) in scenarios {
        println!(
            "{:<14} {:>12} {:>12} {:>8} {:>14} {:>10} {:>10} {:>8}",
            name,
            result["sipprovd"]["conn_per_s"],
            result["baseline"]["conn_per_s"],
            result["ratio_conn_per_s"],
            format!("{}-{}", result["ratio_spread"][0], result["ratio_spread"][1]),
            result["sipprovd"]["p99_ms"],
            result["baseline"]["p99_ms"],
            result["ratio_p99"],
        );
        let rounds: Vec<String> =
            result["rounds"].as_array().into_iter().flatten().map(|round| round["ratio"].to_string()).collect();
        if rounds.len() > 1 {
            println!("{:<14} round by round: {}", "", rounds.join(" "));
        }
        if let Some(versus) = result.get("ratio_vs_1k") {
            println!("{:<14} vs 1,000 enrolled: {versus}x; peak RSS {} MB", "", result["peak_rss_mb"]);
        }
    }
    println!("sipprovd peak RSS: {} MB", report["sipprovd_peak_rss_mb"]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rounds_figures_are_reported_in_order_beside_the_mean_ratio() {
        let compare = Compare {
            dir: PathBuf::new(),
            sipprovd: PathBuf::new(),
            duration: Duration::from_secs(1),
            phones: 1,
            concurrency: 1,
            rounds: 2,
            first_boot_phones: 1,
            postgres: None,
        };
        let summary = |conn_per_s| Ok(Summary { conn_per_s, p99_ms: 10.0, errors: 0 });
        let (mut baseline, mut sipprovd) = ([1000.0, 2000.0].into_iter(), [800.0, 1800.0].into_iter());
        let report =
            compare.alternate(|| summary(baseline.next().unwrap()), || summary(sipprovd.next().unwrap())).unwrap();
        assert_eq!(
            report["rounds"],
            json!([
                {"baseline_conn_per_s": 1000.0, "sipprovd_conn_per_s": 800.0, "ratio": 0.8},
                {"baseline_conn_per_s": 2000.0, "sipprovd_conn_per_s": 1800.0, "ratio": 0.9},
            ])
        );
        assert_eq!(report["ratio_spread"], json!([0.8, 0.9]));
        // The ratio of the mean rates, not the mean of the ratios: 1,300 / 1,500.
        assert_eq!(report["ratio_conn_per_s"], json!(0.867));
    }
}
