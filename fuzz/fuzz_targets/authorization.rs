//! Arbitrary `Authorization` headers (and request URIs) on the Digest listener: never a panic;
//! no Digest response passes without a nonce this node issued to the client, and none passes
//! twice. `NONCE` in the input stands for a freshly issued nonce.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&[u8], &str)| sipprov_server::fuzzing::authorization(input.0, input.1));
