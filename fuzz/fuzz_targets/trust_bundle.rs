//! Arbitrary bytes as a trust anchor bundle (PEM or DER): never a panic; a loaded bundle holds
//! at least one certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_identity::{IdentityRule, VendorTrust};

fuzz_target!(|data: &[u8]| {
    if let Ok(vendor) = VendorTrust::from_bundle("fuzz", data, IdentityRule::CnMac) {
        assert!(!vendor.certificates().is_empty());
    }
});
