//! The `cn-mac` rule against certificates made with rcgen in the layouts it must accept or refuse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use rcgen::{CertificateParams, DnType, DnValue, KeyPair};
use sipprov_identity::{IdentityRule, Mac, NoIdentity};

fn certificate(subject: &[(DnType, DnValue)]) -> (Vec<u8>, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (ty, value) in subject {
        params.distinguished_name.push(ty.clone(), value.clone());
    }
    (params.self_signed(&key).unwrap().der().to_vec(), key)
}

fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(s.try_into().unwrap())
}

#[test]
fn uppercase_cn_mac_yields_the_canonical_mac_and_key_fingerprint() {
    let (der, key) = certificate(&[
        (DnType::CommonName, printable("0004F28B54F4")),
        (DnType::OrganizationName, printable("Polycom Inc.")),
    ]);
    let identity = IdentityRule::CnMac.identify(&der).unwrap();
    assert_eq!(identity.mac, Mac::parse("0004f28b54f4").unwrap());
    assert_eq!(identity.vendor, "generic");
    let expected: [u8; 32] = aws_lc_sha256(&rcgen::PublicKeyData::subject_public_key_info(&key));
    assert_eq!(identity.spki_sha256, expected);
    assert_eq!(identity.spki_sha256_hex().len(), 64);
}

#[test]
fn utf8_cn_with_separators_is_accepted() {
    let (der, _) = certificate(&[(DnType::CommonName, DnValue::Utf8String("00:15:65:aa:bb:cc".into()))]);
    let identity = IdentityRule::CnMac.identify(&der).unwrap();
    assert_eq!(identity.mac.to_string(), "001565aabbcc");
}

#[test]
fn missing_cn_is_no_identity() {
    let (der, _) = certificate(&[(DnType::OrganizationName, printable("Snom"))]);
    assert_eq!(IdentityRule::CnMac.identify(&der), Err(NoIdentity::MissingAttribute { attribute: "commonName" }));
}

#[test]
fn two_cns_are_ambiguous_even_when_both_are_macs() {
    let (der, _) = certificate(&[
        (DnType::CommonName, printable("001565000001")),
        (DnType::CustomDnType(vec![2, 5, 4, 3]), printable("001565000002")),
    ]);
    assert_eq!(
        IdentityRule::CnMac.identify(&der),
        Err(NoIdentity::AmbiguousAttribute { attribute: "commonName", count: 2 })
    );
}

#[test]
fn cn_that_is_not_a_mac_is_no_identity() {
    for cn in ["yealink.com", "0015650000012", "SEP001565000001", "00156500000g", "ciscogeneric"] {
        let (der, _) = certificate(&[(DnType::CommonName, printable(cn))]);
        assert_eq!(
            IdentityRule::CnMac.identify(&der),
            Err(NoIdentity::NotAMac { attribute: "commonName", value: cn.to_owned() }),
            "{cn}"
        );
    }
}

#[test]
fn bytes_that_are_not_a_certificate_are_refused() {
    for input in [&b""[..], b"\x30\x03\x02\x01\x00", b"-----BEGIN CERTIFICATE-----", &[0xff; 64]] {
        assert!(matches!(IdentityRule::CnMac.identify(input), Err(NoIdentity::MalformedCertificate(_))));
    }
}

#[test]
fn rule_names_round_trip() {
    for rule in IdentityRule::ALL {
        assert_eq!(rule.name().parse::<IdentityRule>().unwrap(), *rule);
    }
    assert!("polycomm".parse::<IdentityRule>().is_err());
}

/// SHA-256 computed independently of the crate, through the TLS crypto provider's digest.
fn aws_lc_sha256(data: &[u8]) -> [u8; 32] {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data);
    digest.as_ref().try_into().unwrap()
}
