//! Trust anchors: which CAs may vouch for devices, in which layout, for which vendor prefixes.
//!
//! A [`VendorTrust`] is one vendor's CA bundle bound to one [`IdentityRule`] and, optionally, to
//! the OUIs (vendor MAC prefixes) its certificates may name. A [`TrustStore`] holds them all and
//! answers the one question the server asks: *which device is this verified chain?*

mod bundle;
mod legacy;
mod oui;

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer, TrustAnchor, UnixTime};
use webpki::{CertRevocationList, EndEntityCert, KeyUsage, OwnedCertRevocationList, RevocationOptionsBuilder};

pub use bundle::AnchorError;
pub use oui::{Oui, OuiParseError};

use crate::certificate::CertificateView;
use crate::{DeviceIdentity, IdentityRule, NoIdentity};

/// One vendor's CA certificates, the identity rule its device certificates follow, and the OUIs
/// it may vouch for.
#[derive(Debug, Clone)]
pub struct VendorTrust {
    source: String,
    rule: IdentityRule,
    allowed_ouis: Vec<Oui>,
    certificates: Vec<CertificateDer<'static>>,
    anchors: Vec<TrustAnchor<'static>>,
    crls: Vec<CertificateRevocationListDer<'static>>,
    // Parsed once at load; shared by clones (webpki's CRLs are not `Clone`).
    parsed_crls: Arc<Vec<CertRevocationList<'static>>>,
    /// Whether SHA-1 signatures and 1024-bit RSA keys are accepted in its chains (rated 4).
    legacy: bool,
}

impl VendorTrust {
    /// Loads a CA bundle: PEM with one or more certificates, or one or more concatenated DER
    /// certificates. `source` names the bundle in errors and logs (usually its file path).
    ///
    /// Refused with an error naming `source` and the certificate's index: no certificate at all,
    /// a certificate webpki cannot use as an anchor, and legacy RSA keys under 2048 bits (no
    /// chain under such a key can verify; see `docs/vendors.md`).
    pub fn from_bundle(source: &str, bundle: &[u8], rule: IdentityRule) -> Result<Self, AnchorError> {
        Self::load(source, bundle, rule, false)
    }

    /// Loads a CA bundle whose chains use legacy algorithms (SHA-1 signatures, RSA keys of 1024
    /// bits or more), which [`VendorTrust::from_bundle`] refuses: an explicit choice for phones
    /// that carry nothing better. What it identifies is rated 4, not 5 ([`VendorTrust::is_legacy`]).
    pub fn from_legacy_bundle(source: &str, bundle: &[u8], rule: IdentityRule) -> Result<Self, AnchorError> {
        Self::load(source, bundle, rule, true)
    }

    /// Whether this entry accepts legacy chains: what it identifies is rated 4.
    pub fn is_legacy(&self) -> bool {
        self.legacy
    }

    fn load(source: &str, bundle: &[u8], rule: IdentityRule, legacy: bool) -> Result<Self, AnchorError> {
        let certificates = bundle::parse(source, bundle)?;
        let mut anchors = Vec::with_capacity(certificates.len());
        for (index, certificate) in certificates.iter().enumerate() {
            if !legacy {
                legacy::refuse_weak_key(source, index, certificate)?;
            }
            // A certificate that declares itself an end entity cannot have issued the phones'.
            if CertificateView::parse(certificate).is_ok_and(|view| view.is_ca() == Some(false)) {
                return Err(AnchorError::Certificate {
                    bundle: source.to_owned(),
                    index,
                    detail: "an end-entity certificate (its basicConstraints says it is not a CA): a trust anchor \
                             is the CA that issued the phones' certificates"
                        .into(),
                });
            }
            let anchor = webpki::anchor_from_trusted_cert(certificate).map_err(|e| AnchorError::Certificate {
                bundle: source.to_owned(),
                index,
                detail: format!("{e:?}"),
            })?;
            anchors.push(anchor.to_owned());
        }
        Ok(Self {
            source: source.to_owned(),
            rule,
            allowed_ouis: Vec::new(),
            certificates,
            anchors,
            crls: Vec::new(),
            parsed_crls: Arc::default(),
            legacy,
        })
    }

    /// Restricts the MACs this bundle may vouch for to these vendor prefixes (empty: any).
    pub fn with_allowed_ouis(mut self, ouis: Vec<Oui>) -> Self {
        self.allowed_ouis = ouis;
        self
    }

    /// Adds the certificate revocation lists in `bytes` (PEM `X509 CRL` sections, or one DER
    /// CRL), named `source` in errors. A certificate a CRL lists as revoked names no device;
    /// certificates of issuers without a CRL are not checked.
    pub fn with_crls(mut self, source: &str, bytes: &[u8]) -> Result<Self, AnchorError> {
        let crl_error = |index, detail: String| AnchorError::Crl { file: source.to_owned(), index, detail };
        let ders: Vec<CertificateRevocationListDer<'static>> = if bytes.starts_with(b"-----") {
            CertificateRevocationListDer::pem_slice_iter(bytes)
                .enumerate()
                .map(|(index, crl)| crl.map_err(|e| crl_error(index, format!("invalid PEM: {e}"))))
                .collect::<Result<_, _>>()?
        } else {
            vec![CertificateRevocationListDer::from(bytes.to_vec())]
        };
        if ders.is_empty() {
            return Err(crl_error(0, "no CRL found (expected PEM X509 CRL sections or one DER CRL)".into()));
        }
        // Checked one by one with their index in this file; then all parsed together, because
        // webpki's parsed CRLs cannot be cloned out of the shared list.
        for (index, der) in ders.iter().enumerate() {
            OwnedCertRevocationList::from_der(der).map_err(|e| crl_error(index, format!("not a usable CRL: {e:?}")))?;
        }
        self.crls.extend(ders);
        let parsed = self
            .crls
            .iter()
            .filter_map(|der| OwnedCertRevocationList::from_der(der).ok().map(CertRevocationList::Owned))
            .collect();
        self.parsed_crls = Arc::new(parsed);
        Ok(self)
    }

    /// The revocation lists of this vendor's CAs, for the TLS layer.
    pub fn crls(&self) -> &[CertificateRevocationListDer<'static>] {
        &self.crls
    }

    /// Where the bundle came from, as given to [`VendorTrust::from_bundle`].
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The identity rule bound to this bundle.
    pub fn rule(&self) -> &IdentityRule {
        &self.rule
    }

    /// The vendor prefixes this bundle may vouch for; empty means any.
    pub fn allowed_ouis(&self) -> &[Oui] {
        &self.allowed_ouis
    }

    /// The CA certificates, DER, e.g. for a TLS library's root store.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }
}

/// Every configured [`VendorTrust`], in configuration order.
#[derive(Debug, Clone)]
pub struct TrustStore {
    vendors: Vec<VendorTrust>,
}

impl TrustStore {
    /// A store over `vendors`. Refuses an empty list, and one CA certificate configured in two
    /// entries (its device certificates would have two rules).
    pub fn new(vendors: Vec<VendorTrust>) -> Result<Self, AnchorError> {
        if vendors.is_empty() {
            return Err(AnchorError::NoAnchors);
        }
        for (i, vendor) in vendors.iter().enumerate() {
            for earlier in &vendors[..i] {
                if vendor.certificates.iter().any(|c| earlier.certificates.contains(c)) {
                    return Err(AnchorError::Duplicate {
                        first: earlier.source.clone(),
                        second: vendor.source.clone(),
                    });
                }
            }
        }
        Ok(Self { vendors })
    }

    /// The configured vendors.
    pub fn vendors(&self) -> &[VendorTrust] {
        &self.vendors
    }

    /// Every CA certificate of every vendor, for the TLS layer's root store.
    pub fn certificates(&self) -> impl Iterator<Item = &CertificateDer<'static>> {
        self.vendors.iter().flat_map(|vendor| vendor.certificates.iter())
    }

    /// The subject names of every anchor (the DER contents of each Name, without its outer
    /// SEQUENCE), for the CA list a TLS server offers in its certificate request (phones
    /// holding several certificates choose by it).
    pub fn anchor_subjects(&self) -> impl Iterator<Item = &[u8]> {
        self.vendors.iter().flat_map(|vendor| vendor.anchors.iter().map(|anchor| anchor.subject.as_ref()))
    }

    /// Verifies `chain` (leaf first, then the intermediates the peer sent) for client
    /// authentication at `now`, finds the vendor whose anchor it chains to, and reads the
    /// device's identity with that vendor's rule: [`TrustStore::verify_and_read`], for a chain
    /// that must name a device.
    pub fn identify(
        &self,
        chain: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(DeviceIdentity, &VendorTrust), NoIdentity> {
        let read = self.verify_and_read(chain, now)?;
        Ok((read.identity?, &self.vendors[read.position]))
    }

    /// Verifies `chain` (leaf first, then the intermediates the peer sent) for client
    /// authentication at `now` against each vendor's anchors in turn, and returns the position
    /// in [`TrustStore::vendors`] of the first whose anchor it chains to. Checked too: the
    /// vendor's CRLs (issuers without one are not checked), the leaf's extended key usage
    /// (client authentication) and, when it has a keyUsage extension, that it allows
    /// digitalSignature.
    ///
    /// Verifying per vendor, rather than against all anchors at once, is what binds the
    /// identity rule and OUI list to the anchor that vouched for the chain; a TLS layer can use
    /// this as its client certificate verifier and keep the position for
    /// [`TrustStore::identify_verified`], so a chain is verified once per handshake
    /// ([`TrustStore::verify_and_read`] reads the identity in the same pass).
    pub fn verify(&self, chain: &[CertificateDer<'_>], now: UnixTime) -> Result<usize, NoIdentity> {
        self.verify_parsed(chain, now).map(|(position, _)| position)
    }

    /// Verifies `chain` as [`TrustStore::verify`] does and reads what a server logs and serves
    /// by, from one parse of the leaf: the vendor that vouched for it, the device it names
    /// under that vendor's rule (or why it names none) and its serial number. The error is
    /// why the chain is not trusted; a trusted chain that names no device is not an error here,
    /// since a TLS layer accepts it (and serves it nothing a device gets).
    pub fn verify_and_read(&self, chain: &[CertificateDer<'_>], now: UnixTime) -> Result<VerifiedChain, NoIdentity> {
        let (position, leaf) = self.verify_parsed(chain, now)?;
        Ok(VerifiedChain { position, identity: self.identify_in(&leaf, position), serial: leaf.serial_hex() })
    }

    /// [`TrustStore::verify`], keeping the parsed leaf.
    fn verify_parsed<'c>(
        &self,
        chain: &'c [CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<(usize, CertificateView<'c>), NoIdentity> {
        let (leaf, intermediates) =
            chain.split_first().ok_or_else(|| NoIdentity::Untrusted("no certificate presented".into()))?;
        let end_entity = EndEntityCert::try_from(leaf).map_err(|e| NoIdentity::Untrusted(describe(&e)))?;
        let mut last_error = None;
        for (position, vendor) in self.vendors.iter().enumerate() {
            let crls: Vec<&CertRevocationList<'_>> = vendor.parsed_crls.iter().collect();
            // Issuers without a CRL are not checked; listed certificates are refused.
            let revocation = RevocationOptionsBuilder::new(&crls)
                .ok()
                .map(|options| options.with_status_policy(webpki::UnknownStatusPolicy::Allow).build());
            let algorithms: &[&dyn rustls_pki_types::SignatureVerificationAlgorithm] =
                if vendor.legacy { &legacy::LEGACY_ALGORITHMS } else { webpki::ALL_VERIFICATION_ALGS };
            let verified = end_entity.verify_for_usage(
                algorithms,
                &vendor.anchors,
                intermediates,
                now,
                KeyUsage::client_auth(),
                revocation,
                None,
            );
            match verified {
                Ok(_) => {
                    let parsed = CertificateView::parse(leaf)?;
                    if !parsed.allows_digital_signature() {
                        return Err(NoIdentity::NotForClientAuthentication);
                    }
                    return Ok((position, parsed));
                }
                Err(e) => last_error = Some(e),
            }
        }
        Err(NoIdentity::Untrusted(last_error.map_or_else(|| "no trust anchors".into(), |e| describe(&e))))
    }

    /// Reads the identity of `leaf`, whose chain [`TrustStore::verify`] found to chain to the
    /// vendor at `position`, with that vendor's rule, and checks the MAC against the vendor's
    /// allowed OUIs. Only for a leaf that `verify` accepted with this same store.
    pub fn identify_verified(
        &self,
        leaf: &CertificateDer<'_>,
        position: usize,
    ) -> Result<(DeviceIdentity, &VendorTrust), NoIdentity> {
        let identity = self.identify_in(&CertificateView::parse(leaf)?, position)?;
        Ok((identity, &self.vendors[position]))
    }

    /// The identity `leaf` names under the rule of the vendor at `position`, within its OUIs.
    fn identify_in(&self, leaf: &CertificateView<'_>, position: usize) -> Result<DeviceIdentity, NoIdentity> {
        let vendor = self
            .vendors
            .get(position)
            .ok_or_else(|| NoIdentity::Untrusted(format!("no trust anchor bundle #{position}")))?;
        let identity = vendor.rule.identify_parsed(leaf)?;
        if !vendor.allowed_ouis.is_empty() && !vendor.allowed_ouis.contains(&Oui::of(&identity.mac)) {
            return Err(NoIdentity::OuiNotAllowed { mac: identity.mac.to_string(), anchor: vendor.source.clone() });
        }
        Ok(identity)
    }
}

/// A chain [`TrustStore::verify_and_read`] verified, and what its leaf says.
#[derive(Debug, Clone)]
pub struct VerifiedChain {
    /// The position in [`TrustStore::vendors`] of the vendor whose anchor vouched for it.
    pub position: usize,
    /// The device its leaf names under that vendor's rule and OUIs, or why it names none.
    pub identity: Result<DeviceIdentity, NoIdentity>,
    /// The leaf's serial number in lowercase hex, as `openssl x509 -serial` prints it.
    pub serial: String,
}

/// A webpki error in words an operator can act on.
#[allow(deprecated)] // older webpki versions still return the context-free variants
fn describe(error: &webpki::Error) -> String {
    use webpki::Error::*;
    match error {
        CertExpired { .. } => crate::error::EXPIRED.into(),
        CertNotValidYet { .. } => "the certificate is not valid yet".into(),
        UnknownIssuer => "the certificate does not chain to a configured anchor".into(),
        CertRevoked => crate::error::REVOKED.into(),
        UnsupportedSignatureAlgorithm
        | UnsupportedSignatureAlgorithmContext(_)
        | UnsupportedSignatureAlgorithmForPublicKey
        | UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            "unsupported signature algorithm (legacy SHA-1 and RSA-1024 chains are not supported)".into()
        }
        RequiredEkuNotFound | RequiredEkuNotFoundContext(_) => {
            "the certificate is not for client authentication".into()
        }
        other => format!("{other:?}"),
    }
}
