//! Trust anchors: loading vendor bundles, binding each to a rule and OUIs, and identifying
//! verified chains.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use sipprov_identity::{AnchorError, IdentityRule, NoIdentity, Oui, TrustStore, VendorTrust};
use support::{bytes, cert, der};

/// 2027-01-15: inside every fixture's validity except the expired one's.
fn now() -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(1_800_000_000))
}

fn vendor(ca: &str, rule: IdentityRule) -> VendorTrust {
    VendorTrust::from_bundle(ca, &bytes(&format!("ca/{ca}.pem")), rule).unwrap()
}

fn store() -> TrustStore {
    let yealink_ouis = vec!["00:15:65".parse::<Oui>().unwrap(), "80:5e:c0".parse().unwrap()];
    TrustStore::new(vec![
        vendor("polycom-ca", IdentityRule::Polycom),
        vendor("snom-ca", IdentityRule::Snom),
        vendor("yealink-ca", IdentityRule::Yealink).with_allowed_ouis(yealink_ouis),
        vendor("cisco-root-ca", IdentityRule::CiscoMic),
        vendor("cisco-mpp-ca", IdentityRule::CiscoMpp),
        vendor("private-ca", IdentityRule::CnMac),
    ])
    .unwrap()
}

fn identify(chain: &[&str]) -> Result<(String, String), NoIdentity> {
    let chain: Vec<CertificateDer<'static>> = chain.iter().map(|f| cert(f)).collect();
    let store = store();
    store.identify(&chain, now()).map(|(identity, vendor)| (identity.mac.to_string(), vendor.source().to_owned()))
}

#[test]
fn each_vendor_chain_is_identified_with_its_own_rule() {
    assert_eq!(identify(&["device/polycom-vvx.pem"]), Ok(("0004f28b54f4".into(), "polycom-ca".into())));
    assert_eq!(identify(&["device/snom-d785.pem"]), Ok(("000413aabbcc".into(), "snom-ca".into())));
    assert_eq!(identify(&["device/yealink-t46u.pem"]), Ok(("001565000062".into(), "yealink-ca".into())));
    assert_eq!(identify(&["device/cisco-mpp-8841.pem"]), Ok(("000e08abcdef".into(), "cisco-mpp-ca".into())));
    assert_eq!(identify(&["device/private-phone.pem"]), Ok(("001565000001".into(), "private-ca".into())));
}

#[test]
fn an_intermediate_sent_by_the_phone_completes_the_chain() {
    assert_eq!(
        identify(&["device/cisco-mic-8861.pem", "ca/cisco-mfg-ca.pem"]),
        Ok(("2c3124c9f8e1".into(), "cisco-root-ca".into()))
    );
    let without = identify(&["device/cisco-mic-8861.pem"]).unwrap_err();
    assert_eq!(without, NoIdentity::Untrusted("the certificate does not chain to a configured anchor".into()));
}

#[test]
fn a_yealink_anchor_cannot_vouch_for_a_polycom_mac() {
    assert_eq!(
        identify(&["device/yealink-polycom-oui.pem"]),
        Err(NoIdentity::OuiNotAllowed { mac: "0004f28b54f4".into(), anchor: "yealink-ca".into() })
    );
}

#[test]
fn the_rule_comes_from_the_anchor_not_the_certificate() {
    // The private CA is bound to cn-mac: its phone is named by CN. Bound to yealink, the same
    // chain names no device.
    let store = TrustStore::new(vec![vendor("private-ca", IdentityRule::Yealink)]).unwrap();
    let err = store.identify(&[cert("device/private-phone.pem")], now()).unwrap_err();
    assert_eq!(err, NoIdentity::MissingAttribute { attribute: "serialNumber".into() });
}

#[test]
fn untrusted_expired_and_legacy_chains_name_no_device() {
    assert_eq!(
        identify(&["device/rogue-phone.pem"]),
        Err(NoIdentity::Untrusted("the certificate does not chain to a configured anchor".into()))
    );
    assert_eq!(
        identify(&["device/private-expired.pem"]),
        Err(NoIdentity::Untrusted("the certificate has expired".into()))
    );
    assert_eq!(
        identify(&["device/private-sha1.pem"]),
        Err(NoIdentity::Untrusted(
            "unsupported signature algorithm (legacy SHA-1 and RSA-1024 chains are not supported)".into()
        ))
    );
    assert_eq!(identify(&[]), Err(NoIdentity::Untrusted("no certificate presented".into())));
}

#[test]
fn generic_certificates_name_no_device_even_when_trusted() {
    assert!(matches!(identify(&["device/cisco-mpp-generic.pem"]), Err(NoIdentity::GenericCertificate { .. })));
    assert!(matches!(identify(&["device/yealink-zero-mac.pem"]), Err(NoIdentity::GenericCertificate { .. })));
}

#[test]
fn bundles_load_from_pem_with_several_certificates_and_from_concatenated_der() {
    let mut pem = bytes("ca/cisco-root-ca.pem");
    pem.extend(bytes("ca/cisco-mfg-ca.pem"));
    let from_pem = VendorTrust::from_bundle("cisco.pem", &pem, IdentityRule::CiscoMic).unwrap();
    assert_eq!(from_pem.certificates().len(), 2);

    let mut concatenated = der("ca/cisco-root-ca.pem");
    concatenated.extend(der("ca/cisco-mfg-ca.pem"));
    let from_der = VendorTrust::from_bundle("cisco.der", &concatenated, IdentityRule::CiscoMic).unwrap();
    assert_eq!(from_der.certificates(), from_pem.certificates());

    // With the intermediate as an anchor too, the leaf alone verifies.
    let store = TrustStore::new(vec![from_der]).unwrap();
    let (identity, _) = store.identify(&[cert("device/cisco-mic-8861.pem")], now()).unwrap();
    assert_eq!(identity.model.as_deref(), Some("CP-8861"));
}

#[test]
fn bad_bundles_are_refused_naming_the_bundle_and_certificate() {
    assert_eq!(
        VendorTrust::from_bundle("empty.pem", b"", IdentityRule::CnMac).unwrap_err(),
        AnchorError::Empty { bundle: "empty.pem".into() }
    );
    let key_only = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        VendorTrust::from_bundle("key.pem", key_only, IdentityRule::CnMac).unwrap_err(),
        AnchorError::Empty { bundle: "key.pem".into() }
    );

    let mut second_is_garbage = der("ca/private-ca.pem");
    second_is_garbage.extend(b"\x30\x82\x01\x00 truncated");
    let err = VendorTrust::from_bundle("mixed.der", &second_is_garbage, IdentityRule::CnMac).unwrap_err();
    assert!(matches!(&err, AnchorError::Certificate { bundle, index: 1, .. } if bundle == "mixed.der"), "{err:?}");
    assert!(err.to_string().contains("a DER certificate that is cut short or malformed"), "{err}");
    assert!(err.to_string().starts_with("mixed.der: certificate #1: "), "{err}");
    // A file that is neither says so, in words an operator can act on.
    let notes = VendorTrust::from_bundle("notes.txt", b"8 phones, see wiki", IdentityRule::CnMac).unwrap_err();
    let text = notes.to_string();
    assert!(text.contains("neither PEM") && text.contains("this starts with 0x38"), "{text}");

    let not_a_cert = b"\x30\x03\x02\x01\x00";
    let err = VendorTrust::from_bundle("tiny.der", not_a_cert, IdentityRule::CnMac).unwrap_err();
    assert!(matches!(err, AnchorError::Certificate { index: 0, .. }), "{err:?}");
}

#[test]
fn a_root_with_fractional_seconds_in_not_after_loads() {
    // Like the Cisco ECC Root CA: RFC 5280 forbids the encoding, but anchors are read for their
    // name and key only, so it works (and never panics).
    let vendor =
        VendorTrust::from_bundle("ecc-root.pem", &bytes("ca/fractional-seconds-root.pem"), IdentityRule::CiscoMic);
    assert_eq!(vendor.unwrap().certificates().len(), 1);
}

#[test]
fn legacy_rsa_1024_anchors_are_refused_at_load() {
    let err = VendorTrust::from_bundle("snom-old.pem", &bytes("ca/rsa1024-root.pem"), IdentityRule::Snom).unwrap_err();
    assert_eq!(
        err,
        AnchorError::Legacy {
            bundle: "snom-old.pem".into(),
            index: 0,
            detail: "RSA-1024 key (at least 2048 bits are required)".into()
        }
    );
    assert_eq!(
        err.to_string(),
        "snom-old.pem: certificate #0: RSA-1024 key (at least 2048 bits are required); such a chain loads only as a \
         legacy trust entry (rated 4)"
    );
}

/// Legacy chains, accepted only by a trust entry that says so. The fixtures were made with
/// OpenSSL: `legacy-rsa1024-sha1-root.pem`, an RSA-1024 root signing with SHA-1 (`openssl req
/// -x509 -newkey rsa:1024 -sha1`), and `legacy-rsa1024-phone.pem` (RSA-2048, `CN=000413000001`,
/// clientAuth, its key beside it) it signed with SHA-1 (`openssl x509 -req -sha1`).
#[test]
fn a_legacy_trust_entry_verifies_sha1_and_rsa_1024_chains_and_only_it_does() {
    let legacy =
        VendorTrust::from_legacy_bundle("legacy.pem", &bytes("ca/legacy-rsa1024-sha1-root.pem"), IdentityRule::CnMac)
            .unwrap();
    assert!(legacy.is_legacy());
    assert!(
        VendorTrust::from_bundle("legacy.pem", &bytes("ca/legacy-rsa1024-sha1-root.pem"), IdentityRule::CnMac).is_err()
    );
    let store = TrustStore::new(vec![legacy]).unwrap();
    let (identity, anchor) = store.identify(&[cert("device/legacy-rsa1024-phone.pem")], now()).unwrap();
    assert_eq!(identity.mac.to_string(), "000413000001");
    assert!(anchor.is_legacy());

    // A SHA-1 signature under a modern anchor (`rsa2048-root.pem`, RSA-2048 and SHA-256; it
    // signed `rsa2048-sha1-phone.pem` with SHA-1): refused unless the entry is a legacy one.
    let modern = TrustStore::new(vec![vendor("rsa2048-root", IdentityRule::CnMac)]).unwrap();
    let refused = modern.identify(&[cert("device/rsa2048-sha1-phone.pem")], now()).unwrap_err();
    assert!(refused.to_string().contains("unsupported signature algorithm"), "{refused}");
    let as_legacy =
        VendorTrust::from_legacy_bundle("rsa2048-root", &bytes("ca/rsa2048-root.pem"), IdentityRule::CnMac).unwrap();
    let store = TrustStore::new(vec![as_legacy]).unwrap();
    let (identity, _) = store.identify(&[cert("device/rsa2048-sha1-phone.pem")], now()).unwrap();
    assert_eq!(identity.mac.to_string(), "000413000002");
    // A legacy entry still verifies: another CA's phone is not trusted.
    assert!(store.identify(&[cert("device/rogue-phone.pem")], now()).is_err());
}

#[test]
fn a_store_needs_anchors_and_binds_each_ca_once() {
    assert_eq!(TrustStore::new(Vec::new()).unwrap_err(), AnchorError::NoAnchors);
    let err =
        TrustStore::new(vec![vendor("private-ca", IdentityRule::CnMac), vendor("private-ca", IdentityRule::Snom)])
            .unwrap_err();
    assert_eq!(err, AnchorError::Duplicate { first: "private-ca".into(), second: "private-ca".into() });
}

#[test]
fn a_certificate_its_ca_revoked_names_no_device() {
    use rcgen::{
        BasicConstraints, CertificateParams, CertificateRevocationListParams, CertifiedIssuer, DnType, IsCa,
        KeyIdMethod, KeyPair, RevokedCertParams, SerialNumber, date_time_ymd,
    };
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "device CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let phone = |mac: &str, serial: u8| {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, mac);
        params.serial_number = Some(SerialNumber::from(vec![serial]));
        params.signed_by(&KeyPair::generate().unwrap(), &ca).unwrap().der().clone()
    };
    let (stolen, kept) = (phone("001565000001", 1), phone("001565000002", 2));
    let crl = CertificateRevocationListParams {
        this_update: date_time_ymd(2026, 1, 1),
        next_update: date_time_ymd(2036, 1, 1),
        crl_number: SerialNumber::from(vec![1]),
        issuing_distribution_point: None,
        revoked_certs: vec![RevokedCertParams {
            serial_number: SerialNumber::from(vec![1]),
            revocation_time: date_time_ymd(2026, 6, 1),
            reason_code: None,
            invalidity_date: None,
        }],
        key_identifier_method: KeyIdMethod::Sha256,
    }
    .signed_by(&ca)
    .unwrap();
    let vendor = VendorTrust::from_bundle("ca.pem", ca.pem().as_bytes(), IdentityRule::CnMac).unwrap();
    let with_crl = vendor.clone().with_crls("ca.crl", crl.pem().unwrap().as_bytes()).unwrap();
    assert_eq!(with_crl.crls().len(), 1);
    let store = TrustStore::new(vec![with_crl]).unwrap();
    let refused = store.identify(std::slice::from_ref(&stolen), now()).unwrap_err();
    assert_eq!(refused.to_string(), NoIdentity::Untrusted("the certificate is revoked".into()).to_string());
    assert_eq!(store.identify(&[kept], now()).unwrap().0.mac.to_string(), "001565000002");
    // DER works too; without the CRL the same certificate is identified.
    assert!(vendor.clone().with_crls("ca.crl", crl.der()).is_ok());
    assert!(TrustStore::new(vec![vendor.clone()]).unwrap().identify(&[stolen], now()).is_ok());
    let garbage = vendor.with_crls("bad.crl", b"not a CRL").unwrap_err();
    assert!(matches!(&garbage, AnchorError::Crl { file, index: 0, .. } if file == "bad.crl"), "{garbage}");
}

/// A CN = MAC leaf under a fresh CA, with the key usages given (none: no keyUsage extension).
fn leaf_with_key_usage(usages: &[rcgen::KeyUsagePurpose]) -> (TrustStore, Vec<CertificateDer<'static>>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "key usage test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "001565000077");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = usages.to_vec();
    let leaf = params.signed_by(&KeyPair::generate().unwrap(), &ca).unwrap();
    let trust = VendorTrust::from_bundle("ku-ca", ca.pem().as_bytes(), IdentityRule::CnMac).unwrap();
    (TrustStore::new(vec![trust]).unwrap(), vec![leaf.der().clone()])
}

#[test]
fn a_leaf_whose_key_usage_lacks_digital_signature_is_no_client_certificate() {
    use rcgen::KeyUsagePurpose::{DigitalSignature, KeyCertSign, KeyEncipherment};
    let today = UnixTime::now();
    for refused in [&[KeyCertSign][..], &[KeyEncipherment], &[KeyCertSign, KeyEncipherment]] {
        let (store, chain) = leaf_with_key_usage(refused);
        assert_eq!(store.verify(&chain, today), Err(NoIdentity::NotForClientAuthentication), "{refused:?}");
        assert_eq!(store.identify(&chain, today).unwrap_err(), NoIdentity::NotForClientAuthentication);
    }
    for accepted in [&[][..], &[DigitalSignature], &[DigitalSignature, KeyEncipherment]] {
        let (store, chain) = leaf_with_key_usage(accepted);
        assert_eq!(store.verify(&chain, today), Ok(0), "{accepted:?}");
        assert_eq!(store.identify(&chain, today).unwrap().0.mac.to_string(), "001565000077");
    }
}

/// Phones of three vendors, each with the anchor that vouches for it.
const ANCHORED_PHONES: &[(&str, &str)] = &[
    ("device/polycom-vvx.pem", "polycom-ca"),
    ("device/yealink-t46u.pem", "yealink-ca"),
    ("device/private-phone.pem", "private-ca"),
];

#[test]
fn a_chain_verified_through_an_anchor_is_read_with_that_anchors_rule() {
    let store = store();
    for &(file, source) in ANCHORED_PHONES {
        let chain = vec![cert(file)];
        let position = store.verify(&chain, now()).unwrap();
        assert_eq!(store.vendors()[position].source(), source);
        let (_, vendor) = store.identify_verified(&chain[0], position).unwrap();
        assert_eq!(vendor.source(), source, "{file}: the rule of the anchor that verified it");
    }
    assert!(matches!(store.identify_verified(&cert("device/private-phone.pem"), 99), Err(NoIdentity::Untrusted(_))));
}

#[test]
fn verify_and_read_gives_what_verify_then_identify_would_from_one_parse() {
    let store = store();
    for &(file, source) in ANCHORED_PHONES {
        let chain = vec![cert(file)];
        let read = store.verify_and_read(&chain, now()).unwrap();
        assert_eq!(store.vendors()[read.position].source(), source, "{file}");
        assert_eq!(read.identity, store.identify(&chain, now()).map(|(identity, _)| identity), "{file}");
        assert_eq!(read.serial, sipprov_identity::certificate_serial(&chain[0]).unwrap(), "{file}");
    }
    // A trusted chain that names no device under its anchor's rule: verified, without a device.
    let misbound = TrustStore::new(vec![vendor("polycom-ca", IdentityRule::Yealink)]).unwrap();
    let read = misbound.verify_and_read(&[cert("device/polycom-vvx.pem")], now()).unwrap();
    assert_eq!(read.identity.unwrap_err().to_string(), "the subject has no serialNumber attribute");
    // An untrusted one is refused as `verify` refuses it.
    let untrusted = store.verify_and_read(&[cert("device/cisco-mic-8861.pem")], now()).unwrap_err();
    assert_eq!(untrusted, NoIdentity::Untrusted("the certificate does not chain to a configured anchor".into()));
}

#[test]
fn a_certificate_that_declares_itself_no_ca_is_no_anchor() {
    let mut params = rcgen::CertificateParams::new(vec!["phone.example".to_owned()]).unwrap();
    params.is_ca = rcgen::IsCa::ExplicitNoCa;
    let leaf = params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
    let err = VendorTrust::from_bundle("leaf.pem", leaf.pem().as_bytes(), IdentityRule::CnMac).unwrap_err();
    assert!(err.to_string().contains("an end-entity certificate"), "{err}");
    // A root without basicConstraints (X.509 v1, as some vendors' are) stays usable.
    let mut v1_like = rcgen::CertificateParams::new(Vec::new()).unwrap();
    v1_like.is_ca = rcgen::IsCa::NoCa;
    let root = v1_like.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
    assert!(VendorTrust::from_bundle("root.pem", root.pem().as_bytes(), IdentityRule::CnMac).is_ok());
}

#[test]
fn a_certificates_end_of_validity_is_read() {
    let mut params = rcgen::CertificateParams::new(vec!["prov.example.net".to_owned()]).unwrap();
    params.not_after = rcgen::date_time_ymd(2031, 1, 2);
    let cert = params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
    assert_eq!(sipprov_identity::certificate_not_after(cert.der()).unwrap(), 1_925_078_400);
    params.not_after = rcgen::date_time_ymd(2051, 6, 1); // GeneralizedTime from 2050 on
    let cert = params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap();
    assert_eq!(sipprov_identity::certificate_not_after(cert.der()).unwrap(), 2_569_190_400);
    assert!(sipprov_identity::certificate_not_after(b"\x30\x03\x02\x01\x00").is_err());
}
