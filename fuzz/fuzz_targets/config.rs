//! Arbitrary text as `sipprovd`'s TOML configuration: never a panic, from parsing through every
//! check `sipprovd check` makes without touching a file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use sipprovd::config::Config;

fuzz_target!(|text: &str| {
    let Ok(config) = Config::parse(text, Path::new("/etc/sipprov")) else { return };
    let _ = config.logging.check();
    let _ = config.limits.policy();
    let _ = config.phones.timeouts();
    let _ = config.phones.allowed_sources();
    let _ = config.phones.proxy_from();
    let _ = config.lifecycle.check();
    let _ = config.lifecycle.lifecycle();
    let _ = config.sip.realm();
    let _ = config.audit.retention();
    let _ = config.store.choice();
    let _ = config.global_settings();
    let _ = config.rating_rules();
    if let Some(digest) = &config.digest {
        let _ = config.digest_options(digest);
    }
});
