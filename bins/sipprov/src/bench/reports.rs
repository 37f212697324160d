//! `sipprov bench reports`: how long each fleet report takes over a large inventory.
//!
//! The inventory is enrolled once into a SQLite store under the bench directory and kept, with
//! fleet facts for every device as its fetches would leave them: most on an old version, a
//! tenth on the target, one in a thousand contradicting its certificate, last seen over the
//! past month. Each report is then run several times and its fastest and median times printed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sipprov_credentials::{DeviceQuery, FleetFacts, LastSeen, Sighting, Store, Timestamp};
use sipprov_fleet::report::{firmware_report, mismatch_report, stale_report, summary};
use sipprov_fleet::{FirmwareImage, FirmwarePolicy, Rollout, Scope, Target};
use sipprov_store_sqlite::SqliteStore;

use super::fleet::mac_of;
use super::servers::enrol;

/// Runs of each report.
const RUNS: usize = 3;

/// Sightings written per transaction while preparing.
const BATCH: usize = 10_000;

/// Prepares (or reuses) an inventory of `devices` under `dir` and times each report.
pub(crate) fn run(dir: &Path, devices: usize) -> anyhow::Result<serde_json::Value> {
    let store = inventory(&dir.join(format!("reports-{devices}")), devices)?;
    let now = Timestamp::from_unix(1_900_000_000);
    let policy = policy();
    let mut results = serde_json::Map::new();
    let mut time = |name: &str, report: &dyn Fn() -> anyhow::Result<()>| -> anyhow::Result<()> {
        let mut took: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let started = Instant::now();
                report().map(|()| started.elapsed())
            })
            .collect::<anyhow::Result<_>>()?;
        took.sort();
        let ms = |d: Duration| (d.as_secs_f64() * 10_000.0).round() / 10.0;
        results.insert(name.into(), serde_json::json!({ "fastest_ms": ms(took[0]), "median_ms": ms(took[RUNS / 2]) }));
        Ok(())
    };
    time("firmware (whole fleet, first page of laggards)", &|| {
        let report = firmware_report(&*store, &policy, now, None, 100)?;
        anyhow::ensure!(report.behind > 0, "the inventory has no laggard");
        Ok(())
    })?;
    time("summary (every figure, /metrics)", &|| Ok(summary(&*store, &policy, now, 7).map(drop)?))?;
    time("stale (counts and first page)", &|| Ok(stale_report(&*store, now, 7, None, 100).map(drop)?))?;
    time("mismatch (first page)", &|| Ok(mismatch_report(&*store, None, 100).map(drop)?))?;
    Ok(serde_json::json!({ "devices": devices, "reports": results, "peak_rss_mb": peak_rss_mb() }))
}

/// This process's peak resident memory, in MB (Linux), 0 where unknown.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    kb.unwrap_or(0) / 1024
}

/// The firmware policy the reports run against: one image, one target for the model.
fn policy() -> FirmwarePolicy {
    let mut policy = FirmwarePolicy::default();
    let image = FirmwareImage {
        sha256: "ab".repeat(32),
        vendor: "yealink".into(),
        models: vec!["T54W".into()],
        version: "96.86.0.100".into(),
        name: "T54W-96.86.0.100.rom".into(),
        size: 1,
        added_at: 0,
        flagged: None,
    };
    let target = Target {
        vendor: "yealink".into(),
        model: "T54W".into(),
        scope: Scope::Everywhere,
        version: "96.86.0.100".into(),
        rollout: Rollout::Everyone,
        set_at: 0,
    };
    // Both are valid by construction; a failure here is a bug in the bench.
    let _ = policy.add_image(image);
    let _ = policy.set_target(target);
    policy
}

/// The store with `devices` enrolled and their fleet facts, made once and reused.
fn inventory(dir: &Path, devices: usize) -> anyhow::Result<Arc<dyn Store>> {
    let path = dir.join("sipprov.db");
    let reuse = path.exists();
    std::fs::create_dir_all(dir)?;
    let store: Arc<dyn Store> =
        Arc::new(SqliteStore::open(&path).with_context(|| format!("opening {}", path.display()))?);
    let last = store.devices(&DeviceQuery {
        after: (devices > 1).then(|| mac_of(devices - 2)),
        limit: 2,
        ..DeviceQuery::default()
    })?;
    if reuse && last.len() == 1 && last[0].mac == mac_of(devices - 1) {
        return Ok(store);
    }
    eprintln!("enrolling {devices} devices into {} (kept for later runs)...", path.display());
    let keys = sipprov_credentials::Keyring::generate_file(1, None)?;
    enrol(Arc::clone(&store), &keys, devices)?;
    let base = 1_900_000_000 - 30 * 86_400;
    for start in (0..devices).step_by(BATCH) {
        let sightings: Vec<Sighting> = (start..devices.min(start + BATCH))
            .map(|index| {
                let version = if index % 10 == 0 { "96.86.0.100" } else { "96.85.0.5" };
                let mismatch = (index % 1000 == 7).then(|| "ua_mac=0015650000ff certificate_mac=x".to_owned());
                Sighting {
                    mac: mac_of(index),
                    seen: LastSeen {
                        at: Timestamp::from_unix(base + (index as i64 * 7_919) % (30 * 86_400)),
                        peer: "192.0.2.1".into(),
                        user_agent: Some(format!("Yealink SIP-T54W {version}")),
                    },
                    certificate_vendor: Some("yealink"),
                    facts: FleetFacts {
                        rating: Some(5),
                        vendor: Some("yealink".into()),
                        model: Some("T54W".into()),
                        firmware: Some(version.into()),
                        mismatch,
                    },
                }
            })
            .collect();
        store.record_sightings(&sightings)?;
    }
    Ok(store)
}
