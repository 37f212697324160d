//! Phones of any MAC for the end-to-end tests: a device CA of the test's own, added to the
//! daemon's trust before it starts.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};

/// A device CA of the test's own, trusted for Grandstream's OUI `00:0b:82` (rule `cn-mac`),
/// writing each phone's certificate and key into the daemon's directory.
pub struct PhoneCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
}

impl PhoneCa {
    /// Creates the CA in `dir` and adds it to the daemon's configuration there.
    pub fn install(dir: &Path) -> Self {
        let mut params = CertificateParams::default();
        params.distinguished_name = name("sipprov test device CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer =
            CertifiedIssuer::self_signed(params, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap()).unwrap();
        std::fs::write(dir.join("suite-ca.pem"), issuer.pem()).unwrap();
        let path = dir.join("sipprov.toml");
        let config = std::fs::read_to_string(&path).unwrap().replace(
            "[store]",
            "[[trust]]\nbundle = \"suite-ca.pem\"\nrule = \"cn-mac\"\nallowed_ouis = [\"00:0b:82\"]\n\n[store]",
        );
        std::fs::write(path, config).unwrap();
        Self { issuer, dir: dir.to_owned() }
    }

    /// A certificate for `mac` with a fresh key, written as `<label>.pem` and `<label>.key`.
    pub fn phone(&self, mac: &str, label: &str) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = name(mac);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let (cert_path, key_path) = (self.dir.join(format!("{label}.pem")), self.dir.join(format!("{label}.key")));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}
