//! Legacy chains: SHA-1 signatures and RSA keys under 2048 bits.
//!
//! rustls-webpki verifies RSA signatures only with keys of 2048 bits or more, and no SHA-1
//! signatures at all. By default an anchor with a weaker key (Snom's old "Snom Phone 1" root is
//! RSA-1024) is refused when anchors are loaded, with the reason, rather than letting every
//! phone under it fail later, one handshake at a time. A trust entry may opt in explicitly
//! (`legacy = true`): its chains are then verified with [`LEGACY_ALGORITHMS`] too (SHA-1 and
//! 1024-bit RSA, through aws-lc-rs's legacy verification), and what they identify is rated 4,
//! not 5: such a signature no longer proves much.

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode, Reader, SliceReader};
use rustls_pki_types::{AlgorithmIdentifier, CertificateDer, InvalidSignature, SignatureVerificationAlgorithm, alg_id};

use super::bundle::AnchorError;
use crate::certificate::CertificateView;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const MIN_RSA_BITS: usize = 2048;

/// `sha1WithRSAEncryption`, as an `AlgorithmIdentifier`'s contents: the OID and a NULL.
const RSA_PKCS1_SHA1: AlgorithmIdentifier =
    AlgorithmIdentifier::from_slice(&[0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05, 0x05, 0x00]);

/// RSA PKCS#1 v1.5 with keys of 1024 bits or more, for legacy chains only.
#[derive(Debug)]
struct LegacyRsa {
    signature: AlgorithmIdentifier,
    verification: &'static aws_lc_rs::signature::RsaParameters,
}

impl SignatureVerificationAlgorithm for LegacyRsa {
    fn verify_signature(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<(), InvalidSignature> {
        aws_lc_rs::signature::UnparsedPublicKey::new(self.verification, public_key)
            .verify(message, signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::RSA_ENCRYPTION
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        self.signature
    }

    fn fips(&self) -> bool {
        false
    }
}

static RSA_1024_SHA1: LegacyRsa = LegacyRsa {
    signature: RSA_PKCS1_SHA1,
    verification: &aws_lc_rs::signature::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY,
};
static RSA_1024_SHA256: LegacyRsa = LegacyRsa {
    signature: alg_id::RSA_PKCS1_SHA256,
    verification: &aws_lc_rs::signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY,
};

/// What a legacy trust entry's chains are verified with: the two legacy algorithms first (a
/// 1024-bit key with SHA-256 would otherwise meet the 2048-bit algorithm and stop there), then
/// every modern one.
pub(super) static LEGACY_ALGORITHMS: std::sync::LazyLock<Vec<&'static dyn SignatureVerificationAlgorithm>> =
    std::sync::LazyLock::new(|| {
        let legacy: [&'static dyn SignatureVerificationAlgorithm; 2] = [&RSA_1024_SHA1, &RSA_1024_SHA256];
        legacy.into_iter().chain(webpki::ALL_VERIFICATION_ALGS.iter().copied()).collect()
    });

/// Refuses a certificate whose public key is RSA with fewer than 2048 bits.
pub(super) fn refuse_weak_key(source: &str, index: usize, certificate: &CertificateDer<'_>) -> Result<(), AnchorError> {
    match rsa_modulus_bits(certificate) {
        Some(bits) if bits < MIN_RSA_BITS => Err(AnchorError::Legacy {
            bundle: source.to_owned(),
            index,
            detail: format!("RSA-{bits} key (at least {MIN_RSA_BITS} bits are required)"),
        }),
        _ => Ok(()),
    }
}

/// The modulus size of an RSA public key, or `None` for other keys or unreadable input (which
/// webpki then judges on its own).
fn rsa_modulus_bits(certificate: &[u8]) -> Option<usize> {
    let view = CertificateView::parse(certificate).ok()?;
    let spki = AnyRef::from_der(view.spki()).ok()?;
    let mut spki = SliceReader::new(spki.value()).ok()?;
    let algorithm: AnyRef<'_> = spki.decode().ok()?;
    let oid = ObjectIdentifier::from_der(SliceReader::new(algorithm.value()).ok()?.tlv_bytes().ok()?).ok()?;
    if oid != RSA_ENCRYPTION {
        return None;
    }
    let key: BitStringRef<'_> = spki.decode().ok()?;
    let rsa_key = AnyRef::from_der(key.as_bytes()?).ok()?;
    let modulus: UintRef<'_> = SliceReader::new(rsa_key.value()).ok()?.decode().ok()?;
    let bytes = modulus.as_bytes();
    let first = *bytes.first()?;
    Some(bytes.len() * 8 - first.leading_zeros() as usize)
}
