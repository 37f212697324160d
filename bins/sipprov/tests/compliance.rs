//! `sipprov report compliance --config FILE`: each ITSPA row a configuration decides, met or
//! not, and exit status 1 when one fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::process::Command;

use serde_json::Value;

const STRICT: &str = r#"
[phones]
listen = "0.0.0.0:443"
certificate = "server.pem"
key = "server.key"
allow_sources = ["198.51.100.0/24"]

[admin]
listen = "127.0.0.1:8444"

[[trust]]
bundle = "yealink.pem"
rule = "yealink"
allowed_ouis = ["00:15:65"]

[store]
sqlite = "sipprov.db"
sealing_key = "sealing.key"

[lifecycle]
grace_seconds = 300
dormant_days = 14

[sip]
registrar = "sip.example.net"
realm = "sip.example.net"

[settings]
provisioning_url = "https://prov.example.net"
"#;

fn report(config: &str) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sipprov.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_sipprov"))
        .args(["--json", "report", "compliance", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let rows = serde_json::from_slice::<Value>(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), rows)
}

fn standing(rows: &Value, id: &str) -> (String, String) {
    let row = rows["rows"].as_array().unwrap().iter().find(|row| row["id"] == id).unwrap();
    (row["standing"].as_str().unwrap().to_owned(), row["how"].as_str().unwrap().to_owned())
}

#[test]
fn a_strict_deployment_meets_every_row_it_decides() {
    let (status, rows) = report(STRICT);
    assert_eq!(status, Some(0), "{rows:#}");
    for id in ["R1", "C6", "S3", "D3b", "L1", "L4", "D6"] {
        assert_eq!(standing(&rows, id).0, "met", "{id}: {rows:#}");
    }
    assert_eq!(standing(&rows, "P1").0, "note", "no portal: passwords go through the operator");
    let with_portal =
        format!("{STRICT}\n[portal]\nlisten = \"0.0.0.0:8446\"\npublic_url = \"https://portal.example.net\"\n");
    let (status, rows) = report(&with_portal);
    assert_eq!(status, Some(0), "{rows:#}");
    let (p1, how) = standing(&rows, "P1");
    assert_eq!(p1, "met", "{rows:#}");
    assert!(how.contains("https://portal.example.net") && how.contains("second factor: optional"), "{how}");
}

#[test]
fn what_weakens_a_deployment_fails_its_row_and_the_exit_status() {
    let weak = STRICT
        .replace("allowed_ouis = [\"00:15:65\"]", "legacy = true")
        .replace("grace_seconds = 300", "grace_seconds = 7200")
        .replace("allow_sources = [\"198.51.100.0/24\"]\n", "")
        .replace("listen = \"127.0.0.1:8444\"", "listen = \"0.0.0.0:8444\"")
        + "\n[digest]\nlisten = \"0.0.0.0:8445\"\n\n[[policy]]\nvendor = \"grandstream\"\nmin_rating = 4\n";
    let (status, rows) = report(&weak);
    assert_eq!(status, Some(1), "{rows:#}");
    let (r1, how) = standing(&rows, "R1");
    assert_eq!(r1, "fails");
    assert!(how.contains("[digest] listener") && how.contains("vendor=grandstream") && how.contains("legacy"), "{how}");
    let (c6, how) = standing(&rows, "C6");
    assert_eq!(c6, "fails");
    assert!(how.contains("yealink.pem: such a CA may vouch for any MAC"), "{how}");
    assert!(standing(&rows, "S3").1.contains("7200 s"));
    assert_eq!(standing(&rows, "S3").0, "fails");
    assert_eq!(standing(&rows, "L1").0, "note");
    assert_eq!(standing(&rows, "L4").0, "note");
}
