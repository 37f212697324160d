//! Grandstream: XML `<gs_provision>` whose `<config version="1">` holds P-values
//! (`P35` user, `P36` auth id, `P34` password, `P47` server, `P270` account name).
//!
//! The phone asks for `cfg{mac}.xml`, or `cfg{mac}` without an extension on old firmware.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

const fn file(
    pattern: &'static str,
    kind: FileKind,
    template: Option<&'static str>,
    purpose: &'static str,
) -> ProfileFile {
    ProfileFile { vendor: Vendor::Grandstream, pattern, kind, format: Format::Xml, template, purpose }
}

/// Grandstream's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Grandstream,
    files: &[
        file(
            "cfg{mac}[.xml]",
            FileKind::Device,
            Some("grandstream/device.xml"),
            "the device's config (old firmware: no extension)",
        ),
        file("cfg{mac}.bin", FileKind::Device, None, "the device's config in binary form; not served"),
        file("cfg{model}.xml", FileKind::Common, None, "config of every phone of a model (cfggrp2614.xml); not served"),
        file("cfg.xml", FileKind::Common, None, "config of every phone; not served"),
        file("phonebook.xml", FileKind::Common, None, "phone book; not served"),
    ],
    hardening: Hardening {
        checks: &[
            Check { rule: Rule::NoAdminPassword, key: "P2", expect: Expect::Secret { prefix: "" } },
            // Phones read P2347, the ATAs P243 (port 1, profile 1).
            Check { rule: Rule::SipFromAnyone, key: "P2347|P243", expect: Expect::OneOf(&["1"]) },
            Check { rule: Rule::ServerCertNotVerified, key: "P8463", expect: Expect::OneOf(&["1"]) },
            Check { rule: Rule::PlainProvisioningUrl, key: "P212", expect: Expect::OneOf(&["2"]) },
        ],
        unenforced: &[
            (
                Rule::CallFeaturesEditable,
                "no P-value locks call forward on the phone across GXP/GRP firmware; P191 turns the phone's own \
                 call features off, but whether it hides the forward menu is not documented",
            ),
            (
                Rule::WebUiEnabled,
                "P1650's values differ by family: 2 turns web access off on GRP26xx and WP810 only (the template \
                 writes it there, HTTPS only elsewhere), and the linter does not know the model",
            ),
        ],
        secret_keys: &["P34", "P2"],
        unverified: &[(
            "P8463",
            "in no GXP P-value template (GXP21xx 1.0.11.x reads security.validate.serverCertificate)",
        )],
    },
    password_key: "P34",
    lines: Lines {
        // The phone layout of the template holds six accounts (GXP2120); the ATAs' ports are
        // their accounts, in the layouts the template renders for HT80x and HT81x.
        most: 6,
        models: &[
            ("GXP21", 4),
            ("GXP2120", 6),
            ("HT801", 1),
            ("HT802", 2),
            ("HT812", 2),
            ("HT813", 2),
            ("HT814", 4),
            ("HT818", 8),
        ],
    },
    keys: KeyLayout { blf: true, speed_dial: true, most: 7 },
    read,
};

/// Reads `<gs_provision>` into `(name, text)` pairs: the P-values inside `<config>`, and any
/// other child (such as `<mac>`) by its name.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Grandstream XML", &["gs_provision"])?;
    let mut pairs = Vec::new();
    for child in &root.children {
        let settings: &[xml::Element] =
            if child.name == "config" { &child.children } else { std::slice::from_ref(child) };
        for setting in settings {
            if !setting.children.is_empty() {
                return Err(unreadable(format!("<{}> has children; a setting has none", setting.name)));
            }
            pairs.push((setting.name.clone(), setting.text.clone()));
        }
    }
    Ok(pairs)
}

fn unreadable(detail: String) -> TemplateError {
    TemplateError::Unreadable { format: "Grandstream XML", line: 1, detail }
}
