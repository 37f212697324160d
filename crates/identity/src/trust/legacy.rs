//! The legacy-chain decision: RSA keys under 2048 bits are refused when anchors are loaded.
//!
//! rustls-webpki verifies RSA signatures only with keys of 2048 bits or more, and no SHA-1
//! signatures at all. An anchor with a weaker key (Snom's old "Snom Phone 1" root is RSA-1024)
//! can therefore never verify a phone; loading it would only make every such phone fail later,
//! one handshake at a time. sipprov refuses it at start-up instead, with the reason. There is no
//! switch to allow legacy chains: a phone that only has such a certificate must be provisioned
//! another way (see `docs/vendors.md`).

use der::asn1::{AnyRef, BitStringRef, ObjectIdentifier, UintRef};
use der::{Decode, Reader, SliceReader};
use rustls_pki_types::CertificateDer;

use super::bundle::AnchorError;
use crate::certificate::CertificateView;

const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const MIN_RSA_BITS: usize = 2048;

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
