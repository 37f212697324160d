//! `sipprov identity inspect` as an operator runs it: files in, JSON and exit codes out.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::path::Path;
use std::process::{Command, Output};

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair};

fn inspect(args: &[&str], file: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipprov")).args(["identity", "inspect"]).arg(file).args(args).output().unwrap()
}

fn write_certificate(dir: &Path, name: &str, common_name: &str, pem: bool) -> std::path::PathBuf {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, common_name);
    let cert = params.self_signed(&key).unwrap();
    let path = dir.join(name);
    if pem {
        std::fs::write(&path, cert.pem()).unwrap();
    } else {
        std::fs::write(&path, cert.der()).unwrap();
    }
    path
}

fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn pem_and_der_certificates_yield_the_same_identity() {
    let dir = tempfile::tempdir().unwrap();
    for (name, pem) in [("phone.pem", true), ("phone.der", false)] {
        let file = write_certificate(dir.path(), name, "0004F28B54F4", pem);
        let output = inspect(&["--json"], &file);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let value = json(&output);
        assert_eq!(value["identity"]["mac"], "0004f28b54f4");
        assert_eq!(value["identity"]["serial"], serde_json::Value::Null);
        assert_eq!(value["identity"]["spki_sha256"].as_str().unwrap().len(), 64);
        assert_eq!(value["rule"], "cn-mac");
        assert_eq!(value["reason"], serde_json::Value::Null);
    }
}

#[test]
fn a_certificate_naming_no_device_exits_1_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_certificate(dir.path(), "generic.pem", "yealink.com", true);
    let output = inspect(&["--json", "--rule", "cn-mac"], &file);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let value = json(&output);
    assert_eq!(value["identity"], serde_json::Value::Null);
    assert_eq!(value["reason"], "the commonName value \"yealink.com\" is not a MAC address");

    let text = inspect(&[], &file);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("no identity (rule cn-mac): "));
}

#[test]
fn unusable_input_exits_2_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.der");
    std::fs::write(&garbage, b"\x30\x82\xff\xff not a certificate").unwrap();
    let empty_pem = dir.path().join("empty.pem");
    std::fs::write(&empty_pem, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").unwrap();
    for file in [garbage.as_path(), empty_pem.as_path(), &dir.path().join("missing.pem")] {
        let output = inspect(&["--json"], file);
        assert_eq!(output.status.code(), Some(2), "{file:?}: {output:?}");
        assert!(output.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.starts_with("sipprov: "), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn an_unknown_rule_name_is_unusable_input() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_certificate(dir.path(), "phone.pem", "0004F28B54F4", true);
    let output = inspect(&["--rule", "no-such-rule"], &file);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown identity rule"));
}
