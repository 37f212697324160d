//! Arbitrary strings as MACs: never a panic, and every accepted spelling round-trips canonically.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_identity::Mac;

fuzz_target!(|data: &str| {
    if let Ok(mac) = Mac::parse(data) {
        let canonical = mac.to_string();
        assert_eq!(Mac::parse(&canonical), Ok(mac));
        assert!(canonical.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }
});
