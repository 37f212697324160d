//! Firmware under central control and the fleet view, end to end: the real `sipprovd run` and
//! `sipprov` binaries, `curl` as the phones. An image is registered and targeted, phones fetch
//! their configs with the User-Agents of old and new firmware, and the reports list exactly
//! who is behind, who contradicts its certificate; an image altered on disk is refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};
use support::{Daemon, have_tools, json_of, wait_until};

const PHONES: [&str; 3] = ["001565000001", "001565000002", "001565000003"];
const OLD: &str = "96.85.0.5";
const NEW: &str = "96.86.0.100";

fn user_agent(version: &str, mac: &str) -> String {
    let mac: Vec<String> = mac.as_bytes().chunks(2).map(|pair| String::from_utf8_lossy(pair).into_owned()).collect();
    format!("Yealink SIP-T54W {version} {}", mac.join(":"))
}

fn laggards(daemon: &Daemon) -> Vec<String> {
    let report = json_of(&daemon.cli(&daemon.auditor_token, &["report", "firmware", "--json"]));
    report["laggards"].as_array().unwrap().iter().map(|l| l["mac"].as_str().unwrap().to_owned()).collect()
}

/// A daemon with `[firmware] directory` set to `DIR/firmware`.
fn start_with_firmware(dir: &Path) -> (Daemon, PathBuf) {
    let firmware = dir.join("firmware");
    let daemon = Daemon::start_with(dir, |dir| {
        std::fs::create_dir_all(&firmware).unwrap();
        let mut config = std::fs::read_to_string(dir.join("sipprov.toml")).unwrap();
        config.push_str(&format!("\n[firmware]\ndirectory = {:?}\n", firmware.display().to_string()));
        std::fs::write(dir.join("sipprov.toml"), config).unwrap();
    });
    (daemon, firmware)
}

/// Runs the CLI with the admin token; it must succeed.
fn admin(daemon: &Daemon, args: &[&str]) -> Output {
    let output = daemon.cli(&daemon.admin_token, args);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

#[test]
fn a_target_reaches_the_configs_and_the_reports_list_exactly_who_is_behind() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, firmware) = start_with_firmware(dir.path());
    let admin = |args: &[&str]| admin(&daemon, args);
    for (n, mac) in PHONES.iter().enumerate() {
        admin(&["device", "add", mac, "--user", &format!("100{n}"), "--vendor", "yealink", "--model", "T54W"]);
    }

    // Register the image and target it; nothing unregistered is served.
    let image: Vec<u8> = (0..3_000_000u32).map(|n| (n % 241) as u8).collect();
    let file = dir.path().join(format!("T54W-{NEW}.rom"));
    std::fs::write(&file, &image).unwrap();
    let added = json_of(&admin(&[
        "firmware",
        "add",
        file.to_str().unwrap(),
        "--vendor",
        "yealink",
        "--models",
        "T54W",
        "--version",
        NEW,
        "--json",
    ]));
    let sha = added["sha256"].as_str().unwrap().to_owned();
    assert_eq!(added["size"], 3_000_000, "streamed in several writes");
    let digest: String = Sha256::digest(&image).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(sha, digest, "named by the hash of exactly the bytes sent");
    assert_eq!(std::fs::read(firmware.join("sha256").join(&sha)).unwrap(), image, "stored as sent");
    admin(&["firmware", "target", "set", "--vendor", "yealink", "--model", "T54W", "--version", NEW]);
    let refused = daemon.cli(
        &daemon.admin_token,
        &["firmware", "target", "set", "--vendor", "yealink", "--model", "T54W", "--version", "1.2.3"],
    );
    assert!(!refused.status.success(), "a version with no registered image is no target");
    assert!(String::from_utf8_lossy(&refused.stderr).contains("no image of yealink 1.2.3"), "{refused:?}");

    // The phones fetch their configs: one behind, one current, one whose User-Agent names
    // another MAC than its certificate.
    let url = format!("{}/firmware/{sha}/T54W-{NEW}.rom", daemon.phones);
    let agents = [user_agent(OLD, PHONES[0]), user_agent(NEW, PHONES[1]), user_agent(NEW, "001565000099")];
    for (mac, agent) in PHONES.iter().zip(&agents) {
        let (status, config) = daemon.fetch_as_phone_with_agent(mac, &format!("/{mac}.cfg"), agent);
        assert_eq!(status, Some(200), "{config}");
        assert!(config.contains("static.firmware.url = https://"), "{config}");
        assert!(config.contains(&format!("/firmware/{sha}/T54W-{NEW}.rom")), "{config}");
    }
    let path = url.strip_prefix(&daemon.phones).unwrap().to_owned();
    let (status, body) = daemon.fetch_as_phone_with_agent(PHONES[0], &path, &agents[0]);
    assert_eq!(
        (status, body.len()),
        (Some(200), String::from_utf8_lossy(&image).len()),
        "the image, with the config's URL"
    );

    // Fleet facts reach the store within a flush (5 s).
    wait_until("the laggard is reported", || laggards(&daemon) == [PHONES[0]]);
    let report = json_of(&daemon.cli(&daemon.auditor_token, &["report", "firmware", "--json"]));
    assert_eq!((report["compliant"].as_u64(), report["behind"].as_u64()), (Some(2), Some(1)), "{report}");
    let group = &report["behind_groups"][0];
    assert_eq!(
        (group["model"].as_str(), group["version"].as_str(), group["target"].as_str()),
        (Some("T54W"), Some(OLD), Some(NEW))
    );
    let mismatch = json_of(&daemon.cli(&daemon.auditor_token, &["report", "mismatch", "--json"]));
    let listed: Vec<&str> =
        mismatch["devices"].as_array().unwrap().iter().map(|d| d["mac"].as_str().unwrap()).collect();
    assert_eq!(listed, [PHONES[2]]);
    assert_eq!(mismatch["devices"][0]["mismatch"].as_str(), Some("ua_mac=001565000099 certificate_mac=001565000003"));
    let alerts = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "ua-mismatch", "--json"]));
    assert_eq!(alerts["events"].as_array().map(Vec::len), Some(1), "{alerts}");
    let ratings = json_of(&daemon.cli(&daemon.auditor_token, &["report", "ratings", "--json"]));
    assert_eq!(ratings["ratings"]["5"], 3, "{ratings}");
    let metrics = daemon.metrics();
    assert!(metrics.contains("sipprov_fleet_firmware_behind 1"), "{metrics}");
    assert!(metrics.contains("sipprov_fleet_ua_mismatch 1"), "{metrics}");

    // The laggard upgrades: its next fetch reports the new version, and it leaves the list.
    let (status, _) =
        daemon.fetch_as_phone_with_agent(PHONES[0], &format!("/{}.cfg", PHONES[0]), &user_agent(NEW, PHONES[0]));
    assert_eq!(status, Some(200));
    wait_until("the upgraded phone leaves the list", || laggards(&daemon).is_empty());

    // An image changed on disk after registration is refused, and alerted.
    std::fs::write(firmware.join("sha256").join(&sha), b"tampered").unwrap();
    let (status, _) = daemon.fetch_as_phone_with_agent(PHONES[0], &path, &agents[0]);
    assert_eq!(status, Some(404));
    let altered = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "firmware-altered", "--json"]));
    assert_eq!(altered["events"].as_array().map(Vec::len), Some(1), "{altered}");
}

#[test]
fn a_staged_rollout_reaches_a_stable_share_of_a_model() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _) = start_with_firmware(dir.path());
    let admin = |args: &[&str]| admin(&daemon, args);
    let file = dir.path().join("image.rom");
    std::fs::write(&file, b"an image").unwrap();
    admin(&["firmware", "add", file.to_str().unwrap(), "--vendor", "yealink", "--models", "T54W", "--version", NEW]);
    let stage = |percent: &str| {
        admin(&[
            "firmware",
            "target",
            "set",
            "--vendor",
            "yealink",
            "--model",
            "T54W",
            "--version",
            NEW,
            "--percent",
            percent,
        ])
    };
    stage("10");
    let listed = json_of(&admin(&["firmware", "target", "list", "--json"]));
    assert_eq!(listed[0]["rollout"]["percent"], 10, "{listed}");
    // Which of the three demo phones the 10 % reaches is fixed by their MACs: the config says so.
    let reached: Vec<bool> = ["001565000001", "001565000002", "001565000003"]
        .iter()
        .map(|mac| {
            admin(&["device", "add", mac, "--user", "1000", "--vendor", "yealink", "--model", "T54W"]);
            let (status, config) = daemon.fetch_as_phone_with_agent(mac, &format!("/{mac}.cfg"), &user_agent(OLD, mac));
            assert_eq!(status, Some(200));
            config.contains("static.firmware.url")
        })
        .collect();
    let expected: Vec<bool> = ["001565000001", "001565000002", "001565000003"]
        .iter()
        .map(|mac| sipprov_fleet::Rollout::Percent(10).includes(&mac.parse().unwrap()))
        .collect();
    assert_eq!(reached, expected, "the server picks the devices the MAC hash picks");
    assert_eq!(reached, [true, false, false], "their places: 874, 9050 and 1208 of 10,000");
    // Raising the share only adds devices: at 20 % the third phone joins the first.
    stage("20");
    for (mac, reached) in [("001565000001", true), ("001565000002", false), ("001565000003", true)] {
        let (_, config) = daemon.fetch_as_phone_with_agent(mac, &format!("/{mac}.cfg"), &user_agent(OLD, mac));
        assert_eq!(config.contains("static.firmware.url"), reached, "{mac}");
    }
}
