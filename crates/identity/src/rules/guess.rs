//! `auto`: which built-in layout a certificate looks like. Diagnostics only.

use super::IdentityRule;
use crate::attribute::Attribute;
use crate::certificate::CertificateView;
use crate::{Mac, NoIdentity};

/// Vendor prefixes of CN = MAC layouts, to tell Polycom from Snom from a private CA.
const POLYCOM_OUIS: &[[u8; 3]] = &[[0x00, 0x04, 0xf2], [0x64, 0x16, 0x7f], [0x48, 0x25, 0x67], [0x00, 0xe0, 0xdb]];
const SNOM_OUIS: &[[u8; 3]] = &[[0x00, 0x04, 0x13]];

impl IdentityRule {
    /// Picks the built-in rule whose layout `certificate` looks like, by subject shape and OUI.
    ///
    /// For diagnostics only (`sipprov identity inspect --rule auto`): in production the rule
    /// comes from the trust anchor that verified the certificate, never from the certificate.
    pub fn guess(certificate: &[u8]) -> Result<IdentityRule, NoIdentity> {
        guess(&CertificateView::parse(certificate)?)
    }
}

fn guess(cert: &CertificateView<'_>) -> Result<IdentityRule, NoIdentity> {
    // Ambiguous or undecodable attributes do not decide the layout; the chosen rule reports them.
    let text = |oid: &str| cert.optional(&Attribute::known(oid)).ok().flatten();
    let cn = text("2.5.4.3");
    let state = text("2.5.4.8");
    let unit = text("2.5.4.11");
    let serial_number = text("2.5.4.5");

    if state.is_some() && (unit.as_deref().is_some_and(|u| u.ends_with("-3PCC") || u == "cisco.com")) {
        return Ok(IdentityRule::CiscoMpp);
    }
    if cn.as_deref().is_some_and(|cn| cn.rsplit_once("-SEP").is_some()) {
        return Ok(IdentityRule::CiscoMic);
    }
    if serial_number.as_deref().is_some_and(|s| s.len() == 36 && s.matches('-').count() == 4) {
        return Ok(IdentityRule::Yealink);
    }
    if let Some(mac) = cn.as_deref().and_then(|cn| Mac::parse(cn).ok()) {
        if POLYCOM_OUIS.contains(&mac.oui()) {
            return Ok(IdentityRule::Polycom);
        }
        if SNOM_OUIS.contains(&mac.oui()) {
            return Ok(IdentityRule::Snom);
        }
    }
    Ok(IdentityRule::CnMac)
}
