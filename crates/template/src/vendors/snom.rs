//! Snom D-series: XML `<settings><phone-settings>` with one element per setting.
//!
//! The phone fetches the URL in its `setting_server`: sipprov hands out
//! `https://.../snom{model}-{mac}.htm` style names (Snom substitutes the MAC) and also answers
//! `{MAC}.xml`; both are the device's settings. `perm="R"` makes a setting read-only for the
//! user. Snom also sends its MAC as `?mac=`: the query is not part of the path and is ignored.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

const fn file(
    pattern: &'static str,
    kind: FileKind,
    template: Option<&'static str>,
    purpose: &'static str,
) -> ProfileFile {
    ProfileFile { vendor: Vendor::Snom, pattern, kind, format: Format::Xml, template, purpose }
}

/// Snom's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Snom,
    files: &[
        file(
            "snom{name}-{MAC}.htm",
            FileKind::Device,
            Some("snom/device.xml"),
            "the device's settings, by model and MAC",
        ),
        file("{MAC}.xml", FileKind::Device, Some("snom/device.xml"), "the device's settings, by MAC"),
        file("snom{name}.xml", FileKind::Common, None, "settings for every phone of a model; not served"),
        file("snom{name}.htm", FileKind::Common, None, "first file of a model, with a bare option 66; not served"),
        file("snom{name}-firmware.xml", FileKind::Common, None, "which firmware a model loads; not served"),
    ],
    hardening: Hardening {
        checks: &[
            Check { rule: Rule::NoAdminPassword, key: "admin_mode_password", expect: Expect::Secret { prefix: "" } },
            Check { rule: Rule::NoAdminPassword, key: "http_pass", expect: Expect::Secret { prefix: "" } },
            Check { rule: Rule::WebUiEnabled, key: "webserver_type", expect: Expect::OneOf(&["off"]) },
            // Per identity on D-series firmware 8.7.3 and later; redirect_event before that.
            Check { rule: Rule::CallFeaturesEditable, key: "fwd_all_enabled[1]", expect: Expect::OneOf(&["off"]) },
            Check { rule: Rule::CallFeaturesEditable, key: "fwd_all_enabled[1]@perm", expect: Expect::OneOf(&["R"]) },
            Check { rule: Rule::CallFeaturesEditable, key: "redirect_event", expect: Expect::OneOf(&["none"]) },
            Check { rule: Rule::SipFromAnyone, key: "filter_registrar", expect: Expect::OneOf(&["on"]) },
            // check_fqdn_against_server_cert (8.8.3.26 and later) has no effect on v8 firmware
            // unless TLS server authentication is on.
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "check_fqdn_against_server_cert",
                expect: Expect::OneOf(&["on"]),
            },
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "tls_server_authentication",
                expect: Expect::OneOf(&["on"]),
            },
            Check { rule: Rule::PlainProvisioningUrl, key: "setting_server", expect: Expect::HttpsUrl },
        ],
        unenforced: &[],
        secret_keys: &["user_pass[1]", "admin_mode_password", "http_pass"],
        unverified: &[
            ("webserver_type", "the value off has no reference (http_https and https do)"),
            ("filter_registrar", "written by peers only; no Snom page found"),
            ("tls_server_authentication", "its values are not documented in what was found"),
        ],
    },
    password_key: "user_pass[1]",
    lines: Lines { most: 12, models: &[] },
    keys: KeyLayout { blf: true, speed_dial: true, most: 64 },
    read,
};

/// Reads `<settings>` into `(name, text)` pairs: `name[idx]` for indexed settings, and
/// `name[idx]@perm` (any attribute but `idx`) for their attributes.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Snom XML", &["settings"])?;
    let mut pairs = Vec::new();
    for section in &root.children {
        for setting in &section.children {
            if !setting.children.is_empty() {
                return Err(unreadable(format!("<{}> has children; a setting has none", setting.name)));
            }
            let key = match setting.attribute("idx") {
                Some(idx) => format!("{}[{idx}]", setting.name),
                None => setting.name.clone(),
            };
            pairs.push((key.clone(), setting.text.clone()));
            for (attribute, value) in setting.attributes.iter().filter(|(a, _)| a != "idx") {
                pairs.push((format!("{key}@{attribute}"), value.clone()));
            }
        }
    }
    Ok(pairs)
}

fn unreadable(detail: String) -> TemplateError {
    TemplateError::Unreadable { format: "Snom XML", line: 1, detail }
}
