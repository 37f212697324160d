//! `yealink`: the MAC is the last group of the UUID-shaped serialNumber.

use super::found::Found;
use crate::attribute::Attribute;
use crate::certificate::CertificateView;
use crate::error::excerpt;
use crate::{Mac, NoIdentity};

pub(super) fn identify(cert: &CertificateView<'_>) -> Result<Found, NoIdentity> {
    let serial_number = Attribute::known("2.5.4.5");
    let value = cert.single(&serial_number)?;
    let Some(last_group) = uuid_last_group(&value) else {
        return Err(NoIdentity::UnexpectedShape {
            attribute: serial_number.name,
            value: excerpt(&value),
            expected: "a UUID (8-4-4-4-12 hex digits) ending in the MAC",
        });
    };
    let mac = Mac::parse(last_group)
        .map_err(|_| NoIdentity::NotAMac { attribute: serial_number.name.clone(), value: excerpt(&value) })?;
    if mac.bytes() == [0; 6] || mac.bytes() == [0xff; 6] {
        return Err(NoIdentity::GenericCertificate { vendor: "yealink", detail: "the serialNumber names no MAC" });
    }
    Ok(Found::mac(mac))
}

/// The last group of `value` if it is shaped `8-4-4-4-12` hex digits.
fn uuid_last_group(value: &str) -> Option<&str> {
    let groups: Vec<&str> = value.split('-').collect();
    let shape_ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()));
    shape_ok.then(|| groups[4])
}
