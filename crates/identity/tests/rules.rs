//! Every identity rule against the vendor layouts in `tests/data/device/`, and the ways a
//! subject can fail to name exactly one device.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use sipprov_identity::{AttributeRule, IdentityRule, Mac, NoIdentity};
use support::der;

fn mac(s: &str) -> Mac {
    s.parse().unwrap()
}

fn missing(attribute: &str) -> NoIdentity {
    NoIdentity::MissingAttribute { attribute: attribute.into() }
}

#[test]
fn polycom_reads_the_uppercase_cn() {
    let identity = IdentityRule::Polycom.identify(&der("device/polycom-vvx.pem")).unwrap();
    assert_eq!(identity.mac, mac("0004f28b54f4"));
    assert_eq!(identity.vendor, "polycom");
    assert_eq!((identity.serial, identity.model), (None, None));
}

#[test]
fn attributes_the_rule_does_not_need_cannot_stop_extraction() {
    // O is a Latin-1 TeletexString; OU is a PrintableString with '@' and '_'.
    let latin1 = IdentityRule::Polycom.identify(&der("device/polycom-latin1-org.pem")).unwrap();
    assert_eq!(latin1.mac, mac("0004f28b54f5"));
    let odd = IdentityRule::Polycom.identify(&der("device/polycom-odd-printable-ou.pem")).unwrap();
    assert_eq!(odd.mac, mac("0004f28b54f6"));
}

#[test]
fn snom_reads_a_lowercase_cn() {
    let identity = IdentityRule::Snom.identify(&der("device/snom-d785.pem")).unwrap();
    assert_eq!(identity.mac, mac("000413aabbcc"));
    assert_eq!(identity.vendor, "snom");
}

#[test]
fn yealink_reads_the_last_group_of_the_serial_number_uuid() {
    let identity = IdentityRule::Yealink.identify(&der("device/yealink-t46u.pem")).unwrap();
    assert_eq!(identity.mac, mac("001565000062"));
    assert_eq!(identity.vendor, "yealink");
}

#[test]
fn yealink_generic_certificates_name_no_device() {
    assert_eq!(IdentityRule::Yealink.identify(&der("device/yealink-generic.pem")), Err(missing("serialNumber")));
    assert_eq!(
        IdentityRule::Yealink.identify(&der("device/yealink-zero-mac.pem")),
        Err(NoIdentity::GenericCertificate { vendor: "yealink", detail: "the serialNumber names no MAC" })
    );
}

#[test]
fn two_serial_numbers_are_ambiguous() {
    assert_eq!(
        IdentityRule::Yealink.identify(&der("device/yealink-two-serials.pem")),
        Err(NoIdentity::AmbiguousAttribute { attribute: "serialNumber".into(), count: 2 })
    );
}

#[test]
fn cisco_mic_reads_mac_model_and_serial() {
    let identity = IdentityRule::CiscoMic.identify(&der("device/cisco-mic-8861.pem")).unwrap();
    assert_eq!(identity.mac, mac("2c3124c9f8e1"));
    assert_eq!(identity.vendor, "cisco");
    assert_eq!(identity.model.as_deref(), Some("CP-8861"));
    assert_eq!(identity.serial.as_deref(), Some("FCH2133E8B9"));
}

#[test]
fn cisco_mic_with_disagreeing_model_and_pid_names_no_device() {
    let err = IdentityRule::CiscoMic.identify(&der("device/cisco-mic-pid-mismatch.pem")).unwrap_err();
    assert_eq!(
        err,
        NoIdentity::Inconsistent("commonName names model \"CP-8861\" but serialNumber names PID \"CP-7841\"".into())
    );
}

#[test]
fn cisco_mpp_reads_state_locality_and_unit() {
    let identity = IdentityRule::CiscoMpp.identify(&der("device/cisco-mpp-8841.pem")).unwrap();
    assert_eq!(identity.mac, mac("000e08abcdef"));
    assert_eq!(identity.serial.as_deref(), Some("88012BA01234"));
    assert_eq!(identity.model.as_deref(), Some("CP-8841-3PCC"));
}

#[test]
fn cisco_mpp_generic_certificate_names_no_device() {
    assert_eq!(
        IdentityRule::CiscoMpp.identify(&der("device/cisco-mpp-generic.pem")),
        Err(NoIdentity::GenericCertificate { vendor: "cisco", detail: "ciscogeneric subject" })
    );
}

#[test]
fn cn_mac_refuses_two_cns_and_non_macs() {
    assert_eq!(
        IdentityRule::CnMac.identify(&der("device/private-two-cns.pem")),
        Err(NoIdentity::AmbiguousAttribute { attribute: "commonName".into(), count: 2 })
    );
    assert_eq!(
        IdentityRule::CnMac.identify(&der("device/private-cn-not-mac.pem")),
        Err(NoIdentity::NotAMac { attribute: "commonName".into(), value: "phone.example.com".into() })
    );
    assert_eq!(IdentityRule::CnMac.identify(&der("device/private-phone.pem")).unwrap().mac, mac("001565000001"));
}

#[test]
fn every_wrong_rule_names_no_device() {
    // Each layout under each other rule: never an identity, always a reason.
    let layouts = [
        ("device/polycom-vvx.pem", "polycom"),
        ("device/yealink-t46u.pem", "yealink"),
        ("device/cisco-mic-8861.pem", "cisco-mic"),
        ("device/cisco-mpp-8841.pem", "cisco-mpp"),
    ];
    let cn_rules = ["polycom", "snom", "cn-mac"];
    for (file, own_rule) in layouts {
        for rule in IdentityRule::BUILT_IN {
            let same_family =
                rule.name() == own_rule || (cn_rules.contains(&rule.name()) && cn_rules.contains(&own_rule));
            if same_family {
                continue;
            }
            let result = rule.identify(&der(file));
            assert!(result.is_err(), "{file} under {rule}: {result:?}");
        }
    }
}

#[test]
fn every_layout_is_recognised_by_auto() {
    for (file, expected) in [
        ("device/polycom-vvx.pem", IdentityRule::Polycom),
        ("device/snom-d785.pem", IdentityRule::Snom),
        ("device/yealink-t46u.pem", IdentityRule::Yealink),
        ("device/cisco-mic-8861.pem", IdentityRule::CiscoMic),
        ("device/cisco-mpp-8841.pem", IdentityRule::CiscoMpp),
        ("device/cisco-mpp-generic.pem", IdentityRule::CiscoMpp),
        ("device/private-phone.pem", IdentityRule::CnMac),
        ("device/private-cn-not-mac.pem", IdentityRule::CnMac),
    ] {
        assert_eq!(IdentityRule::guess(&der(file)).unwrap(), expected, "{file}");
    }
}

#[test]
fn spki_fingerprint_is_sha256_of_the_subject_public_key_info() {
    let certificate = der("device/polycom-vvx.pem");
    let identity = IdentityRule::Polycom.identify(&certificate).unwrap();
    // Cross-check with an independent parser (webpki-free, aws-lc digest over the SPKI TLV).
    let spki = spki_tlv(&certificate);
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki);
    assert_eq!(identity.spki_sha256.as_slice(), digest.as_ref());
    assert_eq!(identity.spki_sha256_hex().len(), 64);
    // Another device has another key.
    let other = IdentityRule::Snom.identify(&der("device/snom-d785.pem")).unwrap();
    assert_ne!(identity.spki_sha256, other.spki_sha256);
}

/// The SPKI TLV located by its Ed25519 algorithm identifier (all fixtures use Ed25519 keys).
fn spki_tlv(certificate: &[u8]) -> &[u8] {
    let at = certificate.windows(9).position(|w| w == b"\x30\x2a\x30\x05\x06\x03\x2b\x65\x70").unwrap();
    &certificate[at..at + 44]
}

#[test]
fn attribute_rule_reads_a_configured_layout() {
    // Yealink's layout expressed as a custom rule.
    let rule =
        IdentityRule::Attribute(AttributeRule::new("acme", "serialNumber", "ffffffff-ffff-ffff-fff0-{mac}").unwrap());
    let identity = rule.identify(&der("device/yealink-t46u.pem")).unwrap();
    assert_eq!(identity.mac, mac("001565000062"));
    assert_eq!(identity.vendor, "acme");

    // Cisco MIC's CN with a wildcard prefix.
    let rule = IdentityRule::Attribute(AttributeRule::new("cisco-like", "2.5.4.3", "*-SEP{mac}").unwrap());
    assert_eq!(rule.identify(&der("device/cisco-mic-8861.pem")).unwrap().mac, mac("2c3124c9f8e1"));

    // A pattern that does not match, and a missing attribute.
    let rule = IdentityRule::Attribute(AttributeRule::new("acme", "CN", "ACME-{mac}").unwrap());
    assert_eq!(
        rule.identify(&der("device/private-phone.pem")),
        Err(NoIdentity::NotAMac { attribute: "commonName".into(), value: "001565000001".into() })
    );
    let rule = IdentityRule::Attribute(AttributeRule::new("acme", "OU", "{mac}").unwrap());
    assert_eq!(rule.identify(&der("device/private-phone.pem")), Err(missing("organizationalUnitName")));
}

#[test]
fn attribute_rule_with_two_possible_macs_is_ambiguous() {
    // A run of 14 hex digits holds three different 12-digit MACs for `*{mac}*`.
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name.push(rcgen::DnType::CommonName, "0004F28B54F4AB");
    let certificate = params.self_signed(&key).unwrap();
    let rule = IdentityRule::Attribute(AttributeRule::new("acme", "CN", "*{mac}*").unwrap());
    let err = rule.identify(certificate.der()).unwrap_err();
    assert_eq!(
        err,
        NoIdentity::Inconsistent(
            "the commonName value \"0004F28B54F4AB\" matches the pattern with 3 different MACs".into()
        )
    );
    // Anchored, the same value has exactly one reading.
    let rule = IdentityRule::Attribute(AttributeRule::new("acme", "CN", "{mac}AB").unwrap());
    assert_eq!(rule.identify(certificate.der()).unwrap().mac, mac("0004f28b54f4"));
}

#[test]
fn garbage_is_a_malformed_certificate_under_every_rule() {
    for input in [&b""[..], b"\x30\x03\x02\x01\x00", b"-----BEGIN CERTIFICATE-----", &[0xff; 64], b"\x30\x80\x00\x00"] {
        for rule in IdentityRule::BUILT_IN {
            assert!(matches!(rule.identify(input), Err(NoIdentity::MalformedCertificate(_))), "{rule} {input:?}");
        }
    }
}

#[test]
fn trailing_bytes_after_the_certificate_are_refused() {
    let mut certificate = der("device/polycom-vvx.pem");
    certificate.push(0);
    assert!(matches!(IdentityRule::Polycom.identify(&certificate), Err(NoIdentity::MalformedCertificate(_))));
}

#[test]
fn rule_names_round_trip() {
    for rule in IdentityRule::BUILT_IN {
        assert_eq!(&rule.name().parse::<IdentityRule>().unwrap(), rule);
    }
    let err = "polycomm".parse::<IdentityRule>().unwrap_err();
    assert!(err.to_string().starts_with("unknown identity rule \"polycomm\""));
}
