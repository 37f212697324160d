//! Shared by the identity tests: the fixture generator and fixture loading.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

pub mod fixtures;

use std::path::PathBuf;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// The committed fixture directory.
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The DER of the first certificate in fixture `relative` (e.g. `device/polycom-vvx.pem`).
pub fn der(relative: &str) -> Vec<u8> {
    let path = data_dir().join(relative);
    CertificateDer::from_pem_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_vec()
}

/// Fixture `relative` as a certificate.
pub fn cert(relative: &str) -> CertificateDer<'static> {
    CertificateDer::from(der(relative))
}

/// The raw bytes of fixture `relative`.
pub fn bytes(relative: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(relative)).unwrap()
}
