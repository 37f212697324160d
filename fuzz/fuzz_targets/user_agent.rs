//! Arbitrary User-Agents: never a panic; what is returned is short plain text, safe to log;
//! an unknown vendor yields nothing at all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_template::UserAgent;

fuzz_target!(|user_agent: &str| {
    let parsed = UserAgent::parse(user_agent);
    for field in [parsed.model.as_deref(), parsed.firmware.as_deref()].into_iter().flatten() {
        assert!(!field.is_empty() && field.len() <= 64);
        assert!(field.chars().all(|c| c.is_ascii_graphic() || c == ' '));
    }
    if parsed.vendor.is_none() {
        assert_eq!(parsed, UserAgent::default());
    }
});
