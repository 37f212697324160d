//! The admin API client: HTTPS with the admin CA, a bearer token, JSON in and out.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::Value;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
use ureq::{Agent, SendBody};

/// A connection to one sipprov admin API.
pub(crate) struct Client {
    agent: Agent,
    base: String,
    token: String,
}

/// A response: its status and JSON body (`Value::Null` when empty).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: Value,
}

impl Client {
    /// `base` is `https://host:port`; `ca` the PEM file of the CA that signed the admin
    /// listener's certificate (without it, the system's web PKI roots are used).
    pub(crate) fn new(base: &str, token: String, ca: Option<&Path>) -> anyhow::Result<Self> {
        if !base.starts_with("https://") {
            bail!("--url {base:?} must be an https:// URL: tokens are never sent in the clear");
        }
        let roots = match ca {
            Some(path) => {
                let pem = std::fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?;
                let certificates = CertificateDer::pem_slice_iter(&pem)
                    .map(|der| der.map(|der| Certificate::from_der(&der).to_owned()))
                    .collect::<Result<Vec<_>, _>>()
                    .with_context(|| format!("{}: invalid PEM", path.display()))?;
                if certificates.is_empty() {
                    bail!("{} holds no PEM certificate", path.display());
                }
                RootCerts::Specific(Arc::new(certificates))
            }
            None => RootCerts::WebPki,
        };
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .root_certs(roots)
            .build();
        let agent = Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        Ok(Self { agent, base: base.trim_end_matches('/').to_owned(), token })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authorization(&self) -> String {
        format!("Bearer {}", self.token)
    }

    pub(crate) fn get(&self, path: &str) -> anyhow::Result<Reply> {
        let response = self.agent.get(self.url(path)).header("Authorization", self.authorization()).call();
        reply(response, path)
    }

    pub(crate) fn delete(&self, path: &str) -> anyhow::Result<Reply> {
        let response = self.agent.delete(self.url(path)).header("Authorization", self.authorization()).call();
        reply(response, path)
    }

    pub(crate) fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        let response = self.agent.post(self.url(path)).header("Authorization", self.authorization()).send_json(body);
        reply(response, path)
    }

    pub(crate) fn put_json(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        let response = self.agent.put(self.url(path)).header("Authorization", self.authorization()).send_json(body);
        reply(response, path)
    }

    pub(crate) fn patch_json(&self, path: &str, body: &Value) -> anyhow::Result<Reply> {
        let response = self.agent.patch(self.url(path)).header("Authorization", self.authorization()).send_json(body);
        reply(response, path)
    }

    /// Streams `body` (of `content_type`) to `path`; returns the raw response text.
    pub(crate) fn post_stream(
        &self,
        path: &str,
        content_type: &str,
        body: &mut dyn Read,
    ) -> anyhow::Result<(u16, String)> {
        let response = self
            .agent
            .post(self.url(path))
            .header("Authorization", self.authorization())
            .header("Content-Type", content_type)
            .config()
            // A large import takes as long as it takes; the server applies rows as they arrive.
            .timeout_global(None)
            .build()
            .send(SendBody::from_reader(body));
        let mut response = response.map_err(|e| Unreachable(format!("cannot reach {}: {e}", self.url(path))))?;
        let status = response.status().as_u16();
        let text =
            response.body_mut().with_config().limit(1 << 30).read_to_string().context("cannot read the response")?;
        Ok((status, text))
    }
}

fn reply(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>, path: &str) -> anyhow::Result<Reply> {
    let mut response = response.map_err(|e| Unreachable(format!("cannot reach the admin API ({path}): {e}")))?;
    let status = response.status().as_u16();
    let text =
        response.body_mut().with_config().limit(64 << 20).read_to_string().context("cannot read the response")?;
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).with_context(|| format!("the response to {path} is not JSON"))?
    };
    Ok(Reply { status, body })
}

impl Reply {
    /// The body when the status is one of `expected`, else an error with the API's message.
    pub(crate) fn expect(self, expected: &[u16]) -> anyhow::Result<Value> {
        if expected.contains(&self.status) {
            return Ok(self.body);
        }
        let message = self.body.get("error").and_then(Value::as_str).unwrap_or("no details");
        Err(Refused { status: self.status, message: format!("{} ({})", message, describe(self.status)) }.into())
    }
}

/// The admin API answered, and refused: its status and message.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) status: u16,
    message: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refused {}

/// The admin API could not be reached (network, TLS, the server's certificate).
#[derive(Debug)]
pub(crate) struct Unreachable(String);

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unreachable {}

fn describe(status: u16) -> String {
    let what = match status {
        400 => "bad request",
        401 => "unauthorized: check the token",
        403 => "forbidden for this token's role",
        404 => "not found",
        409 => "conflict",
        422 => "invalid input",
        503 => "service unavailable",
        _ => "unexpected status",
    };
    format!("HTTP {status}, {what}")
}
