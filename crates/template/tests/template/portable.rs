//! The one validator for values: whatever `check_portable_value` accepts, every vendor's file
//! can carry, as a display name, a model, a password and a setting, and reads back unchanged.

use proptest::prelude::*;
use sipprov_template::{AccountSettings, Layer, LayeredSettings, Renderer, Secrets, check_portable_value, profiles};

use crate::fixtures;

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[ -~]{0,40}",
        "\\PC{0,30}",
        any::<String>(),
        prop::collection::vec(
            prop::sample::select(vec![
                " ", "\t", "\n", "\u{85}", "\u{fffe}", "\u{ffff}", "<", "&", "\"", "=", "#", "é", "😀", "a"
            ]),
            0..12
        )
        .prop_map(|parts| parts.concat()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_value_the_validator_accepts_renders_in_every_vendors_format(value in value()) {
        prop_assume!(check_portable_value("value", &value, 1024).is_ok());
        let renderer = Renderer::shipped().unwrap();
        let account = AccountSettings { display_name: value.clone(), ..fixtures::account() };
        let mut settings = LayeredSettings::new();
        settings.set(Layer::Global, "provisioning_url", "https://prov.example.net").unwrap();
        settings.set(Layer::Device, "ntp_server", value.clone()).unwrap();
        for profile in profiles() {
            let vendor = profile.vendor;
            let mut device = fixtures::device(vendor, &account, &settings, false);
            device.model = Some(&value);
            let sip_passwords = [(1, value.as_str())];
            device.secrets = Secrets { sip_passwords: &sip_passwords, admin_password: Some(&value) };
            let rendered = renderer.render_device(fixtures::device_file(vendor), &device);
            prop_assert!(rendered.is_ok(), "{}: {:?} accepted but not rendered: {:?}", vendor, value, rendered.err());
            let text = rendered.unwrap();
            let pairs = (profile.read)(&text).unwrap();
            if !value.is_empty() {
                prop_assert!(pairs.iter().any(|(_, v)| v.contains(value.as_str())), "{}: {:?} read back", vendor, value);
            }
        }
    }
}
