//! Arbitrary bytes at the start of a connection from a listed load balancer, read as a PROXY
//! v2 header: never a panic, never a wait, and a client address only from a well-formed
//! `PROXY` command over TCP.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sipprov_server::fuzzing::proxy_header(data));
