//! `polycom`, `snom`, `cn-mac`: the subject's one commonName is the MAC.

use super::found::Found;
use crate::attribute::Attribute;
use crate::certificate::CertificateView;
use crate::error::excerpt;
use crate::{Mac, NoIdentity};

pub(super) fn identify(cert: &CertificateView<'_>) -> Result<Found, NoIdentity> {
    let cn = Attribute::known("2.5.4.3");
    let value = cert.single(&cn)?;
    let mac = Mac::parse(&value).map_err(|_| NoIdentity::NotAMac { attribute: cn.name, value: excerpt(&value) })?;
    Ok(Found::mac(mac))
}
