//! Arbitrary import bodies, as CSV and as JSON lines, arriving in pieces of any size: never a
//! panic, never a hang; rows come in order with line numbers inside the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (u8, &[u8])| sipprov_admin::fuzzing::import_body(input.1, usize::from(input.0) + 1));
