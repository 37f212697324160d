//! `cn-mac`: the subject's one commonName is the MAC.

use super::subject::{COMMON_NAME, ParsedCertificate};
use crate::{DeviceIdentity, Mac, NoIdentity};

pub(super) fn identify(cert: &ParsedCertificate) -> Result<DeviceIdentity, NoIdentity> {
    let cn = cert.single_attribute(COMMON_NAME)?;
    let mac = Mac::parse(&cn)
        .map_err(|_| NoIdentity::NotAMac { attribute: COMMON_NAME.name, value: cn.chars().take(64).collect() })?;
    Ok(DeviceIdentity {
        mac,
        vendor: "generic".to_owned(),
        serial: None,
        model: None,
        spki_sha256: cert.spki_sha256()?,
    })
}
