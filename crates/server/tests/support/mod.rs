//! The harness the listener tests share: a PKI made with rcgen, an in-process server over an
//! in-memory store, and a rustls client that can connect from any loopback source address.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

use sipprov_fleet::{Fleet, ImageFiles};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use sipprov_admin::{AdminConfig, AdminServer};
use sipprov_credentials::{Account, Credentials, Keyring, Lifecycle, MemoryStore, Store, SystemClock};
use sipprov_identity::{IdentityRule, Mac, Oui, TrustStore, VendorTrust};
use sipprov_ratelimit::{Allowlist, Policy};
use sipprov_server::tls::ServerCertificate;
use sipprov_server::{GroupSettings, PhoneServer, PhoneServerConfig, Reloader, ServerState, Timeouts};
use sipprov_template::{Layer, LayeredSettings, Renderer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

pub type Issuer = CertifiedIssuer<'static, KeyPair>;

pub fn ca(name: &str) -> Issuer {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

pub struct Phone {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

pub fn phone(issuer: &Issuer, subject: &[(DnType, &str)]) -> Phone {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    for (ty, value) in subject {
        params.distinguished_name.push(ty.clone(), *value);
    }
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.signed_by(&key, issuer).unwrap();
    Phone { chain: vec![cert.der().clone()], key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())) }
}

/// A Yealink-layout phone: the MAC ends the serialNumber UUID.
pub fn yealink_phone(issuer: &Issuer, mac: &str) -> Phone {
    let serial = format!("ffffffff-ffff-ffff-fff0-{mac}");
    phone(issuer, &[(DnType::CommonName, "yealink.com"), (DnType::CustomDnType(vec![2, 5, 4, 5]), &serial)])
}

/// The harness's proxies: the loopback addresses of 127.0.77.0/24 speak PROXY v2.
pub fn proxy_from() -> Option<Allowlist> {
    Some(Allowlist::parse(["127.0.77.0/24"]).unwrap())
}

pub fn settings() -> LayeredSettings {
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", "https://prov.example.net").unwrap();
    settings
}

pub struct Harness {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub server_ca: CertificateDer<'static>,
    pub store: Arc<MemoryStore>,
    pub credentials: Arc<Credentials>,
    pub reloader: Reloader,
    pub admin_state: ServerState,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    serving: Option<tokio::task::JoinHandle<()>>,
}

/// The realm the harness's admin listener computes HA1 values for.
pub const REALM: &str = "sip.example.net";

impl Harness {
    pub async fn start(trust: TrustStore, timeouts: Timeouts) -> Self {
        Self::start_with_sources(trust, timeouts, None).await
    }

    /// A server that accepts connections only from `allowed_sources`.
    pub async fn start_with_sources(trust: TrustStore, timeouts: Timeouts, allowed_sources: Option<Allowlist>) -> Self {
        Self::start_full(trust, timeouts, allowed_sources, None, None, Policy::default()).await
    }

    /// A server that serves firmware images from `firmware`.
    pub async fn start_with_firmware(trust: TrustStore, firmware: std::path::PathBuf) -> Self {
        Self::start_full(trust, Timeouts::default(), None, Some(firmware), None, Policy::default()).await
    }

    /// A second node over the store of `first`: what a cluster sharing one database looks like.
    pub async fn start_sharing(trust: TrustStore, first: &Harness) -> Self {
        Self::start_full(trust, Timeouts::default(), None, None, Some(Arc::clone(&first.store)), Policy::default())
            .await
    }

    /// A server with rate limits and scan detection set by `limits`.
    pub async fn start_with_limits(trust: TrustStore, limits: Policy) -> Self {
        Self::start_full(trust, Timeouts::default(), None, None, None, limits).await
    }

    async fn start_full(
        trust: TrustStore,
        timeouts: Timeouts,
        allowed_sources: Option<Allowlist>,
        firmware: Option<std::path::PathBuf>,
        store: Option<Arc<MemoryStore>>,
        limits: Policy,
    ) -> Self {
        let server_ca = ca("test server CA");
        let server_key = KeyPair::generate().unwrap();
        let server_cert =
            CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&server_key, &server_ca).unwrap();
        let store = store.unwrap_or_default();
        let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
        let credentials = Arc::new(Credentials::new(
            Arc::clone(&store) as Arc<dyn Store>,
            Lifecycle::default(),
            Some(keyring),
            Arc::new(SystemClock),
        ));
        let certificate = ServerCertificate {
            chain: vec![server_cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        };
        let config = PhoneServerConfig {
            certificate: certificate.clone(),
            rsa_certificate: None,
            trust,
            registrar: "sip.example.net".into(),
            renderer: Arc::new(Renderer::shipped().unwrap()),
            settings: settings(),
            group_settings: GroupSettings::default(),
            fleet: Arc::new(
                Fleet::open(
                    Arc::clone(&store) as Arc<dyn Store>,
                    Arc::new(SystemClock),
                    firmware.map(|directory| ImageFiles::new(directory, 1 << 30)),
                )
                .unwrap(),
            ),
            credentials: Arc::clone(&credentials),
            timeouts,
            allowed_sources,
            proxy_from: proxy_from(),
            limits,
        };
        let server = PhoneServer::bind("127.0.0.1:0".parse().unwrap(), config).await.unwrap();
        let addr = server.local_addr();
        let reloader = server.reloader();
        let admin_state = server.admin_state();
        let admin_config = AdminConfig {
            certificate: certificate.clone(),
            realm: REALM.into(),
            timeouts,
            limits: Policy::default(),
            stale_days: 7,
            outbox: None,
            resync: None,
            portal: None,
        };
        let admin = AdminServer::bind("127.0.0.1:0".parse().unwrap(), admin_config, admin_state.clone()).await.unwrap();
        let admin_addr = admin.local_addr();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let until_stopped = |mut stopped: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        let phones = tokio::spawn(server.serve(until_stopped(stopped.clone())));
        tokio::spawn(admin.serve(until_stopped(stopped)));
        let serving = tokio::spawn(async move {
            phones.await.unwrap().unwrap();
        });
        Self {
            addr,
            admin_addr,
            server_ca: server_ca.der().clone(),
            store,
            credentials,
            reloader,
            admin_state,
            stop: Some(stop),
            serving: Some(serving),
        }
    }

    /// Asks both listeners to stop; the returned handle completes when the phone listener has
    /// drained.
    pub fn shut_down(&mut self) -> tokio::task::JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            stop.send_replace(true);
        }
        self.serving.take().unwrap()
    }

    /// An admin API call with `token` (if any): status and body.
    pub async fn admin(&self, token: Option<&str>, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut tls = tls_connect(self.admin_addr, &self.server_ca, "127.0.0.1".parse().unwrap(), None).await.unwrap();
        let authorization = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\n{authorization}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        tls.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        let _ = tls.read_to_end(&mut response).await;
        let text = String::from_utf8(response).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }

    /// A TLS connection to the admin listener, for requests written by hand.
    pub async fn admin_tls(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        tls_connect(self.admin_addr, &self.server_ca, "127.0.0.1".parse().unwrap(), None).await.unwrap()
    }

    /// A `GET` of an admin path that answers text (`/metrics`); panics unless it is a 200.
    pub async fn admin_json_text(&self, token: &str, path: &str) -> String {
        let (status, text) = self.admin(Some(token), "GET", path, "").await;
        assert_eq!(status, 200, "GET {path}: {text}");
        text
    }

    /// An admin call whose body is JSON; panics unless the status is `expected`.
    pub async fn admin_json(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: &str,
        expected: u16,
    ) -> serde_json::Value {
        let (status, text) = self.admin(Some(token), method, path, body).await;
        assert_eq!(status, expected, "{method} {path}: {text}");
        if text.trim().is_empty() { serde_json::Value::Null } else { serde_json::from_str(&text).unwrap() }
    }

    /// A client-side view of a running server (address and CA), for probes in spawned tasks.
    pub fn client_only(addr: SocketAddr, server_ca: CertificateDer<'static>) -> ClientOnly {
        ClientOnly { addr, server_ca }
    }

    pub fn enrol(&self, mac: &str) {
        let account = Account::new(1, "1001", format!("sp-{mac}"), "Desk");
        assert!(self.credentials.enrol(mac.parse::<Mac>().unwrap(), vec![account], Vec::new()).unwrap().is_some());
    }

    pub async fn tls(&self, phone: Option<&Phone>) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        self.tls_from("127.0.0.1".parse().unwrap(), phone).await
    }

    /// A TLS connection from the loopback address `source` (any of 127.0.0.0/8).
    pub async fn tls_from(
        &self,
        source: IpAddr,
        phone: Option<&Phone>,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        tls_connect(self.addr, &self.server_ca, source, phone).await
    }

    /// A TLS 1.2 connection presenting `phone`'s certificate.
    pub async fn tls12(&self, phone: &Phone) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let config = client_config(&self.server_ca, Some(phone), &[&rustls::version::TLS12]);
        let tcp = TcpStream::connect(self.addr).await?;
        tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
    }

    /// Sends one request and returns the whole response with the Date header removed.
    pub async fn request(&self, phone: Option<&Phone>, method: &str, path: &str) -> std::io::Result<String> {
        let mut tls = self.tls(phone).await?;
        let request = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        tls.read_to_end(&mut response).await?;
        let text = String::from_utf8(response).unwrap();
        Ok(text.lines().filter(|l| !l.starts_with("date:")).collect::<Vec<_>>().join("\n"))
    }

    pub async fn get(&self, phone: &Phone, path: &str) -> String {
        self.request(Some(phone), "GET", path).await.unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send_replace(true);
        }
    }
}

pub fn yealink_trust(vendor_ca: &Issuer) -> TrustStore {
    let yealink = VendorTrust::from_bundle("yealink-ca.pem", vendor_ca.pem().as_bytes(), IdentityRule::Yealink)
        .unwrap()
        .with_allowed_ouis(vec!["00:15:65".parse::<Oui>().unwrap()]);
    TrustStore::new(vec![yealink]).unwrap()
}

pub const OWN: &str = "001565000062";
pub const OTHER: &str = "001565000063";

/// Reads until the server closes the connection; fails if it stays open past `limit`.
pub async fn closed_within(stream: &mut (impl AsyncReadExt + Unpin), limit: Duration) -> bool {
    let mut buf = [0u8; 512];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// A TCP connection to `addr` from the loopback address `source`.
pub async fn connect_from(source: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(addr).await
}

/// What a client needs to reach a harness server.
pub struct ClientOnly {
    addr: SocketAddr,
    server_ca: CertificateDer<'static>,
}

impl ClientOnly {
    /// A TLS connection from `source`, presenting `phone`'s certificate if any.
    pub async fn tls_from(
        &self,
        source: IpAddr,
        phone: Option<&Phone>,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        tls_connect(self.addr, &self.server_ca, source, phone).await
    }
}

async fn tls_connect(
    addr: SocketAddr,
    server_ca: &CertificateDer<'static>,
    source: IpAddr,
    phone: Option<&Phone>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    tls_connect_after(addr, server_ca, source, &[], phone).await
}

/// A TLS connection from `source` that first sends `prefix` in the clear (a PROXY header).
pub async fn tls_connect_after(
    addr: SocketAddr,
    server_ca: &CertificateDer<'static>,
    source: IpAddr,
    prefix: &[u8],
    phone: Option<&Phone>,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let config = client_config(server_ca, phone, rustls::DEFAULT_VERSIONS);
    let mut tcp = connect_from(source, addr).await?;
    tcp.write_all(prefix).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(ServerName::try_from("localhost").unwrap(), tcp).await
}

/// A client trusting `server_ca`, presenting `phone`'s certificate if any, speaking `versions`.
fn client_config(
    server_ca: &CertificateDer<'static>,
    phone: Option<&Phone>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(server_ca.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots);
    match phone {
        Some(phone) => builder.with_client_auth_cert(phone.chain.clone(), phone.key.clone_key()).unwrap(),
        None => builder.with_no_client_auth(),
    }
}
