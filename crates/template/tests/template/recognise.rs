//! Request paths: every vendor's shapes, their spelling variants, and what must stay unknown.

use proptest::prelude::*;
use sipprov_identity::Mac;
use sipprov_template::{FileKind, Route, Vendor, profiles, recognise_route};

fn vendors_of(route: &Route) -> Vec<Vendor> {
    route.candidates().map(|c| c.vendors().collect()).unwrap_or_default()
}

#[test]
fn every_vendor_shape_is_recognised_with_its_kind_mac_and_vendors() {
    use FileKind::*;
    use Vendor::*;
    let cases: &[(&str, FileKind, Option<&str>, &[Vendor])] = &[
        ("/001565aabbcc.cfg", Device, Some("001565aabbcc"), &[Yealink, Polycom, Fanvil]),
        ("/001565aabbcc.boot", Device, Some("001565aabbcc"), &[Yealink]),
        ("/y000000000000.boot", Common, None, &[Yealink]),
        ("/y000000000028.cfg", Common, None, &[Yealink]),
        ("/y000000000000.cfg", Common, None, &[Yealink]),
        ("/directory.xml", Common, None, &[Yealink]),
        ("/favorite_setting.xml", Common, None, &[Yealink]),
        ("/T46-28.83.0.50.rom", Firmware, None, &[Yealink]),
        ("/000000000000.cfg", Common, None, &[Polycom]),
        ("/0004f28b54f4-sipprov.cfg", Device, Some("0004f28b54f4"), &[Polycom]),
        ("/0004F28B54F4-phone.cfg", Device, Some("0004f28b54f4"), &[Polycom]),
        ("/0004f28b54f4-web.cfg", Device, Some("0004f28b54f4"), &[Polycom]),
        ("/000000000000-license.cfg", Common, None, &[Polycom]),
        ("/0004f28b54f4-license.cfg", Device, Some("0004f28b54f4"), &[Polycom]),
        ("/000000000000-directory.xml", Common, None, &[Polycom]),
        ("/0004f28b54f4-directory.xml", Device, Some("0004f28b54f4"), &[Polycom]),
        ("/0004f28b54f4-calls.xml", Device, Some("0004f28b54f4"), &[Polycom]),
        ("/sip.ld", Firmware, None, &[Polycom]),
        ("/3111-46135-002.sip.ld", Firmware, None, &[Polycom]),
        ("/0004f28b54f4-boot.log", Upload, Some("0004f28b54f4"), &[Polycom]),
        ("/0004f28b54f4-app.log", Upload, Some("0004f28b54f4"), &[Polycom]),
        ("/spa504G.cfg", Common, None, &[Cisco]),
        ("/init.cfg", Common, None, &[Cisco]),
        ("/CP-8841-3PCC.xml", Common, None, &[Cisco]),
        ("/00562b043615.xml", Device, Some("00562b043615"), &[Cisco, Snom, Gigaset, Linphone]),
        ("/snomD785-00041396D9B4.htm", Device, Some("00041396d9b4"), &[Snom]),
        ("/snomD785.xml", Common, None, &[Snom]),
        ("/snomD785-firmware.xml", Common, None, &[Snom]),
        ("/cfg000b828aa872.xml", Device, Some("000b828aa872"), &[Grandstream]),
        ("/cfg000b828aa872", Device, Some("000b828aa872"), &[Grandstream]),
        ("/phonebook.xml", Common, None, &[Grandstream]),
        ("/F0V00X600000.cfg", Common, None, &[Fanvil]),
        ("/f0X4hw1.100.cfg", Common, None, &[Fanvil]),
        ("/fanvil_x210_v2_hwv2_0.txt", Common, None, &[Fanvil]),
        // Boot-time files of real phones (sources in docs/templates.md): recognised, so a
        // booting phone never counts as a scanner.
        ("/y000000000123.cfg", Common, None, &[Yealink]),
        ("/y000000000130.cfg", Common, None, &[Yealink]),
        ("/001565aabbcc-local.cfg", Device, Some("001565aabbcc"), &[Yealink]),
        ("/bootrom.ld", Firmware, None, &[Polycom]),
        ("/2345-12450-001.bootrom.ld", Firmware, None, &[Polycom]),
        ("/Leaf.jpg", Common, None, &[Polycom]),
        ("/LeafEM.jpg", Common, None, &[Polycom]),
        ("/SailboatEM.jpg", Common, None, &[Polycom]),
        ("/snomD785.htm", Common, None, &[Snom]),
        ("/snom760-firmware.htm", Common, None, &[Snom]),
        ("/cfg000b828aa872.bin", Device, Some("000b828aa872"), &[Grandstream]),
        ("/cfggrp2614.xml", Common, None, &[Grandstream]),
        ("/cfg.xml", Common, None, &[Grandstream]),
        ("/F0000X600000.cfg", Common, None, &[Fanvil]),
        ("/f0C00580000.cfg", Common, None, &[Fanvil]),
        ("/f0C00620000.cfg", Common, None, &[Fanvil]),
        ("/ata191.cfg", Common, None, &[Cisco]),
        ("/ata192.cfg", Common, None, &[Cisco]),
        // A Yealink MAC in Fanvil's common-file spelling stays a device file.
        ("/f01653aabbcc.cfg", Device, Some("f01653aabbcc"), &[Yealink, Polycom, Fanvil]),
        // A Snom device file stays a device file beside the model's first file.
        ("/snom760-000413123456.htm", Device, Some("000413123456"), &[Snom]),
    ];
    for &(path, kind, mac, vendors) in cases {
        let route = recognise_route(path, None);
        assert_eq!(route.kind(), kind, "{path}");
        assert_eq!(route.mac(), mac.map(|m| Mac::parse(m).unwrap()), "{path}");
        assert_eq!(vendors_of(&route), vendors, "{path}");
    }
}

#[test]
fn a_common_snom_file_uses_the_most_specific_pattern() {
    let route = recognise_route("/snomD785-firmware.xml", None);
    assert_eq!(route.file_for(Vendor::Snom).unwrap().pattern, "snom{name}-firmware.xml");
    let route = recognise_route("/snomD785.xml", None);
    assert_eq!(route.file_for(Vendor::Snom).unwrap().pattern, "snom{name}.xml");
}

#[test]
fn case_separator_and_extension_variants_are_the_same_route() {
    let canonical = recognise_route("/001565aabbcc.cfg", None);
    for path in [
        "/001565AABBCC.cfg",
        "/001565aabbcc.CFG",
        "/001565AaBbCc.Cfg",
        "/00:15:65:aa:bb:cc.cfg",
        "/00-15-65-AA-BB-CC.cfg",
        "/0015.65aa.bbcc.cfg",
    ] {
        assert_eq!(recognise_route(path, None), canonical, "{path}");
    }
    let canonical = recognise_route("/cfg000b828aa872.xml", None);
    for path in ["/CFG000B828AA872.XML", "/cfg000b828aa872", "/cfg00:0b:82:8a:a8:72.xml"] {
        assert_eq!(recognise_route(path, None), canonical, "{path}");
    }
    let canonical = recognise_route("/snomD785-00041396D9B4.htm", None);
    assert_eq!(recognise_route("/SNOMd785-00041396d9b4.HTM", None), canonical);
}

#[test]
fn traversal_encoding_and_odd_spellings_are_unknown() {
    for path in [
        "",
        "/",
        "001565aabbcc.cfg",
        "//001565aabbcc.cfg",
        "/yealink/001565aabbcc.cfg",
        "/../001565aabbcc.cfg",
        "/..%2f001565aabbcc.cfg",
        "/%2e%2e/001565aabbcc.cfg",
        "/%30%30%31565aabbcc.cfg",
        "/001565aabbcc%2ecfg",
        "/001565aabbcc.cfg%00",
        "/001565aabbcc.cfg\0",
        "/001565aabbcc.cfg\0.txt",
        "/001565aabbcc.cfg/",
        "/001565aabbcc.cfg?mac=001565aabbcd",
        "/001565aabbcc.cfg#x",
        "/001565aabbcc.cfg;x",
        "/\\001565aabbcc.cfg",
        "/..\\001565aabbcc.cfg",
        "/001565aabbcc..cfg",
        "/001565aabbcc.cfg.bak",
        "/001565aabbcc",
        "/ 001565aabbcc.cfg",
        "/001565aabbcc.cfg ",
        "/001565aabbc\u{e9}.cfg",
        "/é.cfg",
        "/001565aabbcc\u{ff0e}cfg",
        "/00:15:65-aa:bb:cc.cfg",
        "/001565aabbccdd.cfg",
        "/001565aabbc.cfg",
        "/.rom",
        "/a..b.rom",
        "/XMLDefault.cnf.xml",
        "/SEPDefault.cnf.xml",
        "/SIPDefault.cnf",
        "/ITLFile.tlv",
        "/SEP2C3124C9F8E1.cnf.xml",
        "/CTLSEP2C3124C9F8E1.tlv",
        "/SIP2C3124C9F8E1.cnf",
        "/index.html",
        "/.git/config",
        "/etc/passwd",
        "/aastra.cfg",
    ] {
        assert_eq!(recognise_route(path, None), Route::Unknown, "{path:?}");
        assert_eq!(recognise_route(path, Some("Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc")), Route::Unknown);
    }
    let long = format!("/{}.rom", "a".repeat(200));
    assert_eq!(recognise_route(&long, None), Route::Unknown);
}

#[test]
fn the_all_zero_mac_is_never_a_device() {
    assert_eq!(recognise_route("/000000000000.cfg", None).kind(), FileKind::Common);
    assert_eq!(recognise_route("/000000000000.xml", None), Route::Unknown);
    assert_eq!(recognise_route("/cfg000000000000.xml", None), Route::Unknown);
    assert_eq!(recognise_route("/000000000000-boot.log", None), Route::Unknown);
}

#[test]
fn the_user_agent_only_hints_among_the_candidates() {
    let path = "/001565aabbcc.cfg";
    let yealink = recognise_route(path, Some("Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc"));
    assert_eq!(yealink.candidates().unwrap().hint(), Some(Vendor::Yealink));
    let polycom = recognise_route(path, Some("FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application"));
    assert_eq!(polycom.candidates().unwrap().hint(), Some(Vendor::Polycom));
    assert_eq!(polycom.candidates().unwrap().vendor(), Some(Vendor::Polycom));
    // Snom does not ask for {mac}.cfg: its UA is no hint here.
    let snom = recognise_route(path, Some("Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 00041396D9B4)"));
    assert_eq!(snom.candidates().unwrap().hint(), None);
    assert_eq!(snom.candidates().unwrap().vendor(), None);
    // A UA naming another MAC changes nothing about the MAC.
    for route in [&yealink, &polycom, &snom] {
        assert_eq!(route.mac(), Some(Mac::parse("001565aabbcc").unwrap()));
        assert_eq!(route.kind(), FileKind::Device);
    }
    let forged = recognise_route(path, Some("Yealink SIP-T46G 28.72.0.1 00:15:65:00:00:01"));
    assert_eq!(forged.mac(), Some(Mac::parse("001565aabbcc").unwrap()));
}

#[test]
fn the_format_comes_from_the_vendor_the_caller_knows() {
    let route = recognise_route("/00562b043615.xml", Some("Cisco-CP-7832-3PCC/11.0.1 (00562b043615)"));
    assert_eq!(route.file_for(Vendor::Cisco).unwrap().template, Some("cisco/device.xml"));
    assert_eq!(route.file_for(Vendor::Snom).unwrap().template, Some("snom/device.xml"));
    assert_eq!(route.file_for(Vendor::Gigaset).unwrap().template, Some("gigaset/device.xml"));
    assert_eq!(route.file_for(Vendor::Yealink), None);
    // Polycom's {mac}.cfg is its per-device master file (the firmware target), not its config.
    let route = recognise_route("/0004f28b54f4.cfg", None);
    assert_eq!(route.file_for(Vendor::Polycom).unwrap().template, Some("polycom/master-device.cfg"));
}

#[test]
fn the_profile_tables_are_consistent() {
    for profile in profiles() {
        assert!(profile.device_file().is_some(), "{} has a rendered device file", profile.vendor);
        for file in profile.files {
            assert_eq!(file.vendor, profile.vendor, "{}", file.pattern);
            let has_mac = file.pattern.contains("{mac}") || file.pattern.contains("{MAC}");
            let mac_kind = matches!(file.kind, FileKind::Device | FileKind::Upload);
            assert_eq!(
                has_mac, mac_kind,
                "{} {}: a MAC in the name exactly for device files and uploads",
                profile.vendor, file.pattern
            );
            if matches!(file.kind, FileKind::Firmware | FileKind::Upload) {
                assert_eq!(file.template, None, "{}", file.pattern);
            }
        }
        let password = profile.password_key;
        assert!(profile.hardening.secret_keys.contains(&password), "{}: the password is a secret key", profile.vendor);
    }
}

/// A path made of the characters a route may contain, around pieces of real shapes.
fn path_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("001565aabbcc".to_owned()),
        Just("00:15:65:AA:BB:CC".to_owned()),
        Just("000000000000".to_owned()),
        Just(".cfg".to_owned()),
        Just(".xml".to_owned()),
        Just("cfg".to_owned()),
        Just("snom".to_owned()),
        Just("-".to_owned()),
        Just("..".to_owned()),
        Just("/".to_owned()),
        Just("%2e".to_owned()),
        "[a-zA-Z0-9._:%/\\\\-]{0,6}",
    ];
    prop::collection::vec(piece, 0..6).prop_map(|pieces| format!("/{}", pieces.concat()))
}

proptest! {
    #[test]
    fn a_user_agent_never_changes_kind_mac_or_candidates(path in path_like(), ua in ".{0,80}") {
        let without = recognise_route(&path, None);
        let with = recognise_route(&path, Some(&ua));
        prop_assert_eq!(with.kind(), without.kind());
        prop_assert_eq!(with.mac(), without.mac());
        prop_assert_eq!(vendors_of(&with), vendors_of(&without));
    }

    #[test]
    fn a_recognised_path_is_plain_and_its_mac_is_in_it(path in path_like()) {
        let route = recognise_route(&path, None);
        if route != Route::Unknown {
            let name = &path[1..];
            prop_assert!(!name.contains(['/', '%', '\\']) && !name.contains(".."), "{}", path);
            if let Some(mac) = route.mac() {
                let hex: String = name.chars().filter(char::is_ascii_hexdigit).collect::<String>().to_ascii_lowercase();
                prop_assert!(hex.contains(&mac.to_string()), "{} names {}", path, mac);
            }
        }
    }
}
