//! Injection: any value either renders to a file that reads back to exactly the intended keys
//! and values, or is refused with an error that names its field. Never an extra key.
//!
//! The intended file is the one rendered from harmless placeholder values, read back, with
//! each placeholder replaced by the real value: same keys, in the same order, and each value
//! exactly what was put in. Files are read back with the vendors' readers (XML through
//! quick-xml, an implementation independent of sipprov's escaping).

use proptest::prelude::*;
use sipprov_template::{
    AccountSettings, Format, Layer, LayeredSettings, Renderer, Secrets, TemplateError, Vendor, profiles,
};

use crate::fixtures;

/// The fields a device file is rendered from, by the name a refusal must give.
const FIELDS: [&str; 8] = [
    "accounts.1.user_name",
    "accounts.1.auth_name",
    "accounts.1.display_name",
    "accounts.1.registrar",
    "accounts.1.password",
    "secrets.admin_password",
    "settings.provisioning_url",
    "settings.ntp_server",
];

fn placeholder(i: usize) -> String {
    format!("qqf{i}qq")
}

fn render(renderer: &Renderer, vendor: Vendor, values: &[String; 8]) -> Result<String, TemplateError> {
    let account = AccountSettings::new(values[0].clone(), values[1].clone(), values[2].clone(), values[3].clone());
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", values[6].clone()).unwrap();
    settings.set(Layer::Device, "ntp_server", values[7].clone()).unwrap();
    let mut device = fixtures::device(vendor, &account, &settings, false);
    let sip_passwords = [(1, values[4].as_str())];
    device.secrets = Secrets { sip_passwords: &sip_passwords, admin_password: Some(&values[5]) };
    renderer.render_device(fixtures::device_file(vendor), &device)
}

fn read(vendor: Vendor, text: &str) -> Vec<(String, String)> {
    (vendor.profile().unwrap().read)(text).unwrap_or_else(|e| panic!("{vendor}: {e}\n{text}"))
}

/// Whether a value cannot be carried by a format, by the rules stated in the docs (written out
/// here again, independently of the crate's checks).
fn refusable(format: Format, value: &str) -> bool {
    let control = value.chars().any(char::is_control);
    match format {
        Format::KeyValue => control || value.trim() != value,
        _ => control || value.contains(['\u{fffe}', '\u{ffff}']),
    }
}

/// Whether a value cannot be what its field is inside SIP, whatever the format (RFC 3261's
/// `user`, a digest user name, a host[:port]), written out here again independently.
fn not_sip(index: usize, value: &str) -> bool {
    let portable = |v: &str| !v.chars().any(|c| c.is_control() || c == '\u{fffe}' || c == '\u{ffff}') && v.trim() == v;
    match index {
        0 => {
            let bytes = value.as_bytes();
            let escapes_ok = bytes
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'%')
                .all(|(i, _)| bytes.get(i + 1..i + 3).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)));
            value.is_empty()
                || value.len() > 256
                || !escapes_ok
                || !value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/%".contains(&b))
        }
        1 => value.is_empty() || value.len() > 256 || !portable(value) || value.contains(['"', '\\']),
        3 => {
            let (host, port) = match value.rsplit_once(':') {
                Some((host, port)) if !value.starts_with('[') => (host, Some(port)),
                _ => (value, None),
            };
            let bracketed = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
            let host_ok = match bracketed {
                Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
                None => host.trim_end_matches('.').split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                }),
            };
            let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
            value.is_empty() || value.len() > 256 || !host_ok || !port_ok
        }
        _ => false,
    }
}

fn check_vendor(renderer: &Renderer, vendor: Vendor, values: &[String; 8]) -> Result<(), TestCaseError> {
    let format = fixtures::device_file(vendor).format;
    // Some vendors write the registrar's host and port apart: a registrar with a port gets a
    // placeholder with the same port, and the placeholder stands for its host alone.
    let mut placeholders: [String; 8] = std::array::from_fn(placeholder);
    let mut reals = values.clone();
    let port = values[3]
        .rsplit_once(':')
        .filter(|(host, port)| !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok_and(|p| p > 0));
    if let Some((host, port)) = port {
        placeholders[3] = format!("{}:{port}", placeholder(3));
        reals[3] = host.to_owned();
    }
    let template_text = render(renderer, vendor, &placeholders).unwrap();
    let expected: Vec<(String, String)> = read(vendor, &template_text)
        .into_iter()
        .map(|(key, mut value)| {
            for (i, real) in reals.iter().enumerate() {
                value = value.replace(&placeholder(i), real);
            }
            (key, value)
        })
        .collect();
    // Only the fields the template writes are checked: another vendor's file may need the rest.
    let used = |i: usize| template_text.contains(&placeholder(i));
    let any_refusable = values.iter().enumerate().any(|(i, v)| (used(i) && refusable(format, v)) || not_sip(i, v));
    match render(renderer, vendor, values) {
        Ok(text) => {
            prop_assert!(!any_refusable, "{}: rendered a value the format cannot carry:\n{}", vendor, text);
            prop_assert_eq!(read(vendor, &text), expected, "{}", vendor);
        }
        Err(err) => {
            let field = err.field().unwrap_or_else(|| panic!("{vendor}: an error without a field: {err}"));
            let index =
                FIELDS.iter().position(|f| *f == field).unwrap_or_else(|| panic!("{vendor}: unknown field {field}"));
            prop_assert!(
                (used(index) && refusable(format, &values[index])) || not_sip(index, &values[index]),
                "{}: refused {} = {:?}: {}",
                vendor,
                field,
                values[index],
                err
            );
            prop_assert!(err.to_string().contains(field), "{}: the message names the field: {}", vendor, err);
        }
    }
    Ok(())
}

fn value() -> impl Strategy<Value = String> {
    let nasty = prop::sample::select(vec![
        "\r",
        "\n",
        "\r\n",
        "\0",
        "\t",
        "\u{b}",
        "\u{1b}",
        "\u{7f}",
        "\u{85}",
        "\u{2028}",
        "\u{fffe}",
        "\u{ffff}",
        "\"",
        "'",
        "<",
        ">",
        "&",
        "&amp;",
        "&#10;",
        "%",
        "%0a",
        "%NULL%",
        "=",
        " = ",
        "#",
        "##",
        ";",
        "[",
        "]",
        "]]>",
        "<!--",
        "-->",
        "/>",
        "</x>",
        " ",
        "é",
        "漢字",
        "😀",
        "a",
        "b.c",
        "{{ x }}",
        "{% if %}",
        "$MA",
        "account.2.enable = 1",
    ]);
    prop_oneof![
        "[ -~]{0,30}",
        "\\PC{0,20}",
        any::<String>(),
        prop::collection::vec(nasty, 0..10).prop_map(|v| v.concat()),
        "[a-zA-Z0-9]{300,2000}",
    ]
}

/// Eight field values; the user name and registrar are mostly valid SIP, so the other fields'
/// values reach the renderer's escaping rather than stopping at the SIP checks.
fn values() -> impl Strategy<Value = [String; 8]> {
    let user = prop_oneof![3 => "[a-zA-Z0-9+._!~*'()&=$,;?/-]{1,24}", 1 => value()];
    let host = prop_oneof![3 => "[a-z0-9]{1,10}(\\.[a-z0-9]{1,10}){0,3}(:[1-9][0-9]{0,3})?", 1 => value()];
    (user, value(), value(), host, value(), value(), value(), value())
        .prop_map(|(a, b, c, d, e, f, g, h)| [a, b, c, d, e, f, g, h])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_vendor_reads_back_exactly_or_refuses_naming_the_field(values in values()) {
        let renderer = Renderer::shipped().unwrap();
        for profile in profiles() {
            check_vendor(&renderer, profile.vendor, &values)?;
        }
    }

    #[test]
    fn common_files_read_back_exactly_or_refuse(url in value()) {
        let renderer = Renderer::shipped().unwrap();
        let mut settings = LayeredSettings::new();
        settings.set(Layer::Global, "provisioning_url", url.clone()).unwrap();
        let mut placeholder_settings = LayeredSettings::new();
        placeholder_settings.set(Layer::Global, "provisioning_url", "qqurlqq").unwrap();
        for file in fixtures::common_files() {
            let read = file.vendor.profile().unwrap().read;
            let expected: Vec<(String, String)> = read(&renderer.render_common(file, &placeholder_settings).unwrap())
                .unwrap()
                .into_iter()
                .map(|(k, v)| (k, v.replace("qqurlqq", &url)))
                .collect();
            match renderer.render_common(file, &settings) {
                Ok(text) => prop_assert_eq!(read(&text).unwrap(), expected),
                Err(err) => {
                    prop_assert_eq!(err.field(), Some("settings.provisioning_url"));
                    prop_assert!(refusable(file.format, &url));
                }
            }
        }
    }
}

#[test]
fn the_classic_injections_are_refused_naming_the_field() {
    let renderer = Renderer::shipped().unwrap();
    for profile in profiles() {
        let vendor = profile.vendor;
        let placeholders: [String; 8] = std::array::from_fn(placeholder);
        let template_text = render(&renderer, vendor, &placeholders).unwrap();
        for (index, field) in FIELDS.iter().enumerate() {
            if !template_text.contains(&placeholder(index)) {
                continue;
            }
            for payload in ["x\r\naccount.1.sip_server.1.address = evil", "x\n<P47>evil</P47>", "x\0y"] {
                let mut values: [String; 8] = std::array::from_fn(placeholder);
                values[index] = payload.to_owned();
                let err = render(&renderer, vendor, &values).unwrap_err();
                assert_eq!(err.field(), Some(*field), "{vendor}");
            }
        }
    }
}

#[test]
fn markup_in_a_value_stays_a_value() {
    let renderer = Renderer::shipped().unwrap();
    let hostile = r#"Front" reg.1.auth.password="x"/><reg x="&amp;'<!--"#;
    for profile in profiles() {
        let vendor = profile.vendor;
        let mut values: [String; 8] = std::array::from_fn(placeholder);
        values[2] = hostile.to_owned();
        values[6] = "https://prov.example.net".to_owned();
        let text = render(&renderer, vendor, &values).unwrap();
        if !render(&renderer, vendor, &std::array::from_fn(placeholder)).unwrap().contains(&placeholder(2)) {
            continue; // this vendor does not show a display name
        }
        let pairs = read(vendor, &text);
        let shown: Vec<&str> = pairs.iter().filter(|(_, v)| v.contains("Front")).map(|(_, v)| v.as_str()).collect();
        assert!(!shown.is_empty() && shown.iter().all(|v| v.contains(hostile)), "{vendor}: {shown:?}");
    }
}

#[test]
fn settings_a_template_does_not_use_are_not_checked() {
    let renderer = Renderer::shipped().unwrap();
    let (account, mut settings) = (fixtures::account(), fixtures::settings());
    settings.set(Layer::Site, "unused_by_templates", " with\nline breaks ").unwrap();
    for vendor in fixtures::vendors() {
        let device = fixtures::device(vendor, &account, &settings, false);
        assert!(renderer.render_device(fixtures::device_file(vendor), &device).is_ok(), "{vendor}");
    }
}

#[test]
fn a_user_name_cannot_rewrite_a_sip_uri_in_any_vendors_file() {
    let renderer = Renderer::shipped().unwrap();
    for payload in ["1001@evil.example", "1001>;x", "<sip:a@b>", "a b", "1001:5060"] {
        for profile in profiles() {
            let mut values: [String; 8] = std::array::from_fn(placeholder);
            values[0] = payload.to_owned();
            let err = render(&renderer, profile.vendor, &values).unwrap_err();
            assert_eq!(err.field(), Some("accounts.1.user_name"), "{}: {payload}: {err}", profile.vendor);
        }
    }
    // A legal user part with RFC 3261's reserved characters lands in Linphone's URI unchanged.
    let mut values: [String; 8] = std::array::from_fn(placeholder);
    (values[0], values[3]) = ("+44;ext=1".to_owned(), "sip.example.net".to_owned());
    let text = render(&renderer, Vendor::Linphone, &values).unwrap();
    assert!(text.contains("sip:+44;ext=1@sip.example.net</entry>"), "{text}");
}
