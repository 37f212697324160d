//! Arbitrary bytes as a vendor's certificate revocation list (PEM or DER): never a panic; a
//! list that loads holds at least one CRL, and a phone's chain is then checked against it
//! without a panic either way.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};
use sipprov_identity::{IdentityRule, TrustStore, VendorTrust};

const ANCHOR: &[u8] = include_bytes!("../../crates/identity/tests/data/ca/yealink-ca.pem");
const PHONE: &[u8] = include_bytes!("../../crates/identity/tests/data/device/yealink-t46u.pem");

fuzz_target!(|data: &[u8]| {
    let vendor = VendorTrust::from_bundle("fuzz", ANCHOR, IdentityRule::CnMac).expect("the fixture anchor loads");
    let Ok(vendor) = vendor.with_crls("fuzz.crl", data) else { return };
    assert!(!vendor.crls().is_empty());
    let store = TrustStore::new(vec![vendor]).expect("one vendor makes a store");
    let phone = CertificateDer::from_pem_slice(PHONE).expect("the fixture phone parses");
    // Inside the fixtures' validity: only the CRL can decide.
    let now = UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000));
    let _ = store.identify(&[phone], now);
});
