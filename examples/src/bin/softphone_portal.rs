//! Run sipprov's softphone portal in your own service, using `sipprov-portal` alone: your
//! product renders the softphone's config itself (here a fixed Linphone file) through
//! `SoftphoneConfigs`; the portal does users, logins, the one-time reveal and one-time links.
//!
//! The program enrols a softphone, creates a user and activates it (as the user would, from
//! the activation link), makes a one-time provisioning link and fetches it twice, as a
//! softphone would: the first time it gets the config, the second time the uniform 404.
//!
//! ```text
//! cargo run -p sipprov-examples --bin softphone_portal
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sipprov_credentials::{Account, Credentials, DeviceProfile, Keyring, Lifecycle, SystemClock};
use sipprov_fleet::Fleet;
use sipprov_identity::Mac;
use sipprov_portal::{PortalConfig, PortalServer, SecondFactor, ServerState, SessionPolicy, Timeouts};
use sipprov_ratelimit::Policy;
use sipprov_serving::tls::ServerCertificate;
use sipprov_serving::{Admission, LinkClient, Metrics, SoftphoneConfig, SoftphoneConfigs};
use sipprov_store_sqlite::SqliteStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Your product's renderer: here one Linphone file, the account and its password.
struct OwnConfigs(Arc<Credentials>);

impl SoftphoneConfigs for OwnConfigs {
    fn deliver(&self, mac: &Mac, _client: &LinkClient, _file: Option<&str>) -> Result<Option<SoftphoneConfig>, String> {
        let fetched = self.0.fetch(mac, link_fetch()).map_err(|e| e.to_string())?;
        let sipprov_credentials::Fetched::Config { accounts, secrets: Some(secrets), .. } = fetched else {
            return Ok(None);
        };
        let (account, password) = (&accounts[0], secrets.sip_password(accounts[0].line).map(|p| p.expose().to_owned()));
        let body = format!(
            "<config xmlns=\"http://www.linphone.org/xsds/lpconfig.xsd\">\n\
             <section name=\"misc\"><entry name=\"transient_provisioning\" overwrite=\"true\">1</entry></section>\n\
             <section name=\"auth_info_0\"><entry name=\"username\" overwrite=\"true\">{}</entry>\
             <entry name=\"passwd\" overwrite=\"true\">{}</entry></section>\n</config>\n",
            account.user_name,
            password.unwrap_or_default()
        );
        Ok(Some(SoftphoneConfig { body, content_type: "application/xml" }))
    }
}

/// A fetch through a one-time link: no client certificate, ITSPA rating 4.
fn link_fetch() -> sipprov_credentials::FetchRequest {
    sipprov_credentials::FetchRequest {
        spki_sha256: [0; 32],
        peer: "127.0.0.1".into(),
        user_agent: None,
        certificate_vendor: None,
        rating: 4,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(SqliteStore::open(dir.path().join("example.db"))?);
    let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
    let credentials =
        Arc::new(Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), Arc::new(SystemClock)));
    let softphone: Mac = "02:00:00:00:00:01".parse()?;
    let profile = DeviceProfile { vendor: Some("linphone".into()), ..DeviceProfile::default() };
    credentials.enrol_with_profile(
        softphone,
        vec![Account::new(1, "3001", "3001", "Alice")],
        profile,
        vec![],
        "example",
    )?;

    // The operator creates a user; the user activates it from the link (here, directly).
    let created = credentials.create_portal_user(
        "alice",
        "alice@example.net",
        vec![softphone],
        Duration::from_secs(3600),
        "example",
    )?;
    let (_, activation) = created.map_err(anyhow::Error::msg)?;
    let activated =
        credentials.activate_portal_user("alice", activation.expose(), "violet tractor mountain", "127.0.0.1")?;
    println!("activated: {}", activated.is_ok());

    let metrics = Arc::new(Metrics::default());
    let admission = Arc::new(Admission::new(Policy::default(), Arc::clone(&credentials), Arc::clone(&metrics))?);
    let fleet = Arc::new(Fleet::open(store, Arc::new(SystemClock), None)?);
    let state = ServerState { credentials: Arc::clone(&credentials), admission, metrics, fleet };

    let mut ca = CertificateParams::default();
    ca.distinguished_name.push(DnType::CommonName, "example portal CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(vec!["localhost".to_owned()])?.signed_by(&key, &ca)?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    drop(listener);
    let config = PortalConfig {
        certificate: ServerCertificate {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        },
        public_url: format!("https://localhost:{port}"),
        registrar: "sip.example.net".into(),
        brand: "Example Telecom".into(),
        link_ttl: sipprov_portal::DEFAULT_LINK_TTL,
        sessions: SessionPolicy::default(),
        second_factor: SecondFactor::Optional,
        timeouts: Timeouts::default(),
    };
    let configs = Arc::new(OwnConfigs(Arc::clone(&credentials)));
    let portal = PortalServer::bind(format!("127.0.0.1:{port}").parse()?, config, state, configs).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(portal.serve(async {
        let _ = stopped.await;
    }));

    // A one-time link, as the user's "Set up with a QR code" makes it; a softphone fetches it.
    let (link, _) =
        credentials.create_link(&softphone, Duration::from_secs(900), "example")?.map_err(anyhow::Error::msg)?;
    let path = format!("/p/{}", link.expose());
    let (status, body) = get(&ca, port, &path).await?;
    println!("first fetch: {status}");
    println!("{body}");
    let (status, _) = get(&ca, port, &path).await?;
    println!("second fetch: {status}");

    let _ = stop.send(());
    serving.await??;
    Ok(())
}

/// One HTTPS GET: the status line and the body.
async fn get(ca: &CertifiedIssuer<'static, KeyPair>, port: u16, path: &str) -> anyhow::Result<(String, String)> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone())?;
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let mut tls =
        tokio_rustls::TlsConnector::from(Arc::new(client)).connect(ServerName::try_from("localhost")?, tcp).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    tls.read_to_string(&mut response).await?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((head.lines().next().unwrap_or_default().to_owned(), body.to_owned()))
}
