//! Mount sipprov's admin API in your own service, using `sipprov-admin` alone: no phone listener.
//!
//! Your service already has the credential service over its store; it adds the admission (bans,
//! limits) and metrics the API manages, binds the admin listener on a free loopback port, and
//! here calls it like an operator's tool would: enrol a device with two accounts, then list.
//!
//! ```text
//! cargo run -p sipprov-examples --bin mount_admin_api
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sipprov_admin::{AdminConfig, AdminServer, ServerState, Timeouts};
use sipprov_credentials::{Credentials, Keyring, Lifecycle, Role, SystemClock};
use sipprov_fleet::Fleet;
use sipprov_ratelimit::Policy;
use sipprov_serving::tls::ServerCertificate;
use sipprov_serving::{Admission, Metrics};
use sipprov_store_sqlite::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Your service's credential service; the sealing key would come from its own file.
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("example.db"))?);
    let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
    let credentials =
        Arc::new(Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), Arc::new(SystemClock)));
    let token = credentials.create_api_token("example", Role::Admin, "example")?;

    // What the admin API manages besides the inventory: bans and limits, metrics, and the
    // firmware catalogue (here without an image directory: targets and reports only).
    let metrics = Arc::new(Metrics::default());
    let admission = Arc::new(Admission::new(Policy::default(), Arc::clone(&credentials), Arc::clone(&metrics))?);
    let fleet = Arc::new(Fleet::open(store, Arc::new(SystemClock), None)?);
    let state = ServerState { credentials, admission, metrics, fleet };

    // The admin listener's certificate, from a CA the operator's tools trust.
    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "example admin CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&key, &ca)?;
    let config = AdminConfig {
        certificate: ServerCertificate {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        },
        realm: "sip.example.net".into(),
        timeouts: Timeouts::default(),
        limits: Policy::default(),
        stale_days: 7,
        outbox: None,
        resync: None,
        portal: None,
    };
    let admin = AdminServer::bind("127.0.0.1:0".parse()?, config, state).await?;
    let addr = admin.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(admin.serve(async {
        let _ = stopped.await;
    }));

    let device = r#"{"mac": "00:0b:82:00:08:12", "vendor": "grandstream", "model": "HT812",
        "accounts": [{"user_name": "2001"}, {"user_name": "2002", "display_name": "Fax"}]}"#;
    let (status, _) = call(&ca, addr, token.expose(), "POST", "/v1/devices", device).await?;
    println!("enrol: {status}");
    let (status, body) = call(&ca, addr, token.expose(), "GET", "/v1/devices/000b82000812", "").await?;
    println!("show: {status}");
    println!("{body}");

    let _ = stop.send(());
    serving.await??;
    Ok(())
}

/// One HTTPS call with a bearer token: the status line and the body.
async fn call(
    ca: &CertifiedIssuer<'static, KeyPair>,
    addr: std::net::SocketAddr,
    token: &str,
    method: &str,
    path: &str,
    body: &str,
) -> anyhow::Result<(String, String)> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(client)).connect(ServerName::try_from("localhost")?, tcp).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((head.lines().next().unwrap_or_default().to_owned(), body.to_owned()))
}
