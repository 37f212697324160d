//! `sipprov bench`: a storm of distinct phones against the bare baseline server, both run as
//! the real binary, on loopback, for a bounded second.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct Baseline(Child);

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn sipprov() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sipprov"))
}

#[test]
fn a_storm_of_distinct_phones_is_served_by_the_baseline_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = sipprov()
        .args(["bench", "baseline", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let baseline = Baseline(child);
    let line = stdout.lines().map_while(Result::ok).find(|line| line.starts_with("listening on ")).unwrap();
    let target = line.trim_start_matches("listening on ").to_owned();

    // Each of 6 phones once: exactly 6 connections, each a handshake with its own certificate.
    let once = sipprov()
        .args(["bench", "storm", "--json", "--once", "--phones", "6", "--concurrency", "3", "--target", &target])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(once.status.success(), "{}", String::from_utf8_lossy(&once.stderr));
    let report: serde_json::Value = serde_json::from_slice(&once.stdout).unwrap();
    assert_eq!(report["connections"], 6, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert!(report["p99_ms"].as_f64().unwrap() >= report["p50_ms"].as_f64().unwrap(), "{report}");
    let cached = std::fs::read_to_string(dir.path().join("phones-ecdsa-p256.pem")).unwrap();
    assert_eq!(cached.matches("BEGIN CERTIFICATE").count(), 6, "the phones are cached for the next run");

    // A timed storm counts what it completed; a server that is not there is an error by kind.
    let timed = sipprov()
        .args(["bench", "storm", "--json", "--phones", "3", "--duration", "1", "--target", &target])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&timed.stdout).unwrap();
    assert!(report["connections"].as_u64().unwrap() > 0, "{report}");
    assert!(report["conn_per_s"].as_f64().unwrap() > 0.0, "{report}");
    drop(baseline);
    let gone = sipprov()
        .args(["bench", "storm", "--json", "--once", "--phones", "2", "--target", &target])
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&gone.stdout).unwrap();
    assert_eq!((report["connections"].as_u64(), report["errors"]["connect"].as_u64()), (Some(0), Some(2)), "{report}");
}
