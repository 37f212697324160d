//! Identify the phone a certificate names, using `sipprov-identity` alone.
//!
//! ```text
//! cargo run -p sipprov-examples --bin identify_certificate -- phone.pem
//! ```
//! With no argument it makes a certificate the way Polycom does (CN = MAC) and reads it back.
#![allow(clippy::print_stdout)]

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use sipprov_identity::IdentityRule;

fn main() -> anyhow::Result<()> {
    let der = match std::env::args_os().nth(1) {
        Some(path) => CertificateDer::from_pem_file(&path)?.to_vec(),
        None => {
            let key = rcgen::KeyPair::generate()?;
            let mut params = rcgen::CertificateParams::default();
            params.distinguished_name = rcgen::DistinguishedName::new();
            params.distinguished_name.push(rcgen::DnType::CommonName, "0004F28B54F4");
            params.self_signed(&key)?.der().to_vec()
        }
    };
    // In production the rule comes from the trust anchor the chain verified to
    // (`sipprov_identity::TrustStore`); for a look at one file, guess it from the subject.
    let rule = IdentityRule::guess(&der)?;
    match rule.identify(&der) {
        Ok(identity) => {
            println!("mac {} (vendor {}, rule {rule})", identity.mac, identity.vendor);
            println!("key fingerprint {}", identity.spki_sha256_hex());
        }
        Err(reason) => println!("no identity under rule {rule}: {reason}"),
    }
    Ok(())
}
