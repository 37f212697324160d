//! A throwaway PKI for the demo: a server CA, a server certificate, a device CA and phones.
//!
//! Everything is ECDSA P-256 and lives only in the demo directory, written with mode 0600 in
//! directories of mode 0700. Nothing here is meant for production: real phones carry their vendor's certificates.

use std::path::Path;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use sipprov_identity::Mac;

use crate::files::{create_private_dir, write_new_file as write_file};

/// Generates the demo PKI under `pki_dir` for the given phones.
pub(crate) fn generate(pki_dir: &Path, phones: &[Mac]) -> anyhow::Result<()> {
    create_private_dir(&pki_dir.join("devices"))?;

    let server_ca = certificate_authority("sipprov demo server CA")?;
    write_file(&pki_dir.join("server-ca.pem"), server_ca.pem().as_bytes(), 0o600)?;

    let server_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    server.distinguished_name = name("sipprov demo server");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let server = server.signed_by(&server_key, &server_ca)?;
    write_file(&pki_dir.join("server.pem"), server.pem().as_bytes(), 0o600)?;
    write_file(&pki_dir.join("server.key"), server_key.serialize_pem().as_bytes(), 0o600)?;

    let device_ca = certificate_authority("sipprov demo device CA")?;
    write_file(&pki_dir.join("device-ca.pem"), device_ca.pem().as_bytes(), 0o600)?;
    for mac in phones {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let mut phone = CertificateParams::default();
        // Uppercase, as Polycom and Snom write it: the server canonicalises.
        phone.distinguished_name = name(&mac.to_upper_hex());
        phone.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        phone.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let cert = phone.signed_by(&key, &device_ca)?;
        let devices = pki_dir.join("devices");
        write_file(&devices.join(format!("{mac}.pem")), cert.pem().as_bytes(), 0o600)?;
        write_file(&devices.join(format!("{mac}.key")), key.serialize_pem().as_bytes(), 0o600)?;
    }
    Ok(())
}

fn certificate_authority(common_name: &str) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)?)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::OrganizationName, "sipprov demo");
    name.push(DnType::CommonName, common_name);
    name
}
