//! The client certificate verifier: each chain verified once per handshake, per vendor anchor,
//! and what it says (the anchor that vouched for it, the device it names under that anchor's
//! rule, its serial number) remembered for the connection that follows.
//!
//! rustls asks a verifier only yes or no. sipprov also needs to know *which* vendor's anchor
//! the chain verified to, because that anchor carries the identity rule and the OUIs it may
//! vouch for. Verifying again after the handshake would double the most expensive step of a
//! poll, so the verifier reads the identity from the leaf it has just parsed and remembers it,
//! by a hash of the presented chain; the connection takes it right after its handshake. A chain
//! missing from the memory (evicted under a flood) is verified again: the memory saves work, it
//! never decides anything.

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};
use sha2::{Digest, Sha256};
use sipprov_identity::{DeviceIdentity, NoIdentity, TrustStore, VendorTrust, VerifiedChain};
use sipprov_ratelimit::BoundedMap;

/// Chains remembered between their handshake and their connection's identity read. A
/// connection reads its entry microseconds after the handshake, so this only has to cover the
/// handshakes finishing at once.
const REMEMBERED: usize = 4_096;

/// A hash of a presented chain (leaf, then intermediates, each length-prefixed).
type ChainHash = [u8; 32];

/// Verifies client chains with [`TrustStore::verify_and_read`] and remembers what each says.
pub(crate) struct VendorVerifier {
    trust: Arc<TrustStore>,
    subjects: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
    verified: Mutex<BoundedMap<ChainHash, VerifiedChain>>,
}

impl fmt::Debug for VendorVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VendorVerifier").field("vendors", &self.trust.vendors().len()).finish_non_exhaustive()
    }
}

impl VendorVerifier {
    pub(crate) fn new(trust: Arc<TrustStore>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        // The CA names offered in the CertificateRequest: phones with several certificates pick by them.
        let subjects = trust.anchor_subjects().map(DistinguishedName::in_sequence).collect();
        Self { trust, subjects, algorithms, verified: Mutex::new(BoundedMap::new(REMEMBERED)) }
    }

    /// The device `chain` names, with the vendor whose rule read it, and its leaf's serial
    /// number: as this verifier read them in its handshake, or read afresh if it has not seen
    /// the chain (forgotten under a flood, or a connection from before a reload held to the new
    /// trust). The serial is there whenever the leaf can be read, for the log.
    pub(crate) fn identify(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> (Result<(DeviceIdentity, &VendorTrust), NoIdentity>, Option<String>) {
        let read = match self.verified().remove(&chain_hash(chain)) {
            Some(read) => Ok(read),
            None => self.trust.verify_and_read(chain, now),
        };
        match read {
            Ok(VerifiedChain { position, identity, serial }) => {
                let vendor = self.trust.vendors().get(position);
                let missing = || NoIdentity::Untrusted(format!("no trust anchor bundle #{position}"));
                (identity.and_then(|identity| Ok((identity, vendor.ok_or_else(missing)?))), Some(serial))
            }
            Err(reason) => {
                (Err(reason), chain.first().and_then(|leaf| sipprov_identity::certificate_serial(leaf).ok()))
            }
        }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, BoundedMap<ChainHash, VerifiedChain>> {
        // Only whole entries are ever inserted or removed: a poisoned map is still consistent.
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl ClientCertVerifier for VendorVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.subjects
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let chain: Vec<CertificateDer<'_>> =
            std::iter::once(end_entity).chain(intermediates).map(|c| CertificateDer::from(c.as_ref())).collect();
        match self.trust.verify_and_read(&chain, now) {
            Ok(verified) => {
                self.verified().insert(chain_hash(&chain), verified);
                Ok(ClientCertVerified::assertion())
            }
            Err(refused) => {
                Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(refused)))))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn chain_hash(chain: &[CertificateDer<'_>]) -> ChainHash {
    let mut hash = Sha256::new();
    for certificate in chain {
        hash.update((certificate.len() as u64).to_be_bytes());
        hash.update(certificate.as_ref());
    }
    hash.finalize().into()
}
