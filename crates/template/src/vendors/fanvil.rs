//! Fanvil: XML `<sysConf>` despite the `.cfg` name, settings as nested elements.
//!
//! The phone asks for a model common file (`F0V00X600000.cfg`, `f0X4hw1.100.cfg`, or the old
//! text format `fanvil_x210_v2_hwv2_0.txt`), then `{mac}.cfg`. sipprov serves `{mac}.cfg` only.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

const fn file(
    pattern: &'static str,
    kind: FileKind,
    template: Option<&'static str>,
    purpose: &'static str,
) -> ProfileFile {
    ProfileFile { vendor: Vendor::Fanvil, pattern, kind, format: Format::Xml, template, purpose }
}

/// Fanvil's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Fanvil,
    files: &[
        file("F0V{name}.cfg", FileKind::Common, None, "model common file; not served"),
        file("f0{name}hw{file}.cfg", FileKind::Common, None, "model and hardware common file; not served"),
        ProfileFile {
            vendor: Vendor::Fanvil,
            pattern: "fanvil_{name}.txt",
            kind: FileKind::Common,
            format: Format::Opaque,
            template: None,
            purpose: "model common file in the old text format; not served",
        },
        file("{mac}.cfg", FileKind::Device, Some("fanvil/device.cfg"), "the device's config"),
    ],
    hardening: Hardening {
        checks: &[
            Check { rule: Rule::NoAdminPassword, key: "WEB.AdminPassword", expect: Expect::Secret { prefix: "" } },
            Check { rule: Rule::WebUiEnabled, key: "WEB.HttpEnable", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::WebUiEnabled, key: "WEB.HttpsEnable", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::CallFeaturesEditable, key: "PHONE.CallForwardEditable", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::SipFromAnyone, key: "SIP.Line[1].StrictProxy", expect: Expect::OneOf(&["1"]) },
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "AUTOPROVISION.VerifyServerCert",
                expect: Expect::OneOf(&["1"]),
            },
            Check { rule: Rule::PlainProvisioningUrl, key: "AUTOPROVISION.ServerAddress", expect: Expect::HttpsUrl },
        ],
        unenforced: &[],
        secret_keys: &["SIP.Line[1].RegisterPassword", "WEB.AdminPassword"],
    },
    password_key: "SIP.Line[1].RegisterPassword",
    lines: Lines {
        most: 20,
        models: &[
            ("X1", 2),
            ("X3", 6),
            ("X3SG", 4),
            ("X3U", 6),
            ("X4", 6),
            ("X4U", 12),
            ("X5", 6),
            ("X5U", 16),
            ("X6", 20),
            ("X7", 20),
            ("X210", 20),
        ],
    },
    keys: KeyLayout::NONE,
    read,
};

/// Reads `<sysConf>` into `(path, text)` pairs: element names below the root joined with `.`,
/// an element with an `id` attribute written `name[id]` (`SIP.Line[1].PhoneNumber`).
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Fanvil XML", &["sysConf"])?;
    let mut pairs = Vec::new();
    for child in &root.children {
        flatten(child, "", &mut pairs);
    }
    Ok(pairs)
}

fn flatten(element: &xml::Element, parent: &str, pairs: &mut Vec<(String, String)>) {
    let mut path = if parent.is_empty() { element.name.clone() } else { format!("{parent}.{}", element.name) };
    if let Some(id) = element.attribute("id") {
        path = format!("{path}[{id}]");
    }
    if element.children.is_empty() {
        pairs.push((path, element.text.clone()));
    } else {
        for child in &element.children {
            flatten(child, &path, pairs);
        }
    }
}
