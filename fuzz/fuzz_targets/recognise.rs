//! Arbitrary request paths and User-Agents: never a panic; a recognised path is plain (no `%`,
//! `/`, `\`, `..` in its name) and its MAC is spelled in it; the User-Agent never changes the
//! kind, the MAC or the candidates.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sipprov_template::{Route, recognise_route};

fuzz_target!(|input: (&str, &str)| {
    let (path, user_agent) = input;
    let plain = recognise_route(path, None);
    let hinted = recognise_route(path, Some(user_agent));
    assert_eq!(plain.kind(), hinted.kind());
    assert_eq!(plain.mac(), hinted.mac());
    let vendors = |r: &Route| r.candidates().map(|c| c.vendors().collect::<Vec<_>>());
    assert_eq!(vendors(&plain), vendors(&hinted));
    if plain != Route::Unknown {
        let name = &path[1..];
        assert!(path.starts_with('/') && !name.contains(['/', '%', '\\', '\0']) && !name.contains(".."));
        if let Some(mac) = plain.mac() {
            let hex: String = name.chars().filter(char::is_ascii_hexdigit).collect::<String>().to_ascii_lowercase();
            assert!(hex.contains(&mac.to_string()));
        }
    }
});
