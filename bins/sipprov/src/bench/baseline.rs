//! `sipprov bench baseline`: a bare rustls + hyper server with the TLS configuration sipprov's
//! phone listener has (aws-lc-rs, TLS 1.3 and 1.2, client certificates required and verified
//! against the bench device CA), answering every request with one fixed 4 KB body. What a
//! provisioning server costs beyond the handshake is measured against it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::fleet::Fleet;

/// The body every request gets: the size of a typical phone config.
const BODY_BYTES: usize = 4096;

/// Serves until killed, printing `listening on ADDR` once bound.
pub(crate) fn serve(fleet: &Fleet, listen: SocketAddr) -> anyhow::Result<()> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(fleet.device_ca_path()).context("the bench device CA")?)?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider)).build()?;
    let (chain, key) = fleet.server_certificate()?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let body = Bytes::from(vec![b'#'; BODY_BYTES]);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen).await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let Ok((tcp, _)) = listener.accept().await else { continue };
            let (acceptor, body) = (acceptor.clone(), body.clone());
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let Ok(tls) = acceptor.accept(tcp).await else { return };
                let service = service_fn(move |_request| {
                    let response = Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "text/plain")
                        .header("cache-control", "no-store")
                        .body(Full::new(body.clone()));
                    async move { response }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(tls), service).await;
            });
        }
    })
}
