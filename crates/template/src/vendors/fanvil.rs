//! Fanvil: XML `<sysConf>` despite the `.cfg` name: lowercase modules (`sip`, `web`, `ap`),
//! repeated blocks numbered by an `index` attribute (`<line index="1">`), as firmware 2.x reads
//! it. Every key and its reference: `docs/vendors/fanvil.md`.
//!
//! The phone asks for a model common file (`F0V00X600000.cfg`, `f0X4hw1.100.cfg`), its firmware
//! check file (`fanvil_x210_v2_hwv2_0.txt`), then `{mac}.cfg`. sipprov serves `{mac}.cfg`, and a
//! check file only in a firmware target's directory (`/firmware/<sha256>/`, named in the
//! config), where the phone listener writes it.

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
        // Spelled out: a generic `F0{name}.cfg` would also match Yealink's MACs (OUI f0:16:53).
        file("F0000X600000.cfg", FileKind::Common, None, "X6 common file; not served"),
        file("f0C00580000.cfg", FileKind::Common, None, "C58 common file; not served"),
        file("f0C00620000.cfg", FileKind::Common, None, "C62 common file; not served"),
        ProfileFile {
            vendor: Vendor::Fanvil,
            pattern: "fanvil_{name}.txt",
            kind: FileKind::Common,
            format: Format::Opaque,
            template: None,
            purpose: "firmware check file (Version=, Firmware=); not served here, only in a target's directory",
        },
        file("{mac}.cfg", FileKind::Device, Some("fanvil/device.cfg"), "the device's config"),
    ],
    hardening: Hardening {
        checks: &[
            Check {
                rule: Rule::NoAdminPassword,
                key: "web.account[1].Password",
                expect: Expect::Secret { prefix: "" },
            },
            Check { rule: Rule::SipFromAnyone, key: "sip.line[1].StrictProxy", expect: Expect::OneOf(&["1"]) },
            Check { rule: Rule::PlainProvisioningUrl, key: "ap.FlashServerIP", expect: Expect::HttpsUrl },
            Check { rule: Rule::PlainProvisioningUrl, key: "ap.FlashProtocol", expect: Expect::OneOf(&["5"]) },
        ],
        unenforced: &[
            (
                Rule::WebUiEnabled,
                "no reference documents a web/WebServerType value that turns the web server off (every peer writes 0)",
            ),
            (Rule::CallFeaturesEditable, "no reference has a call-forward lock; only per-line forward settings"),
            (
                Rule::ServerCertNotVerified,
                "no reference names a certificate check for provisioning (dot1x/sslMode is undocumented)",
            ),
        ],
        secret_keys: &["sip.line[1].RegisterPswd", "sip.line[1].ProxyPswd", "web.account[1].Password"],
        unverified: &[
            ("sip.line[*].MediaCrypto", "only 0 (off) is evidenced; 1 and 2 rest on peers' usage"),
            ("sip.line[*].StrictProxy", "the name is referenced, its meaning inferred (every peer writes 1)"),
        ],
    },
    password_key: "sip.line[1].RegisterPswd",
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
/// an element with an `index` attribute written `name[index]` (`sip.line[1].PhoneNumber`).
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
    if let Some(index) = element.attribute("index") {
        path = format!("{path}[{index}]");
    }
    if element.children.is_empty() {
        pairs.push((path, element.text.clone()));
    } else {
        for child in &element.children {
            flatten(child, &path, pairs);
        }
    }
}
