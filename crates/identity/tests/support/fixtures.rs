//! The generator of every certificate under `tests/data/`.
//!
//! Deterministic: keys are Ed25519 derived from a seed named after the fixture, serial numbers
//! and validity are fixed, and Ed25519 signatures are deterministic. So regenerating gives the
//! same bytes, and `tests/fixtures.rs` fails when the committed files and this generator differ.
//! Regenerate with `SIPPROV_WRITE_FIXTURES=1 cargo test -p sipprov-identity --test fixtures`.
//!
//! Vendor layouts reproduce the subjects documented in the crate's rule docs. Where a fixture
//! needs bytes rcgen will not write (a Latin-1 TeletexString, an invalid PrintableString, a
//! GeneralizedTime with fractional seconds, an RSA-1024 key, a SHA-1 signature algorithm) the
//! generator edits the DER and signs it again.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use der::{Reader, SliceReader};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, DnValue, ExtendedKeyUsagePurpose,
    IsCa, KeyPair, KeyUsagePurpose, PKCS_ED25519, SerialNumber, date_time_ymd,
};
use rustls_pki_types::PrivatePkcs8KeyDer;
use sha2::{Digest, Sha256};

/// One generated file: its path under `tests/data/` and its PEM text.
pub struct Fixture {
    pub path: String,
    pub pem: String,
}

type Issuer = CertifiedIssuer<'static, KeyPair>;

fn seed(name: &str) -> [u8; 32] {
    Sha256::digest(format!("sipprov-identity fixture key: {name}")).into()
}

fn key(name: &str) -> KeyPair {
    // PKCS#8 v1 wrapping of an Ed25519 seed (RFC 8410).
    let mut pkcs8 =
        vec![0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    pkcs8.extend_from_slice(&seed(name));
    KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8), &PKCS_ED25519).unwrap()
}

fn params(name: &str, subject: &[(DnType, DnValue)]) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    for (ty, value) in subject {
        params.distinguished_name.push(ty.clone(), value.clone());
    }
    params.serial_number = Some(SerialNumber::from_slice(&Sha256::digest(name.as_bytes())[..12]));
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2049, 12, 31);
    params
}

fn ca(name: &str, common_name: &str, parent: Option<&Issuer>) -> Issuer {
    let mut params = params(name, &[(DnType::CommonName, printable(common_name))]);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    match parent {
        None => CertifiedIssuer::self_signed(params, key(name)).unwrap(),
        Some(parent) => CertifiedIssuer::signed_by(params, key(name), parent).unwrap(),
    }
}

fn device(name: &str, subject: &[(DnType, DnValue)], issuer: &Issuer) -> Vec<u8> {
    device_with(name, params(name, subject), issuer)
}

fn device_with(name: &str, mut params: CertificateParams, issuer: &Issuer) -> Vec<u8> {
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.signed_by(&key(name), issuer).unwrap().der().to_vec()
}

pub fn printable(s: &str) -> DnValue {
    DnValue::PrintableString(s.try_into().unwrap())
}

fn utf8(s: &str) -> DnValue {
    DnValue::Utf8String(s.to_owned())
}

/// Every fixture, in a stable order.
pub fn generate() -> Vec<Fixture> {
    let mut out = Vec::new();
    let mut add = |path: &str, der: &[u8]| {
        out.push(Fixture { path: path.to_owned(), pem: pem(der) });
    };

    // Vendor CAs (stand-ins: the real ones sign the same layouts).
    let polycom = ca("polycom-ca", "Polycom Equipment Issuing CA (test)", None);
    let snom = ca("snom-ca", "Snom Phone 1 SHA-256 (test)", None);
    let yealink = ca("yealink-ca", "Yealink Equipment CA (test)", None);
    let cisco_root = ca("cisco-root-ca", "Cisco Root CA M2 (test)", None);
    let cisco_mfg = ca("cisco-mfg-ca", "Cisco Manufacturing CA SHA2 (test)", Some(&cisco_root));
    let cisco_mpp = ca("cisco-mpp-ca", "Cisco MPP CA (test)", None);
    let private = ca("private-ca", "ITSP private device CA (test)", None);
    let rogue = ca("rogue-ca", "Rogue CA (test)", None);
    for (name, issuer) in [
        ("polycom-ca", &polycom),
        ("snom-ca", &snom),
        ("yealink-ca", &yealink),
        ("cisco-root-ca", &cisco_root),
        ("cisco-mfg-ca", &cisco_mfg),
        ("cisco-mpp-ca", &cisco_mpp),
        ("private-ca", &private),
        ("rogue-ca", &rogue),
    ] {
        add(&format!("ca/{name}.pem"), issuer.der());
    }
    add("ca/fractional-seconds-root.pem", &fractional_seconds_root());
    add("ca/rsa1024-root.pem", &rsa1024_root());

    // Polycom: CN = MAC, uppercase.
    let polycom_subject =
        |cn: &str| vec![(DnType::CommonName, printable(cn)), (DnType::OrganizationName, printable("Polycom Inc."))];
    add("device/polycom-vvx.pem", &device("polycom-vvx", &polycom_subject("0004F28B54F4"), &polycom));
    // An organisation this crate does not need, in Latin-1 TeletexString; and an OU that breaks
    // PrintableString's character set. Neither may stop extraction of the CN.
    let latin1 = device(
        "polycom-latin1-org",
        &[(DnType::CommonName, printable("0004F28B54F5")), (DnType::OrganizationName, utf8("Polycom CafeX"))],
        &polycom,
    );
    add(
        "device/polycom-latin1-org.pem",
        &edit_and_resign(&latin1, &[(b"\x0c\x0dPolycom CafeX", b"\x14\x0dPolycom Caf\xe9X")], "polycom-ca"),
    );
    let odd = device(
        "polycom-odd-printable-ou",
        &[(DnType::CommonName, printable("0004F28B54F6")), (DnType::OrganizationalUnitName, utf8("ops@site_1"))],
        &polycom,
    );
    add(
        "device/polycom-odd-printable-ou.pem",
        &edit_and_resign(&odd, &[(b"\x0c\x0aops@site_1", b"\x13\x0aops@site_1")], "polycom-ca"),
    );

    // Snom: CN = MAC, case not guaranteed.
    add("device/snom-d785.pem", &device("snom-d785", &[(DnType::CommonName, printable("000413aabbcc"))], &snom));

    // Yealink: MAC = last 12 hex of the UUID-shaped serialNumber.
    let yealink_subject = |serial: Option<&str>| {
        let mut subject = vec![
            (DnType::CountryName, printable("CN")),
            (DnType::StateOrProvinceName, printable("FuJian")),
            (DnType::LocalityName, printable("Xiamen")),
            (DnType::OrganizationName, printable("Yealink Network Technology Co., Ltd.")),
            (DnType::OrganizationalUnitName, printable("Yealink Equipment")),
            (DnType::CommonName, printable("yealink.com")),
        ];
        if let Some(serial) = serial {
            subject.push((DnType::CustomDnType(vec![2, 5, 4, 5]), printable(serial)));
        }
        subject
    };
    add(
        "device/yealink-t46u.pem",
        &device("yealink-t46u", &yealink_subject(Some("ffffffff-ffff-ffff-fff0-001565000062")), &yealink),
    );
    add("device/yealink-generic.pem", &device("yealink-generic", &yealink_subject(None), &yealink));
    add(
        "device/yealink-zero-mac.pem",
        &device("yealink-zero-mac", &yealink_subject(Some("ffffffff-ffff-ffff-fff0-000000000000")), &yealink),
    );
    // rcgen keeps one value per attribute type: write the second serialNumber as streetAddress
    // (2.5.4.9), then turn its OID into 2.5.4.5 (same length, so no lengths change).
    let mut two_serials = yealink_subject(Some("ffffffff-ffff-ffff-fff0-001565000063"));
    two_serials.push((DnType::CustomDnType(vec![2, 5, 4, 9]), printable("ffffffff-ffff-ffff-fff0-001565000064")));
    let two = device("yealink-two-serials", &two_serials, &yealink);
    add(
        "device/yealink-two-serials.pem",
        &edit_and_resign(&two, &[(b"\x06\x03\x55\x04\x09", b"\x06\x03\x55\x04\x05")], "yealink-ca"),
    );
    add(
        "device/yealink-polycom-oui.pem",
        &device("yealink-polycom-oui", &yealink_subject(Some("ffffffff-ffff-ffff-fff0-0004f28b54f4")), &yealink),
    );

    // Cisco enterprise MIC, issued by an intermediate.
    let mic_subject = |cn: &str, serial: &str| {
        vec![
            (DnType::CustomDnType(vec![2, 5, 4, 5]), printable(serial)),
            (DnType::OrganizationName, printable("Cisco Systems Inc.")),
            (DnType::OrganizationalUnitName, printable("CTG")),
            (DnType::CommonName, printable(cn)),
        ]
    };
    add(
        "device/cisco-mic-8861.pem",
        &device("cisco-mic-8861", &mic_subject("CP-8861-SEP2C3124C9F8E1", "PID:CP-8861 SN:FCH2133E8B9"), &cisco_mfg),
    );
    add(
        "device/cisco-mic-pid-mismatch.pem",
        &device(
            "cisco-mic-pid-mismatch",
            &mic_subject("CP-8861-SEP2C3124C9F8E2", "PID:CP-7841 SN:FCH2133E8C0"),
            &cisco_mfg,
        ),
    );

    // Cisco MPP / 3PCC.
    let mpp_subject = |ou: &str, l: &str, st: &str| {
        vec![
            (DnType::OrganizationalUnitName, printable(ou)),
            (DnType::LocalityName, printable(l)),
            (DnType::StateOrProvinceName, printable(st)),
        ]
    };
    add(
        "device/cisco-mpp-8841.pem",
        &device("cisco-mpp-8841", &mpp_subject("CP-8841-3PCC", "88012BA01234", "000e08abcdef"), &cisco_mpp),
    );
    add(
        "device/cisco-mpp-generic.pem",
        &device("cisco-mpp-generic", &mpp_subject("cisco.com", "ciscogeneric", "ciscogeneric"), &cisco_mpp),
    );

    // Private CA, CN = MAC, and the ways a subject can be wrong.
    add(
        "device/private-phone.pem",
        &device("private-phone", &[(DnType::CommonName, printable("001565000001"))], &private),
    );
    let two_cns = device(
        "private-two-cns",
        &[
            (DnType::CommonName, printable("001565000002")),
            (DnType::CustomDnType(vec![2, 5, 4, 3]), printable("001565000003")),
        ],
        &private,
    );
    add("device/private-two-cns.pem", &two_cns);
    add(
        "device/private-cn-not-mac.pem",
        &device("private-cn-not-mac", &[(DnType::CommonName, printable("phone.example.com"))], &private),
    );
    let mut expired = params("private-expired", &[(DnType::CommonName, printable("001565000009"))]);
    expired.not_before = date_time_ymd(2010, 1, 1);
    expired.not_after = date_time_ymd(2011, 1, 1);
    add("device/private-expired.pem", &device_with("private-expired", expired, &private));
    let sha1 = device("private-sha1", &[(DnType::CommonName, printable("001565000010"))], &private);
    add("device/private-sha1.pem", &edit_and_resign(&sha1, &[(ED25519_ALG, SHA1_WITH_RSA_ALG)], "private-ca"));
    add("device/rogue-phone.pem", &device("rogue-phone", &[(DnType::CommonName, printable("001565000001"))], &rogue));
    out
}

const ED25519_ALG: &[u8] = b"\x30\x05\x06\x03\x2b\x65\x70";
const SHA1_WITH_RSA_ALG: &[u8] = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x05\x05\x00";

/// A root whose notAfter is a GeneralizedTime with fractional seconds, as in the Cisco ECC Root
/// CA; RFC 5280 forbids it, phones' vendors ship it anyway.
fn fractional_seconds_root() -> Vec<u8> {
    let root = ca("fractional-seconds-root", "Fractional seconds root (test)", None);
    let der = root.der().to_vec();
    // rcgen writes the validity as two UTCTimes; replace the whole SEQUENCE (a direct child of
    // the TBSCertificate) so every length stays right.
    let old = b"\x30\x1e\x17\x0d200101000000Z\x17\x0d491231000000Z";
    let new = b"\x30\x24\x17\x0d200101000000Z\x18\x1320991231235959.999Z";
    edit_and_resign(&der, &[(old, new)], "fractional-seconds-root")
}

/// A root with an RSA-1024 key (the key is only ever read, never used to sign).
fn rsa1024_root() -> Vec<u8> {
    let root = ca("rsa1024-root", "Legacy RSA-1024 root (test)", None);
    let der = root.der().to_vec();
    let spki_ed25519 = {
        let mut spki = ED25519_ALG.to_vec();
        let public = Ed25519KeyPair::from_seed_unchecked(&seed("rsa1024-root")).unwrap().public_key().as_ref().to_vec();
        spki.extend(tlv(0x03, &[&[0u8][..], &public].concat()));
        tlv(0x30, &spki)
    };
    let mut modulus = vec![0x00, 0xc3];
    modulus.extend(Sha256::digest(b"rsa1024 modulus").iter().cycle().take(127));
    let rsa_key = tlv(0x30, &[tlv(0x02, &modulus), tlv(0x02, &[0x01, 0x00, 0x01])].concat());
    let rsa_alg = b"\x30\x0d\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01\x05\x00";
    let spki_rsa = tlv(0x30, &[&rsa_alg[..], &tlv(0x03, &[&[0u8][..], &rsa_key].concat())].concat());
    edit_and_resign(&der, &[(&spki_ed25519, &spki_rsa)], "rsa1024-root")
}

/// Replaces the first occurrence of each `old` with `new` in the TBSCertificate, fixes the
/// TBSCertificate length, and signs it again with `signer`'s Ed25519 key. A replacement of a
/// different length must be a whole direct child of the TBSCertificate.
fn edit_and_resign(der: &[u8], edits: &[(&[u8], &[u8])], signer: &str) -> Vec<u8> {
    let mut outer = SliceReader::new(der).unwrap();
    let certificate = outer.tlv_bytes().unwrap();
    let header_len = certificate.len() - content_len(certificate);
    let mut inner = SliceReader::new(&certificate[header_len..]).unwrap();
    let tbs = inner.tlv_bytes().unwrap();
    let algorithm = inner.tlv_bytes().unwrap();
    let mut content = tbs[tbs.len() - content_len(tbs)..].to_vec();
    for (old, new) in edits {
        let at = content.windows(old.len()).position(|w| w == *old).unwrap_or_else(|| panic!("edit target not found"));
        content.splice(at..at + old.len(), new.iter().copied());
    }
    let tbs = tlv(0x30, &content);
    let algorithm = if edits.iter().any(|(old, _)| *old == ED25519_ALG) { SHA1_WITH_RSA_ALG } else { algorithm };
    let signature = Ed25519KeyPair::from_seed_unchecked(&seed(signer)).unwrap().sign(&tbs);
    let bits = tlv(0x03, &[&[0u8][..], signature.as_ref()].concat());
    tlv(0x30, &[tbs.as_slice(), algorithm, &bits].concat())
}

fn content_len(tlv: &[u8]) -> usize {
    let first = tlv[1];
    if first < 0x80 {
        usize::from(first)
    } else {
        tlv[2..2 + usize::from(first & 0x7f)].iter().fold(0, |n, &b| n << 8 | usize::from(b))
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len.to_be_bytes().into_iter().skip_while(|&b| b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn pem(der: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::new();
    for chunk in der.chunks(3) {
        let n = chunk.iter().fold(0u32, |n, &b| n << 8 | u32::from(b)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}
