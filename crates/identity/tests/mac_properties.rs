//! Properties of MAC parsing over arbitrary input.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use proptest::prelude::*;
use sipprov_identity::{IdentityRule, Mac};

fn spellings(bytes: [u8; 6]) -> Vec<String> {
    let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let upper: Vec<String> = hex.iter().map(|h| h.to_uppercase()).collect();
    vec![
        hex.concat(),
        upper.concat(),
        hex.join(":"),
        upper.join("-"),
        format!("{}{}.{}{}.{}{}", hex[0], hex[1], hex[2], hex[3], hex[4], hex[5]),
    ]
}

proptest! {
    #[test]
    fn every_spelling_of_a_mac_is_that_mac(bytes in any::<[u8; 6]>()) {
        for spelling in spellings(bytes) {
            prop_assert_eq!(Mac::parse(&spelling), Ok(Mac::from_bytes(bytes)));
        }
    }

    #[test]
    fn any_accepted_string_round_trips_through_the_canonical_form(input in "\\PC{0,20}") {
        if let Ok(mac) = Mac::parse(&input) {
            let canonical = mac.to_string();
            prop_assert_eq!(canonical.len(), 12);
            prop_assert_eq!(Mac::parse(&canonical), Ok(mac));
            prop_assert_eq!(input.to_ascii_lowercase().replace([':', '-', '.'], ""), canonical);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_any_rule(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        for rule in IdentityRule::BUILT_IN {
            let _ = rule.identify(&input);
        }
        let _ = IdentityRule::guess(&input);
    }
}
