//! Arbitrary bytes as a device certificate, under every identity rule and the `auto` guess:
//! never a panic, and any identity found has a canonical MAC.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_identity::{AttributeRule, IdentityRule, Mac};

fuzz_target!(|data: &[u8]| {
    let custom = AttributeRule::new("fuzz", "serialNumber", "*-{mac}*").map(IdentityRule::Attribute);
    let rules = IdentityRule::BUILT_IN.iter().cloned().chain(custom);
    for rule in rules.chain(IdentityRule::guess(data)) {
        if let Ok(identity) = rule.identify(data) {
            let canonical = identity.mac.to_string();
            assert_eq!(canonical.len(), 12);
            assert_eq!(canonical.parse::<Mac>().ok(), Some(identity.mac));
        }
    }
});
