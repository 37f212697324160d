//! Arbitrary bytes as a portal form body and as a `Cookie` header: never a panic; decoded
//! values and cookies found are no longer than what they came from.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sipprov_portal::fuzzing::form_and_cookies(data));
