//! `sipprov identity inspect` as an operator runs it: files in, JSON and exit codes out.
//! Certificates come from the identity crate's committed fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/identity/tests/data").join(relative)
}

fn inspect(file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipprov")).args(["identity", "inspect"]).arg(file).args(args).output().unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"))
}

#[test]
fn auto_names_each_vendor_layout_and_its_device() {
    for (file, rule, mac, vendor) in [
        ("device/polycom-vvx.pem", "polycom", "0004f28b54f4", "polycom"),
        ("device/snom-d785.pem", "snom", "000413aabbcc", "snom"),
        ("device/yealink-t46u.pem", "yealink", "001565000062", "yealink"),
        ("device/cisco-mic-8861.pem", "cisco-mic", "2c3124c9f8e1", "cisco"),
        ("device/cisco-mpp-8841.pem", "cisco-mpp", "000e08abcdef", "cisco"),
        ("device/private-phone.pem", "cn-mac", "001565000001", "generic"),
    ] {
        let output = inspect(&fixture(file), &["--json"]);
        assert_eq!(output.status.code(), Some(0), "{file}: {output:?}");
        let value = json_of(&output);
        assert_eq!(value["rule"], rule, "{file}");
        assert_eq!(value["identity"]["mac"], mac, "{file}");
        assert_eq!(value["identity"]["vendor"], vendor, "{file}");
        assert_eq!(value["reason"], Value::Null, "{file}");
    }
}

#[test]
fn json_output_has_exactly_the_documented_shape() {
    let value = json_of(&inspect(&fixture("device/cisco-mic-8861.pem"), &["--json", "--rule", "cisco-mic"]));
    let spki = value["identity"]["spki_sha256"].as_str().unwrap().to_owned();
    assert_eq!(spki.len(), 64);
    assert!(spki.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    assert_eq!(
        value,
        json!({
            "identity": {"mac": "2c3124c9f8e1", "vendor": "cisco", "serial": "FCH2133E8B9", "model": "CP-8861", "spki_sha256": spki},
            "rule": "cisco-mic",
            "reason": null
        })
    );
}

#[test]
fn der_files_work_like_pem() {
    let dir = tempfile::tempdir().unwrap();
    let der_path = dir.path().join("polycom.der");
    let pem = std::fs::read(fixture("device/polycom-vvx.pem")).unwrap();
    let der = rustls_pki_types::pem::PemObject::from_pem_slice(&pem)
        .map(|c: rustls_pki_types::CertificateDer<'static>| c.to_vec())
        .unwrap();
    std::fs::write(&der_path, der).unwrap();
    let from_der = json_of(&inspect(&der_path, &["--json"]));
    let from_pem = json_of(&inspect(&fixture("device/polycom-vvx.pem"), &["--json"]));
    assert_eq!(from_der, from_pem);
}

#[test]
fn a_certificate_naming_no_device_exits_1_with_the_reason() {
    for (file, rule, reason) in [
        ("device/yealink-generic.pem", "yealink", "the subject has no serialNumber attribute"),
        (
            "device/cisco-mpp-generic.pem",
            "cisco-mpp",
            "generic cisco certificate shared by many devices (ciscogeneric subject); it identifies no device",
        ),
        ("device/private-two-cns.pem", "cn-mac", "the subject has 2 commonName attributes; exactly one is required"),
        ("device/polycom-vvx.pem", "yealink", "the subject has no serialNumber attribute"),
    ] {
        let output = inspect(&fixture(file), &["--json", "--rule", rule]);
        assert_eq!(output.status.code(), Some(1), "{file}: {output:?}");
        assert_eq!(json_of(&output), json!({"identity": null, "rule": rule, "reason": reason}), "{file}");
    }
    let text = inspect(&fixture("device/yealink-generic.pem"), &["--rule", "yealink"]);
    assert_eq!(text.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        "no identity (rule yealink): the subject has no serialNumber attribute\n"
    );
}

#[test]
fn a_custom_attribute_rule_can_be_tried_from_the_command_line() {
    let output = inspect(
        &fixture("device/yealink-t46u.pem"),
        &["--json", "--rule", "attribute", "--attribute", "serialNumber", "--pattern", "*-{mac}"],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let value = json_of(&output);
    assert_eq!((value["rule"].clone(), value["identity"]["mac"].clone()), (json!("attribute"), json!("001565000062")));

    let missing = inspect(&fixture("device/yealink-t46u.pem"), &["--rule", "attribute"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("needs --attribute and --pattern"));
}

#[test]
fn unusable_input_exits_2_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.der");
    std::fs::write(&garbage, b"\x30\x82\xff\xff not a certificate").unwrap();
    let empty_pem = dir.path().join("empty.pem");
    std::fs::write(&empty_pem, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
    for file in [garbage.as_path(), empty_pem.as_path(), &dir.path().join("missing.pem")] {
        for rule in ["auto", "cn-mac"] {
            let output = inspect(file, &["--json", "--rule", rule]);
            assert_eq!(output.status.code(), Some(2), "{file:?}: {output:?}");
            assert!(output.stdout.is_empty());
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.starts_with("sipprov: "), "{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
        }
    }
}

#[test]
fn an_unknown_rule_name_is_unusable_input() {
    let output = inspect(&fixture("device/polycom-vvx.pem"), &["--rule", "no-such-rule"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown identity rule"));
}
