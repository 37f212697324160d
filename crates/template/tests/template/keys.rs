//! Programmable keys: each vendor that has them writes a BLF and a speed dial under its own
//! keys, and nothing a key's value or label holds can add a part to a key's setting.

use sipprov_template::{AccountSettings, Device, FunctionKey, KeyKind, Renderer, Secrets, Vendor, profiles};

use crate::fixtures;

fn keys() -> Vec<FunctionKey> {
    vec![
        FunctionKey { position: 2, kind: KeyKind::Blf, value: "1010".into(), label: "Reception".into(), line: 1 },
        FunctionKey { position: 3, kind: KeyKind::SpeedDial, value: "*97".into(), label: "Voicemail".into(), line: 2 },
    ]
}

fn render(vendor: Vendor, keys: &[FunctionKey]) -> Result<Vec<(String, String)>, sipprov_template::TemplateError> {
    let settings = fixtures::settings();
    let accounts = [
        fixtures::account(),
        AccountSettings { line: 2, ..AccountSettings::new("1002", "u2", "Two", "sip.example.net") },
    ];
    let device = Device {
        firmware: None,
        mac: fixtures::mac(vendor),
        model: None,
        accounts: &accounts,
        keys,
        settings: &settings,
        secrets: Secrets::default(),
    };
    let text = Renderer::shipped()?.render_device(fixtures::device_file(vendor), &device)?;
    Ok((vendor.profile().unwrap().read)(&text).unwrap())
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

#[test]
fn each_vendor_writes_its_own_key_layout() {
    let yealink = render(Vendor::Yealink, &keys()).unwrap();
    for (key, expected) in [
        ("linekey.2.type", "16"),
        ("linekey.2.value", "1010"),
        ("linekey.2.label", "Reception"),
        ("linekey.2.line", "1"),
        ("linekey.3.type", "13"),
        ("linekey.3.value", "*97"),
        ("linekey.3.line", "2"),
    ] {
        assert_eq!(value(&yealink, key), Some(expected), "yealink {key}");
    }
    let snom = render(Vendor::Snom, &keys()).unwrap();
    assert_eq!(value(&snom, "fkey[1]"), Some("blf 1010"), "{snom:?}");
    assert_eq!(value(&snom, "fkey[2]"), Some("speed *97"), "{snom:?}");
    let cisco = render(Vendor::Cisco, &keys()).unwrap();
    assert_eq!(
        value(&cisco, "Extended_Function_2_"),
        Some("fnc=blf+sd+cp;sub=1010@$PROXY;ext=1010@$PROXY;nme=Reception")
    );
    assert_eq!(value(&cisco, "Extended_Function_3_"), Some("fnc=sd;ext=*97@$PROXY;nme=Voicemail"));
    assert_eq!(value(&cisco, "Extension_2_"), Some("Disabled"));
    let grandstream = render(Vendor::Grandstream, &keys()).unwrap();
    for (key, expected) in [("P324", "1"), ("P304", "0"), ("P305", "Reception"), ("P306", "1010")] {
        assert_eq!(value(&grandstream, key), Some(expected), "grandstream MPK 2 {key}");
    }
    for (key, expected) in [("P325", "0"), ("P307", "1"), ("P308", "Voicemail"), ("P309", "*97")] {
        assert_eq!(value(&grandstream, key), Some(expected), "grandstream MPK 3 {key}");
    }
    let polycom = render(Vendor::Polycom, &keys()[..1]).unwrap();
    assert_eq!(value(&polycom, "attendant.resourceList.2.address"), Some("1010"));
    assert_eq!(value(&polycom, "attendant.resourceList.2.type"), Some("normal"));
}

#[test]
fn a_vendor_without_keys_writes_none_and_says_so() {
    for profile in profiles().iter().filter(|p| !p.keys.blf && !p.keys.speed_dial) {
        let with = render(profile.vendor, &keys()).unwrap();
        let without = render(profile.vendor, &[]).unwrap();
        assert_eq!(with, without, "{}: keys it has no layout for change nothing", profile.vendor);
        assert!(profile.keys.check(KeyKind::Blf, 1).is_err());
    }
}

#[test]
fn a_key_cannot_add_a_part_to_its_setting() {
    for profile in profiles().iter().filter(|p| p.keys.blf) {
        let hostile_label = [FunctionKey { label: "Bob;fnc=sd;ext=900".into(), ..keys()[0].clone() }];
        let err = render(profile.vendor, &hostile_label).unwrap_err();
        assert_eq!(err.field(), Some("keys.2.label"), "{}", profile.vendor);
        let hostile_value = [FunctionKey { value: "1010|*8@evil".into(), ..keys()[0].clone() }];
        let err = render(profile.vendor, &hostile_value).unwrap_err();
        assert_eq!(err.field(), Some("keys.2.value"), "{}", profile.vendor);
    }
}
