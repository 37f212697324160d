//! Reading a CA bundle: PEM or concatenated DER, one or more certificates.

use der::{Reader, SliceReader};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// A trust anchor bundle could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnchorError {
    /// The bundle holds no certificate.
    #[error("{bundle}: no certificate found (expected PEM or DER X.509 certificates)")]
    Empty {
        /// The bundle's name (file path).
        bundle: String,
    },
    /// A PEM section could not be read.
    #[error("{bundle}: certificate #{index}: invalid PEM: {detail}")]
    Pem {
        /// The bundle's name.
        bundle: String,
        /// Index of the certificate in the bundle, from 0.
        index: usize,
        /// What was wrong.
        detail: String,
    },
    /// A certificate could not be used as a trust anchor.
    #[error("{bundle}: certificate #{index}: not usable as a trust anchor: {detail}")]
    Certificate {
        /// The bundle's name.
        bundle: String,
        /// Index of the certificate in the bundle, from 0.
        index: usize,
        /// What was wrong.
        detail: String,
    },
    /// A certificate uses a key too weak for any chain under it to verify.
    #[error("{bundle}: certificate #{index}: {detail}; such a chain loads only as a legacy trust entry (rated 4)")]
    Legacy {
        /// The bundle's name.
        bundle: String,
        /// Index of the certificate in the bundle, from 0.
        index: usize,
        /// What is legacy about it.
        detail: String,
    },
    /// A certificate revocation list could not be read.
    #[error("{file}: CRL #{index}: {detail}")]
    Crl {
        /// The CRL file's name.
        file: String,
        /// Index of the CRL in the file, from 0.
        index: usize,
        /// What was wrong.
        detail: String,
    },
    /// No trust anchors were configured at all.
    #[error("no trust anchors configured: no phone could ever be identified")]
    NoAnchors,
    /// The same CA certificate appears in two bundles.
    #[error("{second} repeats a CA certificate of {first}: a CA must be bound to one rule")]
    Duplicate {
        /// The bundle that has it first.
        first: String,
        /// The bundle that repeats it.
        second: String,
    },
}

/// The certificates of a PEM or DER bundle, in order.
pub(super) fn parse(source: &str, bundle: &[u8]) -> Result<Vec<CertificateDer<'static>>, AnchorError> {
    let certificates = if bundle.trim_ascii_start().starts_with(b"-----BEGIN") {
        CertificateDer::pem_slice_iter(bundle)
            .enumerate()
            .map(|(index, cert)| {
                cert.map_err(|e| AnchorError::Pem { bundle: source.to_owned(), index, detail: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()?
    } else {
        split_der(source, bundle)?
    };
    if certificates.is_empty() {
        return Err(AnchorError::Empty { bundle: source.to_owned() });
    }
    Ok(certificates)
}

/// Splits concatenated DER certificates.
fn split_der(source: &str, mut bundle: &[u8]) -> Result<Vec<CertificateDer<'static>>, AnchorError> {
    let mut certificates = Vec::new();
    while !bundle.is_empty() {
        let index = certificates.len();
        // A file that is neither PEM nor DER says so in words: a DER certificate starts with
        // the SEQUENCE byte 0x30.
        let first = bundle[0];
        let invalid = |e: der::Error| AnchorError::Certificate {
            bundle: source.to_owned(),
            index,
            detail: if first == 0x30 {
                format!("a DER certificate that is cut short or malformed ({e})")
            } else {
                format!(
                    "neither PEM (no \"-----BEGIN CERTIFICATE-----\" line) nor DER (which starts with byte \
                     0x30; this starts with {first:#04x})"
                )
            },
        };
        let tlv = SliceReader::new(bundle).and_then(|mut reader| reader.tlv_bytes()).map_err(invalid)?;
        certificates.push(CertificateDer::from(tlv.to_vec()));
        bundle = &bundle[tlv.len()..];
    }
    Ok(certificates)
}
