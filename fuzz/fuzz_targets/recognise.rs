//! Arbitrary request paths: never a panic, and a device route is only ever the exact
//! `/{12 hex}.cfg` shape with its MAC canonical.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_template::{RequestedFile, recognise};

fuzz_target!(|path: &str| {
    if let RequestedFile::DeviceConfig { mac, .. } = recognise(path) {
        assert_eq!(path.len(), 17);
        assert!(path[1..13].eq_ignore_ascii_case(&mac.to_string()));
    }
});
