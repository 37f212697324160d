//! The Linphone softphone: XML `<config>` of `<section name>` holding `<entry name>` values.
//!
//! Linphone fetches the `[misc] config-uri` it was given; sipprov hands out
//! `https://.../{mac}.xml`, where `{mac}` is the softphone's inventory key. It sends no client
//! certificate, speaks TLS 1.2 only, and applies only a 200. An entry without
//! `overwrite="true"` does not replace what the user set, and an absent entry keeps its value.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

const NO_DEVICE_UI: &str = "a softphone has no device web UI or admin menu to protect";

/// Linphone's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Linphone,
    files: &[ProfileFile {
        vendor: Vendor::Linphone,
        pattern: "{mac}.xml",
        kind: FileKind::Device,
        format: Format::Xml,
        template: Some("linphone/device.xml"),
        purpose: "the softphone's remote provisioning file (config-uri)",
    }],
    hardening: Hardening {
        checks: &[
            Check { rule: Rule::ServerCertNotVerified, key: "sip.verify_server_certs", expect: Expect::OneOf(&["1"]) },
            Check { rule: Rule::ServerCertNotVerified, key: "sip.verify_server_cn", expect: Expect::OneOf(&["1"]) },
            Check { rule: Rule::PlainProvisioningUrl, key: "misc.config-uri", expect: Expect::HttpsUrl },
        ],
        unenforced: &[
            (Rule::NoAdminPassword, NO_DEVICE_UI),
            (Rule::WebUiEnabled, NO_DEVICE_UI),
            (Rule::CallFeaturesEditable, "the user of a softphone controls its call features"),
            (Rule::SipFromAnyone, "Linphone has no setting for it; it talks to the proxy it registers with"),
        ],
        secret_keys: &["auth_info_0.passwd"],
        unverified: &[],
    },
    password_key: "auth_info_0.passwd",
    lines: Lines { most: 64, models: &[] },
    keys: KeyLayout::NONE,
    read,
};

/// Reads `<config>` into `(section.entry, text)` pairs; an entry's attributes (`overwrite`)
/// are returned as `section.entry@overwrite`.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Linphone XML", &["config"])?;
    let mut pairs = Vec::new();
    for section in &root.children {
        let Some(section_name) = section.attribute("name").filter(|_| section.name == "section") else {
            return Err(unreadable(format!("<{}> where a <section name> belongs", section.name)));
        };
        for entry in &section.children {
            let Some(entry_name) = entry.attribute("name").filter(|_| entry.name == "entry") else {
                return Err(unreadable(format!("<{}> where an <entry name> belongs", entry.name)));
            };
            let key = format!("{section_name}.{entry_name}");
            pairs.push((key.clone(), entry.text.clone()));
            for (attribute, value) in entry.attributes.iter().filter(|(a, _)| a != "name") {
                pairs.push((format!("{key}@{attribute}"), value.clone()));
            }
        }
    }
    Ok(pairs)
}

fn unreadable(detail: String) -> TemplateError {
    TemplateError::Unreadable { format: "Linphone XML", line: 1, detail }
}
