//! The phones a benchmark plays: a throwaway PKI and one certificate per phone, cached on disk.
//!
//! Generating thousands of keys (RSA-2048 above all) takes longer than a benchmark run, so the
//! PKI is made once in the bench directory and reused; asking for more phones than are cached
//! adds the missing ones. Phones are `CN = MAC` certificates in Yealink's OUI (00:15:65), so a
//! server with a `cn-mac` anchor serves them Yealink files at `/{mac}.cfg`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sipprov_identity::Mac;

/// The key type of the phones' certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyKind {
    /// ECDSA P-256, as most current phones.
    #[value(name = "ecdsa-p256")]
    EcdsaP256,
    /// RSA-2048, as older phones.
    #[value(name = "rsa-2048")]
    Rsa2048,
}

impl KeyKind {
    fn name(self) -> &'static str {
        match self {
            KeyKind::EcdsaP256 => "ecdsa-p256",
            KeyKind::Rsa2048 => "rsa-2048",
        }
    }
}

/// One phone: its MAC, certificate and key.
pub(crate) struct Phone {
    pub(crate) mac: Mac,
    pub(crate) certificate: CertificateDer<'static>,
    pub(crate) key: PrivateKeyDer<'static>,
}

/// The bench directory: its PKI files and its phones.
pub(crate) struct Fleet {
    dir: PathBuf,
}

impl Fleet {
    /// Opens the bench directory, creating the PKI on first use.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let fleet = Self { dir: dir.to_owned() };
        if !fleet.path("device-ca.key").exists() {
            fleet.create_pki()?;
        }
        Ok(fleet)
    }

    pub(crate) fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// The server CA's certificate, which clients verify the server against.
    pub(crate) fn server_ca(&self) -> anyhow::Result<CertificateDer<'static>> {
        read_certificate(&self.path("server-ca.pem"))
    }

    /// The server's certificate and key (ECDSA P-256, for `localhost` and `127.0.0.1`).
    pub(crate) fn server_certificate(&self) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
        let key = PrivateKeyDer::from_pem_file(self.path("server.key")).context("reading the bench server key")?;
        Ok((vec![read_certificate(&self.path("server.pem"))?], key))
    }

    /// The device CA's certificate: a server must trust it (`cn-mac`) to serve the phones.
    pub(crate) fn device_ca_path(&self) -> PathBuf {
        self.path("device-ca.pem")
    }

    /// Phones `offset .. offset + count` of `kind`, generating those not cached yet.
    pub(crate) fn phones(&self, kind: KeyKind, offset: usize, count: usize) -> anyhow::Result<Vec<Phone>> {
        let file = self.path(&format!("phones-{}.pem", kind.name()));
        let text = fs::read_to_string(&file).unwrap_or_default();
        let mut phones = parse_phones(&text)?;
        if phones.len() < offset + count {
            let issuer = self.device_ca()?;
            let mut out = fs::OpenOptions::new().create(true).append(true).open(&file)?;
            for index in phones.len()..offset + count {
                let (phone, pem) = new_phone(&issuer, index, kind)?;
                out.write_all(pem.as_bytes())?;
                phones.push(phone);
            }
        }
        Ok(phones.into_iter().skip(offset).take(count).collect())
    }

    /// The device CA as an issuer: its name and key are all that signing a phone needs, and
    /// a phone so signed verifies under the CA certificate on disk.
    fn device_ca(&self) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
        let key = KeyPair::from_pem(&fs::read_to_string(self.path("device-ca.key"))?)?;
        Ok(CertifiedIssuer::self_signed(authority_params("sipprov bench device CA"), key)?)
    }

    fn create_pki(&self) -> anyhow::Result<()> {
        let server_ca = authority("sipprov bench server CA")?;
        let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
        server.distinguished_name = name("sipprov bench server");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let server = server.signed_by(&server_key, &server_ca)?;
        let device_ca = authority("sipprov bench device CA")?;
        for (file, text) in [
            ("server-ca.pem", server_ca.pem()),
            ("server.pem", server.pem()),
            ("server.key", server_key.serialize_pem()),
            ("device-ca.pem", device_ca.pem()),
            ("device-ca.key", device_ca.key().serialize_pem()),
        ] {
            fs::write(self.path(file), text)?;
        }
        Ok(())
    }
}

/// The MAC of phone `index`: Yealink's OUI and the index plus one.
pub(crate) fn mac_of(index: usize) -> Mac {
    let [_, high, mid, low] = u32::try_from(index + 1).unwrap_or(u32::MAX).to_be_bytes();
    Mac::from_bytes([0x00, 0x15, 0x65, high, mid, low])
}

fn new_phone(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    index: usize,
    kind: KeyKind,
) -> anyhow::Result<(Phone, String)> {
    let key = match kind {
        KeyKind::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?,
        KeyKind::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)?,
    };
    let mac = mac_of(index);
    let mut params = CertificateParams::default();
    params.distinguished_name = name(&mac.to_upper_hex());
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let certificate = params.signed_by(&key, issuer)?;
    let pem = format!("{}{}", certificate.pem(), key.serialize_pem());
    let key = PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| anyhow::anyhow!("phone key: {e}"))?;
    Ok((Phone { mac, certificate: certificate.der().clone(), key }, pem))
}

/// Reads `phones-*.pem`: for each phone, its certificate then its key.
fn parse_phones(text: &str) -> anyhow::Result<Vec<Phone>> {
    let certificates: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(text.as_bytes()).collect::<Result<_, _>>().context("the cached phones")?;
    let keys: Vec<PrivateKeyDer<'static>> =
        PrivateKeyDer::pem_slice_iter(text.as_bytes()).collect::<Result<_, _>>().context("the cached phones' keys")?;
    if certificates.len() != keys.len() {
        bail!("the cached phones file is damaged: {} certificates, {} keys; delete it", certificates.len(), keys.len());
    }
    Ok(certificates
        .into_iter()
        .zip(keys)
        .enumerate()
        .map(|(index, (certificate, key))| Phone { mac: mac_of(index), certificate, key })
        .collect())
}

fn read_certificate(path: &Path) -> anyhow::Result<CertificateDer<'static>> {
    CertificateDer::from_pem_file(path).with_context(|| format!("reading {}", path.display()))
}

fn authority(common_name: &str) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    Ok(CertifiedIssuer::self_signed(authority_params(common_name), key)?)
}

fn authority_params(common_name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "sipprov bench");
    name.push(DnType::CommonName, common_name);
    name
}
