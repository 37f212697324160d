//! A registrar reached over HTTPS: each change is POSTed as JSON, signed with an HMAC.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::json;
use ureq::Agent;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::{Change, Registrar, RegistrarError};

/// The header carrying the Unix time the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Sipprov-Timestamp";
/// The header carrying `sha256=` and the hex HMAC-SHA256 of `timestamp "." body`.
pub const SIGNATURE_HEADER: &str = "X-Sipprov-Signature";
/// The shortest HMAC key accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// Where to POST, and the key to sign with.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// The name in audit events.
    pub name: String,
    /// An `https://` URL.
    pub url: String,
    /// The HMAC key's file: its content, without surrounding white space, is the key (at least
    /// [`MIN_KEY_BYTES`]).
    pub secret_file: PathBuf,
    /// Trust only this PEM file's authorities (the system's web PKI roots otherwise).
    pub ca_file: Option<PathBuf>,
}

/// Posts each change as one JSON object:
/// `{"event": "set", "user", "realm", "ha1_md5", "ha1_sha256"}` or
/// `{"event": "delete", "user", "realm"}`. Any 2xx answer accepts it; anything else (or no
/// answer within 10 s) leaves it queued. Redirects are not followed.
pub struct Webhook {
    name: String,
    url: String,
    key: hmac::Key,
    agent: Agent,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook").field("name", &self.name).field("url", &self.url).finish_non_exhaustive()
    }
}

impl Webhook {
    /// Reads the key and CA files and checks the URL.
    pub fn new(options: WebhookOptions) -> Result<Self, RegistrarError> {
        let name = options.name;
        let fail = |reason: String| RegistrarError::Config(format!("registrar {name:?}: {reason}"));
        if !options.url.starts_with("https://") {
            return Err(fail(format!(
                "{:?} is not an https:// URL: HA1 values never travel in the clear",
                options.url
            )));
        }
        let secret = std::fs::read(&options.secret_file)
            .map_err(|e| fail(format!("cannot read the secret file {}: {e}", options.secret_file.display())))?;
        let secret = secret.trim_ascii();
        if secret.len() < MIN_KEY_BYTES {
            return Err(fail(format!(
                "the secret in {} is shorter than {MIN_KEY_BYTES} bytes",
                options.secret_file.display()
            )));
        }
        let roots = match &options.ca_file {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
                let certificates = CertificateDer::pem_slice_iter(&pem)
                    .map(|der| der.map(|der| Certificate::from_der(&der).to_owned()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| fail(format!("{}: invalid PEM: {e}", path.display())))?;
                if certificates.is_empty() {
                    return Err(fail(format!("{} holds no PEM certificate", path.display())));
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
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .new_agent();
        Ok(Self { key: hmac::Key::new(hmac::HMAC_SHA256, secret), name, url: options.url, agent })
    }
}

/// The body posted for `change`.
pub fn body(change: &Change) -> String {
    match change {
        Change::Set { user, ha1 } => json!({
            "event": "set",
            "user": user,
            "realm": ha1.realm,
            "ha1_md5": ha1.md5,
            "ha1_sha256": ha1.sha256,
        }),
        Change::Delete { user, realm } => json!({"event": "delete", "user": user, "realm": realm}),
    }
    .to_string()
}

/// The signature header's value for `body` signed at `timestamp` with `key`: what a receiver
/// computes again (and compares in constant time) before trusting a request.
pub fn signature(key: &[u8], timestamp: u64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    sign(&key, timestamp, body)
}

fn sign(key: &hmac::Key, timestamp: u64, body: &str) -> String {
    let tag = hmac::sign(key, format!("{timestamp}.{body}").as_bytes());
    format!("sha256={}", hex::encode(tag.as_ref()))
}

impl Registrar for Webhook {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply(&self, change: &Change) -> Result<(), RegistrarError> {
        let body = body(change);
        let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_secs());
        let unavailable = |reason: String| RegistrarError::Unavailable(format!("registrar {:?}: {reason}", self.name));
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&self.key, timestamp, &body))
            .send(body.as_bytes())
            .map_err(|e| unavailable(e.to_string()))?;
        let status = response.status();
        if status.is_success() { Ok(()) } else { Err(unavailable(format!("answered {status}"))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // printf '%s' '1800000000.{"event":"delete"}' | openssl dgst -sha256 -hmac 'key-key-key-key-key-key-key-key!'
        let signed = signature(b"key-key-key-key-key-key-key-key!", 1_800_000_000, r#"{"event":"delete"}"#);
        assert_eq!(signed, "sha256=3ca26e059d957070599b9ac5d080c2a1bb5f5d7499db951fc9f73831eda61d6b");
    }
}
