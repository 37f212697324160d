//! Arbitrary JSON bodies of the admin API's device calls (create, enrol, re-arm and rotate):
//! never a panic; a device that passes every check has a canonical MAC and its accounts on
//! distinct lines.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sipprov_admin::fuzzing::device_body(data));
