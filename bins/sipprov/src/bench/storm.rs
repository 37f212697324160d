//! `sipprov bench storm`: distinct phones connecting at once, each connection a full TLS
//! handshake with the phone's own certificate and one GET of the phone's own file.
//!
//! A closed loop: `concurrency` clients, each starting its next connection when the last one
//! ends, phones taken in turn. Session resumption is off, so every connection pays the whole
//! handshake, as phones booting after a power cut do. One thread: pin it to its own core.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rustls::ClientConfig;
use rustls::client::Resumption;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::fleet::Phone;

/// How a storm is run.
pub(crate) struct Storm {
    pub(crate) target: SocketAddr,
    pub(crate) server_ca: CertificateDer<'static>,
    pub(crate) phones: Vec<Phone>,
    pub(crate) concurrency: usize,
    pub(crate) duration: Duration,
    /// TLS 1.2 only (else 1.3, as the server prefers).
    pub(crate) tls12: bool,
    /// Each phone once, then stop (first deliveries), even before `duration`.
    pub(crate) once: bool,
    /// A scanner: each phone asks for another phone's file (its own MAC with the last bit
    /// flipped) instead of its own; every answer is the uniform 404, counted as `status 404`.
    pub(crate) scan: bool,
}

/// What a storm measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    pub(crate) completed: u64,
    pub(crate) seconds: f64,
    pub(crate) latencies_ms: Vec<f64>,
    pub(crate) errors: BTreeMap<String, u64>,
}

/// A connection may take this long before it counts as a timeout.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

impl Storm {
    /// Runs the storm on a single-threaded runtime and returns what it measured.
    pub(crate) fn run(self) -> anyhow::Result<Report> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(self.drive())
    }

    async fn drive(self) -> anyhow::Result<Report> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let server =
            Arc::new(ServerCertificateOnly { expected: self.server_ca.clone(), provider: Arc::clone(&provider) });
        let versions: &[&rustls::SupportedProtocolVersion] =
            if self.tls12 { &[&rustls::version::TLS12] } else { &[&rustls::version::TLS13, &rustls::version::TLS12] };
        let mut clients = Vec::with_capacity(self.phones.len());
        for phone in &self.phones {
            let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_protocol_versions(versions)?
                .dangerous()
                .with_custom_certificate_verifier(Arc::clone(&server) as Arc<dyn ServerCertVerifier>)
                .with_client_auth_cert(vec![phone.certificate.clone()], phone.key.clone_key())?;
            config.resumption = Resumption::disabled();
            let mac = if self.scan {
                // Another phone of the same OUI: the last bit flipped.
                let [a, b, c, d, e, f] = phone.mac.bytes();
                sipprov_identity::Mac::from_bytes([a, b, c, d, e, f ^ 1])
            } else {
                phone.mac
            };
            let request = format!(
                "GET /{mac}.cfg HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: sipprov-bench\r\nConnection: close\r\n\r\n"
            );
            clients.push((TlsConnector::from(Arc::new(config)), request));
        }
        let clients = Arc::new(clients);
        let next = Arc::new(AtomicUsize::new(0));
        let started = Instant::now();
        let deadline = started + self.duration;
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.concurrency.max(1) {
            let (clients, next, target, once) = (Arc::clone(&clients), Arc::clone(&next), self.target, self.once);
            tasks.spawn(async move {
                let mut report = Report::default();
                while Instant::now() < deadline {
                    let turn = next.fetch_add(1, Ordering::Relaxed);
                    if once && turn >= clients.len() {
                        break;
                    }
                    let (connector, request) = &clients[turn % clients.len()];
                    let began = Instant::now();
                    match tokio::time::timeout(CONNECTION_TIMEOUT, fetch(connector, target, request)).await {
                        Ok(Ok(())) => {
                            report.completed += 1;
                            report.latencies_ms.push(began.elapsed().as_secs_f64() * 1000.0);
                        }
                        Ok(Err(kind)) => *report.errors.entry(kind).or_default() += 1,
                        Err(_) => *report.errors.entry("timeout".into()).or_default() += 1,
                    }
                }
                report
            });
        }
        let mut total = Report::default();
        while let Some(report) = tasks.join_next().await {
            let report = report?;
            total.completed += report.completed;
            total.latencies_ms.extend(report.latencies_ms);
            for (kind, count) in report.errors {
                *total.errors.entry(kind).or_default() += count;
            }
        }
        total.seconds = started.elapsed().as_secs_f64();
        Ok(total)
    }
}

/// How the load generator checks the server: that it presents a certificate issued by the bench
/// server CA (by issuer name), without verifying signatures. A phone verifies the server; the
/// bench must not, or the load generator's own signature checks, on its one core, would cap
/// the rate it can measure. The server's work is the same either way.
#[derive(Debug)]
struct ServerCertificateOnly {
    expected: CertificateDer<'static>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for ServerCertificateOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls_pki_types::UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        // A certificate issued by the bench CA carries the CA's subject as its issuer; a
        // substring test on the DER is enough to catch a wrong target.
        let ca_name = subject_of(&self.expected);
        if ca_name.is_some_and(|name| end_entity.windows(name.len()).any(|window| window == name)) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General("the target's certificate was not issued by the bench server CA".into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The DER subject name of a certificate (the bytes a child carries as its issuer).
fn subject_of(certificate: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let anchor = webpki::anchor_from_trusted_cert(certificate).ok()?;
    Some(anchor.subject.as_ref().to_vec())
}

/// One connection: TCP, the TLS handshake, the GET, the whole response. An error names its kind.
async fn fetch(connector: &TlsConnector, target: SocketAddr, request: &str) -> Result<(), String> {
    let tcp = TcpStream::connect(target).await.map_err(|_| "connect".to_owned())?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from("127.0.0.1").map_err(|_| "tls".to_owned())?;
    let mut tls = connector.connect(name, tcp).await.map_err(|_| "tls".to_owned())?;
    tls.write_all(request.as_bytes()).await.map_err(|_| "io".to_owned())?;
    let mut response = Vec::with_capacity(8192);
    // A server that sends the whole response and closes without close_notify is still done.
    let read = tls.read_to_end(&mut response).await;
    let status = response.get(9..12).and_then(|code| std::str::from_utf8(code).ok());
    match (status, read) {
        (Some("200"), _) => Ok(()),
        (Some(code), _) => Err(format!("status {code}")),
        (None, Err(_)) => Err("io".into()),
        (None, Ok(_)) => Err("no response".into()),
    }
}

impl Report {
    /// Connections completed per second.
    pub(crate) fn rate(&self) -> f64 {
        if self.seconds > 0.0 { self.completed as f64 / self.seconds } else { 0.0 }
    }

    /// The latency at `quantile` (0..=1) of the completed connections, in milliseconds.
    pub(crate) fn percentile(&self, quantile: f64) -> f64 {
        let mut sorted = self.latencies_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let Some(last) = sorted.len().checked_sub(1) else { return 0.0 };
        sorted[((last as f64) * quantile).round() as usize]
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "connections": self.completed,
            "seconds": round(self.seconds),
            "conn_per_s": round(self.rate()),
            "p50_ms": round(self.percentile(0.50)),
            "p90_ms": round(self.percentile(0.90)),
            "p99_ms": round(self.percentile(0.99)),
            "max_ms": round(self.percentile(1.0)),
            "errors": self.errors,
        })
    }

    /// Reads back what [`Report::to_json`] wrote (from a storm run as a child process).
    pub(crate) fn summary_of(value: &Value) -> Summary {
        Summary {
            conn_per_s: value["conn_per_s"].as_f64().unwrap_or(0.0),
            p99_ms: value["p99_ms"].as_f64().unwrap_or(0.0),
            errors: value["errors"].as_object().map_or(0, |errors| errors.values().filter_map(Value::as_u64).sum()),
        }
    }
}

/// The figures a comparison needs from one storm.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Summary {
    pub(crate) conn_per_s: f64,
    pub(crate) p99_ms: f64,
    pub(crate) errors: u64,
}

pub(crate) fn round(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
