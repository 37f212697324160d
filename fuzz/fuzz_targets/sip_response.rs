//! Arbitrary bytes from the network where a re-sync NOTIFY waits for its answer: framed and
//! read as a SIP response never panic, a frame never claims more bytes than a message may
//! have, and a response read has a status from 100 to 699 and a reason without control
//! characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_resync::message::{MAX_MESSAGE, frame, parse_response};

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((head, body))) = frame(data) {
        assert!(head + body <= MAX_MESSAGE);
    }
    if let Some(response) = parse_response(data) {
        assert!((100..700).contains(&response.status));
        assert!(!response.reason.chars().any(char::is_control));
        assert!(response.reason.chars().count() <= 100);
    }
});
