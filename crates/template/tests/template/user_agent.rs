//! User-Agents of every vendor, as phones send them, and what must stay unknown.

use proptest::prelude::*;
use sipprov_template::{UserAgent, Vendor};

/// (User-Agent, vendor, model, firmware, MAC).
type Shape = (&'static str, Vendor, Option<&'static str>, Option<&'static str>, Option<&'static str>);

/// Real shapes, from VENDORS.md section 3 and vendors' manuals.
const SHAPES: &[Shape] = &[
    (
        "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37",
        Vendor::Yealink,
        Some("T46G"),
        Some("28.72.0.1"),
        Some("0015654aa937"),
    ),
    ("Yealink SIP-T54W 96.85.0.5 805ec0123456", Vendor::Yealink, Some("T54W"), Some("96.85.0.5"), Some("805ec0123456")),
    (
        "Yealink SIP VP-T49G 51.80.0.100 00:15:65:11:22:33",
        Vendor::Yealink,
        Some("VP-T49G"),
        Some("51.80.0.100"),
        Some("001565112233"),
    ),
    ("Yealink W60B 77.83.0.85", Vendor::Yealink, Some("W60B"), Some("77.83.0.85"), None),
    (
        "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Application",
        Vendor::Polycom,
        Some("VVX_500"),
        Some("5.9.7.4477"),
        None,
    ),
    ("FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Updater", Vendor::Polycom, Some("VVX_500"), None, None),
    (
        "FileTransport PolycomSoundPointIP-SPIP_650-UA/4.0.4.2906 Type/Application",
        Vendor::Polycom,
        Some("SPIP_650"),
        Some("4.0.4.2906"),
        None,
    ),
    ("PolycomVVX-VVX_411-UA/5.9.0.9373", Vendor::Polycom, Some("VVX_411"), Some("5.9.0.9373"), None),
    (
        "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)",
        Vendor::Cisco,
        Some("SPA508G"),
        Some("7.4.4"),
        Some("0002fdff2103"),
    ),
    (
        "Cisco-CP-7832-3PCC/11.0.1 (00562b043615)",
        Vendor::Cisco,
        Some("CP-7832-3PCC"),
        Some("11.0.1"),
        Some("00562b043615"),
    ),
    ("Linksys/SPA942-6.1.5(a) (0014BF123456)", Vendor::Linksys, Some("SPA942"), Some("6.1.5(a)"), Some("0014bf123456")),
    (
        "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00004-g2c7eae8 00041396D9B4 V2.0)",
        Vendor::Snom,
        Some("D785"),
        Some("10.1.169.16"),
        Some("00041396d9b4"),
    ),
    ("Mozilla/4.0 (compatible; snom320-SIP 8.7.3.25 1.1.3-s)", Vendor::Snom, Some("320"), Some("8.7.3.25"), None),
    ("snomD715/10.1.33.33", Vendor::Snom, Some("D715"), Some("10.1.33.33"), None),
    (
        "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872",
        Vendor::Grandstream,
        Some("GXP2135"),
        Some("1.0.7.97"),
        Some("000b828aa872"),
    ),
    ("Grandstream GXP2160 1.0.7.25", Vendor::Grandstream, Some("GXP2160"), Some("1.0.7.25"), None),
    ("Fanvil X5U-V2 2.12.16.17 0c383e557eb1", Vendor::Fanvil, Some("X5U-V2"), Some("2.12.16.17"), Some("0c383e557eb1")),
    (
        "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605",
        Vendor::Gigaset,
        Some("N870 IP PRO"),
        Some("83.V2.11.0+build.a546b91"),
        Some("7c2f80e0d605"),
    ),
    (
        "Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP",
        Vendor::Mitel,
        Some("6731i"),
        Some("3.2.0.70"),
        Some("00085d237429"),
    ),
    (
        "Mitel6867i MAC:08-00-0F-12-34-56 V:5.1.0.2051-SIP",
        Vendor::Mitel,
        Some("6867i"),
        Some("5.1.0.2051"),
        Some("08000f123456"),
    ),
    ("Linphonec/5.1.65", Vendor::Linphone, Some("Linphonec"), Some("5.1.65"), None),
    (
        "LinphoneAndroid/4.6.0 (Pixel 6) LinphoneCore/5.0.0",
        Vendor::Linphone,
        Some("LinphoneAndroid"),
        Some("4.6.0"),
        None,
    ),
    (
        "Alcatel-Lucent 8028s 5.30.13 3c28a6102030",
        Vendor::Alcatel,
        Some("8028s"),
        Some("5.30.13"),
        Some("3c28a6102030"),
    ),
    (
        "AUDC-IPPhone/2.2.16.372 (445HD-Rev1; 00908F4A2B3C)",
        Vendor::AudioCodes,
        Some("445HD-Rev1"),
        Some("2.2.16.372"),
        Some("00908f4a2b3c"),
    ),
    ("AVAYA/J179-4.0.10.3.2 (MAC:c81fea123456)", Vendor::Avaya, Some("J179"), Some("4.0.10.3.2"), Some("c81fea123456")),
    ("Htek UC926 2.0.4.4.46 001fc1123456", Vendor::Htek, Some("UC926"), Some("2.0.4.4.46"), Some("001fc1123456")),
    (
        "Panasonic_KX-UT136/01.133 (0080f0d12345)",
        Vendor::Panasonic,
        Some("KX-UT136"),
        Some("01.133"),
        Some("0080f0d12345"),
    ),
    (
        "THOMSON ST2030 hw2 fw1.67 00-14-7F-E0-C8-7E",
        Vendor::Technicolor,
        Some("ST2030"),
        Some("1.67"),
        Some("00147fe0c87e"),
    ),
    (
        "Patton SN4112/JS/EUI 00A0BA0C1234 R6.10 2017-12-27 SIP",
        Vendor::Patton,
        Some("SN4112/JS/EUI"),
        Some("R6.10"),
        Some("00a0ba0c1234"),
    ),
    (
        "Flyingvoice FIP13G V0.8.21.10 8c1f64123456",
        Vendor::Flyingvoice,
        Some("FIP13G"),
        Some("V0.8.21.10"),
        Some("8c1f64123456"),
    ),
    ("Digium D65 2.7.1 000fd3123456", Vendor::Digium, Some("D65"), Some("2.7.1"), Some("000fd3123456")),
];

#[test]
fn every_vendor_shape_is_read() {
    for &(ua, vendor, model, firmware, mac) in SHAPES {
        let parsed = UserAgent::parse(ua);
        assert_eq!(parsed.vendor, Some(vendor), "{ua}");
        assert_eq!(parsed.model.as_deref(), model, "{ua}");
        assert_eq!(parsed.firmware.as_deref(), firmware, "{ua}");
        assert_eq!(parsed.mac.map(|m| m.to_string()).as_deref(), mac, "{ua}");
    }
}

#[test]
fn real_variations_degrade_gracefully() {
    // Extra tokens, other separators, missing MAC, lowercase vendor.
    let ua = UserAgent::parse("yealink  SIP-T46S   66.86.0.15");
    assert_eq!(
        (ua.vendor, ua.model.as_deref(), ua.firmware.as_deref(), ua.mac),
        (Some(Vendor::Yealink), Some("T46S"), Some("66.86.0.15"), None)
    );
    let ua = UserAgent::parse("Yealink SIP-T46G");
    assert_eq!((ua.model.as_deref(), ua.firmware), (Some("T46G"), None));
    let ua = UserAgent::parse("Yealink");
    assert_eq!((ua.vendor, ua.model, ua.firmware, ua.mac), (Some(Vendor::Yealink), None, None, None));
    // Two different MACs: which one is meant is unknowable, so none.
    let ua = UserAgent::parse("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37 00:15:65:4a:a9:38");
    assert_eq!(ua.mac, None);
    // The same MAC twice is still one MAC.
    let ua = UserAgent::parse("Fanvil X5U 2.12.16.17 0c383e557eb1 (0C:38:3E:55:7E:B1)");
    assert_eq!(ua.mac.map(|m| m.to_string()).as_deref(), Some("0c383e557eb1"));
    // A model that is not plain text is not returned, so it cannot reach a log as anything else.
    let ua = UserAgent::parse("Yealink SIP-T46G\u{1b}[31m 28.72.0.1");
    assert_eq!(ua.model, None);
}

#[test]
fn unknown_shapes_are_all_none() {
    for ua in [
        "",
        "   ",
        "Unknown",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        "python-requests/2.31 00:15:65:4a:a9:37",
        "sipvicious",
    ] {
        assert_eq!(UserAgent::parse(ua), UserAgent::default(), "{ua:?}");
    }
    let huge = format!("Yealink SIP-T46G 28.72.0.1 {}", "x".repeat(600));
    assert_eq!(UserAgent::parse(&huge), UserAgent::default());
}

proptest! {
    #[test]
    fn any_string_parses_and_what_it_returns_is_plain(ua in ".{0,200}") {
        let parsed = UserAgent::parse(&ua);
        for field in [parsed.model.as_deref(), parsed.firmware.as_deref()].into_iter().flatten() {
            prop_assert!(field.len() <= 64 && !field.chars().any(char::is_control), "{:?}", field);
        }
        if parsed.vendor.is_none() {
            prop_assert_eq!(parsed, UserAgent::default());
        }
    }

    #[test]
    fn vendor_prefixed_noise_never_panics(prefix in prop::sample::select(SHAPES.to_vec()), tail in "[ -~]{0,60}") {
        let ua = format!("{}{}", prefix.0, tail);
        let parsed = UserAgent::parse(&ua);
        prop_assert!(parsed.vendor.is_some());
    }
}
