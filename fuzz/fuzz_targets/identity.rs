//! Arbitrary bytes as a device certificate, under every identity rule: never a panic, and any
//! identity found has a canonical MAC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_identity::IdentityRule;

fuzz_target!(|data: &[u8]| {
    for rule in IdentityRule::ALL {
        if let Ok(identity) = rule.identify(data) {
            let canonical = identity.mac.to_string();
            assert_eq!(canonical.len(), 12);
            assert_eq!(canonical.parse::<sipprov_identity::Mac>().ok(), Some(identity.mac));
        }
    }
});
