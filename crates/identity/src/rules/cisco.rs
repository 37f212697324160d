//! `cisco-mic` and `cisco-mpp`: the two Cisco layouts.

use super::found::Found;
use crate::attribute::Attribute;
use crate::certificate::CertificateView;
use crate::error::excerpt;
use crate::{Mac, NoIdentity};

/// `CN=<PID>-SEP<MAC>`, optional `serialNumber=PID:<model> SN:<serial>`.
pub(super) fn identify_mic(cert: &CertificateView<'_>) -> Result<Found, NoIdentity> {
    let cn_attribute = Attribute::known("2.5.4.3");
    let cn = cert.single(&cn_attribute)?;
    let shape_error = || NoIdentity::UnexpectedShape {
        attribute: cn_attribute.name.clone(),
        value: excerpt(&cn),
        expected: "<model>-SEP<12 hex digits>",
    };
    let (cn_model, mac_hex) = cn.rsplit_once("-SEP").ok_or_else(shape_error)?;
    if cn_model.is_empty() || mac_hex.len() != 12 {
        return Err(shape_error());
    }
    let mac = Mac::parse(mac_hex).map_err(|_| shape_error())?;

    let serial_number = cert.optional(&Attribute::known("2.5.4.5"))?;
    let (model, serial) = match serial_number.as_deref().map(parse_pid_sn) {
        None => (cn_model.to_owned(), None),
        Some(Some((pid, sn))) if pid == cn_model => (pid.to_owned(), Some(sn.to_owned())),
        Some(Some((pid, _))) => {
            return Err(NoIdentity::Inconsistent(format!(
                "commonName names model {:?} but serialNumber names PID {:?}",
                excerpt(cn_model),
                excerpt(pid)
            )));
        }
        Some(None) => {
            return Err(NoIdentity::UnexpectedShape {
                attribute: "serialNumber".into(),
                value: excerpt(serial_number.as_deref().unwrap_or_default()),
                expected: "PID:<model> SN:<serial>",
            });
        }
    };
    Ok(Found { mac, serial, model: Some(model) })
}

/// Splits `PID:CP-8861 SN:FCH2133E8B9` into its two non-empty values.
fn parse_pid_sn(value: &str) -> Option<(&str, &str)> {
    let (pid, sn) = value.split_once(' ')?;
    let pid = pid.strip_prefix("PID:")?;
    let sn = sn.strip_prefix("SN:")?;
    let valid = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    (valid(pid) && valid(sn)).then_some((pid, sn))
}

/// MAC in stateOrProvinceName, serial in localityName, product in OU.
pub(super) fn identify_mpp(cert: &CertificateView<'_>) -> Result<Found, NoIdentity> {
    let state = Attribute::known("2.5.4.8");
    let locality = cert.optional(&Attribute::known("2.5.4.7"))?;
    let unit = cert.optional(&Attribute::known("2.5.4.11"))?;
    let mac_value = cert.single(&state)?;
    let generic = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("ciscogeneric"));
    if generic(Some(&mac_value)) || generic(locality.as_deref()) || unit.as_deref() == Some("cisco.com") {
        return Err(NoIdentity::GenericCertificate { vendor: "cisco", detail: "ciscogeneric subject" });
    }
    if mac_value.len() != 12 {
        return Err(NoIdentity::NotAMac { attribute: state.name, value: excerpt(&mac_value) });
    }
    let mac = Mac::parse(&mac_value)
        .map_err(|_| NoIdentity::NotAMac { attribute: state.name, value: excerpt(&mac_value) })?;
    Ok(Found { mac, serial: locality, model: unit })
}
