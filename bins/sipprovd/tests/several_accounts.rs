//! Devices with several SIP accounts, end to end with the real daemon, the admin API and `curl`
//! as the phone: a three-line Yealink gets every line's own password once (and its BLF key), a
//! rotation of one line changes only that line, and a two-port Grandstream HT812 gets both
//! ports' P-values.
//!
//! Without curl the tests are skipped loudly (in CI they fail).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::path::Path;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use serde_json::{Value, json};
use support::{Daemon, have_tools};

const PHONE: &str = "001565000001";
const ATA: &str = "000b82000812";
/// The grace window the daemon runs with: long enough for a second fetch, short to wait out.
const GRACE_SECONDS: u64 = 3;

/// `curl` against the admin API with the admin token: (status, JSON body).
/// The value of `key` in a Yealink `key = value` file.
fn yealink_value<'a>(file: &'a str, key: &str) -> Option<&'a str> {
    file.lines().find_map(|line| line.strip_prefix(key)?.strip_prefix(" = "))
}

fn with_short_grace(dir: &Path) {
    let path = dir.join("sipprov.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let config: Vec<String> =
        config
            .lines()
            .map(|line| {
                if line.starts_with("grace_seconds") { format!("grace_seconds = {GRACE_SECONDS}") } else { line.into() }
            })
            .collect();
    std::fs::write(path, config.join("\n") + "\n").unwrap();
}

#[test]
fn three_lines_each_get_their_own_password_once_and_one_rotates_alone() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), with_short_grace);
    let accounts: Vec<Value> =
        (1..=3).map(|n| json!({"user_name": format!("100{n}"), "display_name": format!("Line {n}")})).collect();
    let (status, enrolled) = daemon.admin(
        "POST",
        "/v1/devices",
        &json!({"mac": PHONE, "vendor": "yealink", "model": "T54W", "accounts": accounts, "reveal_password": true,
            "keys": [{"type": "blf", "value": "1010", "label": "Reception"}]}),
    );
    assert_eq!(status, 201, "{enrolled}");
    let registrars = enrolled["registrars"].as_array().unwrap();
    assert_eq!(registrars.len(), 3, "one HA1 pair per account: {enrolled}");
    let passwords: Vec<String> = registrars.iter().map(|r| r["password"].as_str().unwrap().to_owned()).collect();
    for (n, registrar) in registrars.iter().enumerate() {
        assert_eq!(registrar["line"], n + 1);
        assert_eq!(registrar["user"], format!("100{}", n + 1));
        assert_eq!(registrar["ha1_md5"].as_str().unwrap().len(), 32);
    }

    let (status, first) = daemon.fetch_as_phone(PHONE);
    assert_eq!(status, Some(200), "{first}");
    for n in 1..=3 {
        assert_eq!(yealink_value(&first, &format!("account.{n}.user_name")), Some(format!("100{n}").as_str()));
        assert_eq!(yealink_value(&first, &format!("account.{n}.password")), Some(passwords[n - 1].as_str()));
    }
    // The BLF key follows the three line keys.
    assert_eq!(yealink_value(&first, "linekey.4.type"), Some("16"), "{first}");
    assert_eq!(yealink_value(&first, "linekey.4.value"), Some("1010"));
    assert_eq!(yealink_value(&first, "linekey.4.label"), Some("Reception"));
    std::thread::sleep(Duration::from_secs(GRACE_SECONDS + 1));
    let (_, later) = daemon.fetch_as_phone(PHONE);
    assert!(later.contains("account.3.user_name = 1003"), "{later}");
    assert!(!later.contains(".password ="), "no password after the grace:\n{later}");

    let (status, rotated) =
        daemon.admin("POST", &format!("/v1/devices/{PHONE}/rotate"), &json!({"line": 2, "reveal_password": true}));
    assert_eq!(status, 200, "{rotated}");
    let registrars = rotated["registrars"].as_array().unwrap();
    assert_eq!(registrars.len(), 1, "only account 2 is issued: {rotated}");
    assert_eq!(registrars[0]["line"], 2);
    let new_password = registrars[0]["password"].as_str().unwrap();
    assert_ne!(new_password, passwords[1]);
    assert_ne!(registrars[0]["ha1_md5"], enrolled["registrars"][1]["ha1_md5"], "its HA1 changed");
    let (_, after_rotation) = daemon.fetch_as_phone(PHONE);
    assert_eq!(yealink_value(&after_rotation, "account.2.password"), Some(new_password));
    assert_eq!(yealink_value(&after_rotation, "account.1.password"), None, "line 1 keeps what it has");
    assert_eq!(yealink_value(&after_rotation, "account.3.password"), None, "line 3 keeps what it has");

    // The CLI lists the accounts, and rotates one line.
    let shown = daemon.cli(&daemon.admin_token, &["device", "show", PHONE]);
    let shown = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(shown.contains("LINE") && shown.lines().any(|l| l.starts_with('3') && l.contains("1003")), "{shown}");
    let rotated = daemon.cli(&daemon.admin_token, &["--json", "device", "rotate", PHONE, "--line", "3"]);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let rotated: Value = serde_json::from_slice(&rotated.stdout).unwrap();
    assert_eq!(rotated["registrars"].as_array().map(|r| r.len()), Some(1), "{rotated}");
    assert_eq!(rotated["registrars"][0]["line"], 3);

    let (status, refused) = daemon.admin("POST", &format!("/v1/devices/{PHONE}/rotate"), &json!({"line": 7}));
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"].as_str().unwrap_or_default().contains("line 7"), "{refused}");
}

/// A device CA for Grandstream's OUI and one ATA's certificate (CN = MAC), written to `dir`.
fn grandstream_pki(dir: &Path) {
    let name = |common_name: &str| {
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, common_name);
        name
    };
    let mut ca = CertificateParams::default();
    ca.distinguished_name = name("Grandstream test device CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()).unwrap();
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ata = CertificateParams::default();
    ata.distinguished_name = name(ATA);
    ata.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    ata.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = ata.signed_by(&key, &ca).unwrap();
    std::fs::write(dir.join("grandstream-ca.pem"), ca.pem()).unwrap();
    std::fs::write(dir.join("ata.pem"), cert.pem()).unwrap();
    std::fs::write(dir.join("ata.key"), key.serialize_pem()).unwrap();
    let path = dir.join("sipprov.toml");
    let config = std::fs::read_to_string(&path).unwrap().replace(
        "[store]",
        "[[trust]]\nbundle = \"grandstream-ca.pem\"\nrule = \"cn-mac\"\nallowed_ouis = [\"00:0b:82\"]\n\n[store]",
    );
    std::fs::write(path, config).unwrap();
}

#[test]
fn a_two_port_ata_gets_both_ports_p_values() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), grandstream_pki);
    let accounts = json!([
        {"user_name": "2001", "display_name": "Port one", "password": "Port-One-Secret-1"},
        {"user_name": "2002", "display_name": "Port two", "password": "Port-Two-Secret-2"},
    ]);
    let device = json!({"mac": ATA, "vendor": "grandstream", "model": "HT812", "accounts": accounts});
    let (status, enrolled) = daemon.admin("POST", "/v1/devices", &device);
    assert_eq!(status, 201, "{enrolled}");
    assert_eq!(enrolled["device"]["accounts"].as_array().unwrap().len(), 2);

    let (status, body) =
        daemon.fetch(&format!("/cfg{ATA}.xml"), &dir.path().join("ata.pem"), &dir.path().join("ata.key"));
    assert_eq!(status, Some(200), "{body}");
    for expected in [
        "<P4595>1</P4595>",
        "<P4596>1</P4596>",
        "<P4060>2001</P4060>",
        "<P4061>2002</P4061>",
        "<P4120>Port-One-Secret-1</P4120>",
        "<P4121>Port-Two-Secret-2</P4121>",
        "<P4180>Port one</P4180>",
        "<P4181>Port two</P4181>",
    ] {
        assert!(body.contains(expected), "{expected} in:\n{body}");
    }

    let three = json!({"mac": "000b82000813", "vendor": "grandstream", "model": "HT812",
        "accounts": [{"user_name": "1"}, {"user_name": "2"}, {"user_name": "3"}]});
    let (status, refused) = daemon.admin("POST", "/v1/devices", &three);
    assert_eq!(status, 422, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("beyond the 2 accounts"), "{refused}");
}
