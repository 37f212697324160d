//! Embed the provisioning server in your own program, using `sipprov-server` alone.
//!
//! Generates a throwaway PKI in memory, starts the phone listener on a free loopback port with a
//! SQLite store in a temporary directory, fetches one phone's config over mutual TLS with a
//! rustls client, prints it, and stops.
//!
//! ```text
//! cargo run -p sipprov-examples --bin embed_server
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, SystemClock};
use sipprov_fleet::Fleet;
use sipprov_identity::{IdentityRule, Mac, TrustStore, VendorTrust};
use sipprov_server::tls::ServerCertificate;
use sipprov_server::{GroupSettings, PhoneServer, PhoneServerConfig, Timeouts};
use sipprov_store_sqlite::SqliteStore;
use sipprov_template::{Layer, LayeredSettings, Renderer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mac: Mac = "001565000001".parse()?;

    // A server CA + server certificate, and a device CA + one phone certificate (CN = MAC).
    let server_ca = certificate_authority("example server CA")?;
    let server_key = KeyPair::generate()?;
    let server_cert = CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&server_key, &server_ca)?;
    let device_ca = certificate_authority("example device CA")?;
    let phone_key = KeyPair::generate()?;
    let mut phone = CertificateParams::default();
    phone.distinguished_name.push(DnType::CommonName, mac.to_upper_hex());
    phone.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let phone_cert = phone.signed_by(&phone_key, &device_ca)?;

    // The credential service over a SQLite store, with the phone enrolled. The sealing key would
    // come from a file kept apart from the database; here it is generated.
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("example.db"))?);
    let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
    let credentials =
        Arc::new(Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), Arc::new(SystemClock)));
    // Firmware under central control, over the same store; no image directory here.
    let fleet = Arc::new(Fleet::open(store, Arc::new(SystemClock), None)?);
    let account = Account::new(1, "1001", format!("sp-{mac}"), "Reception");
    credentials.enrol(mac, vec![account], Vec::new())?;

    let config = PhoneServerConfig {
        certificate: ServerCertificate { chain: vec![server_cert.der().clone()], key: private_key(&server_key) },
        rsa_certificate: None,
        trust: TrustStore::new(vec![VendorTrust::from_bundle(
            "example device CA",
            device_ca.der(),
            IdentityRule::CnMac,
        )?])?,
        registrar: "sip.example.net".into(),
        renderer: Arc::new(Renderer::shipped()?),
        settings: {
            let mut settings = LayeredSettings::new();
            settings.set(Layer::Global, "provisioning_url", "https://localhost")?;
            settings
        },
        group_settings: GroupSettings::default(),
        fleet,
        credentials,
        timeouts: Timeouts::default(),
        allowed_sources: None,
        proxy_from: None,
        limits: sipprov_ratelimit::Policy::default(),
    };
    let server = PhoneServer::bind("127.0.0.1:0".parse()?, config).await?;
    let addr = server.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(async {
        let _ = stopped.await;
    }));

    // The phone's side: trust the server CA, present the device certificate.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca.der().clone())?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![phone_cert.der().clone()], private_key(&phone_key))?;
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(client)).connect(ServerName::try_from("localhost")?, tcp).await?;
    tls.write_all(format!("GET /{mac}.cfg HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes())
        .await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    println!("{response}");

    let _ = stop.send(());
    serving.await??;
    Ok(())
}

fn certificate_authority(name: &str) -> anyhow::Result<CertifiedIssuer<'static, KeyPair>> {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    Ok(CertifiedIssuer::self_signed(params, KeyPair::generate()?)?)
}

fn private_key(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}
