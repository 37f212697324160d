//! Polycom / Poly (VVX, SoundPoint IP, Trio): XML with settings as attributes.
//!
//! The phone asks for its per-device master file `{mac}.cfg`, else the shared master file
//! `000000000000.cfg`, whose `CONFIG_FILES` names the config files to load. sipprov serves the
//! shared master file only, naming `[PHONE_MAC_ADDRESS]-sipprov.cfg` (the phone substitutes its
//! own MAC): `{mac}-sipprov.cfg` is the device's config. The override files the phone keeps for
//! local changes (`{mac}-phone.cfg`, `{mac}-web.cfg`) and the directory and license files are
//! recognised and not served. The phone PUTs its logs as `{mac}-boot.log` and `{mac}-app.log`.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

const fn file(
    pattern: &'static str,
    kind: FileKind,
    template: Option<&'static str>,
    purpose: &'static str,
) -> ProfileFile {
    let format = match kind {
        FileKind::Firmware | FileKind::Upload => Format::Opaque,
        _ => Format::Xml,
    };
    ProfileFile { vendor: Vendor::Polycom, pattern, kind, format, template, purpose }
}

/// Polycom's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Polycom,
    files: &[
        file("000000000000.cfg", FileKind::Common, Some("polycom/master.cfg"), "master file: names the files to load"),
        file(
            "{mac}-sipprov.cfg",
            FileKind::Device,
            Some("polycom/device.cfg"),
            "the device's config, named by the master file",
        ),
        // Asked for before the shared master file; listed after the config, which is the
        // device file that carries its accounts.
        file(
            "{mac}.cfg",
            FileKind::Device,
            Some("polycom/master-device.cfg"),
            "per-device master file: the shared one's files and the device's firmware target; carries no secret",
        ),
        file("{mac}-phone.cfg", FileKind::Device, None, "settings changed on the phone; not served"),
        file("{mac}-web.cfg", FileKind::Device, None, "settings changed in the web UI; not served"),
        file("000000000000-license.cfg", FileKind::Common, None, "shared feature license; not served"),
        file("{mac}-license.cfg", FileKind::Device, None, "device feature license; not served"),
        file("000000000000-directory.xml", FileKind::Common, None, "shared contact directory; not served"),
        file("{mac}-directory.xml", FileKind::Device, None, "device contact directory; not served"),
        file("{mac}-calls.xml", FileKind::Device, None, "call lists; not served"),
        file("sip.ld", FileKind::Firmware, None, "firmware image (all models)"),
        file("{file}.sip.ld", FileKind::Firmware, None, "firmware image (one model)"),
        file("bootrom.ld", FileKind::Firmware, None, "BootROM image (SoundPoint, SoundStation IP)"),
        file("{file}.bootrom.ld", FileKind::Firmware, None, "BootROM image (one model)"),
        file("Leaf{name}.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Sailboat{name}.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Beach{name}.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Palm{name}.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Leaf.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Sailboat.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Beach.jpg", FileKind::Common, None, "factory background image; not served"),
        file("Palm.jpg", FileKind::Common, None, "factory background image; not served"),
        file("{mac}-boot.log", FileKind::Upload, None, "boot log, uploaded with PUT"),
        file("{mac}-app.log", FileKind::Upload, None, "application log, uploaded with PUT"),
    ],
    hardening: Hardening {
        checks: &[
            Check {
                rule: Rule::NoAdminPassword,
                key: "device.auth.localAdminPassword",
                expect: Expect::Secret { prefix: "" },
            },
            Check { rule: Rule::WebUiEnabled, key: "httpd.enabled", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::CallFeaturesEditable, key: "divert.fwd.1.enabled", expect: Expect::OneOf(&["0"]) },
            Check {
                rule: Rule::SipFromAnyone,
                key: "voIpProt.SIP.requestValidation.1.method",
                expect: Expect::OneOf(&["source", "both"]),
            },
            // A device.* value applies only with its own .set = 1 (and device.set = 1).
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "device.sec.TLS.prov.strictCertCommonNameValidation",
                expect: Expect::OneOf(&["1"]),
            },
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "device.sec.TLS.prov.strictCertCommonNameValidation.set",
                expect: Expect::OneOf(&["1"]),
            },
            // FusionPBX writes the number (3 = HTTPS), other references the name.
            Check {
                rule: Rule::PlainProvisioningUrl,
                key: "device.prov.serverType",
                expect: Expect::OneOf(&["3", "HTTPS"]),
            },
            Check { rule: Rule::PlainProvisioningUrl, key: "device.prov.serverName", expect: Expect::HttpsUrl },
        ],
        unenforced: &[],
        secret_keys: &["reg.1.auth.password", "device.auth.localAdminPassword"],
        unverified: &[(
            "device.prov.serverType",
            "FusionPBX documents the number 3 for HTTPS, other references the name HTTPS",
        )],
    },
    password_key: "reg.1.auth.password",
    lines: Lines {
        // Up to 34 registrations with three expansion modules (UC Software 4.1.6); per model,
        // the line keys.
        most: 34,
        models: &[("VVX1", 2), ("VVX2", 2), ("VVX25", 4), ("VVX3", 6), ("VVX4", 12), ("VVX5", 12), ("VVX6", 16)],
    },
    keys: KeyLayout { blf: true, speed_dial: false, most: 64 },
    read,
};

/// Reads a Polycom file (`<polycomConfig>` or a master file `<APPLICATION>`) into its
/// `(attribute, value)` pairs, in document order: every attribute of every element is a setting.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Polycom XML", &["polycomConfig", "APPLICATION"])?;
    let mut pairs = Vec::new();
    collect(&root, &mut pairs);
    Ok(pairs)
}

fn collect(element: &xml::Element, pairs: &mut Vec<(String, String)>) {
    pairs.extend(element.attributes.iter().cloned());
    for child in &element.children {
        collect(child, pairs);
    }
}
