//! Cisco SPA and MPP (3PCC): XML `<flat-profile>` with one element per setting.
//!
//! An SPA asks first for `spa{model}.cfg` (the PAP2T for `init.cfg`), an MPP phone for
//! `{model}-3PCC.xml`; that file's `Profile_Rule` then points at `$MA.xml`, the device's own
//! profile (`$MA` is the MAC, lowercase). Enterprise (CUCM) firmware files (`SEP{MAC}.cnf.xml`,
//! `CTLSEP{MAC}.tlv`, `ITLFile.tlv`, `SIP{MAC}.cnf`) are not recognised: sipprov does not
//! provision enterprise firmware, and scanners ask for them.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

const fn file(pattern: &'static str, kind: FileKind, template: &'static str, purpose: &'static str) -> ProfileFile {
    ProfileFile { vendor: Vendor::Cisco, pattern, kind, format: Format::Xml, template: Some(template), purpose }
}

/// Cisco SPA/MPP's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Cisco,
    files: &[
        file(
            "spa{name}.cfg",
            FileKind::Common,
            "cisco/common.xml",
            "first file of an SPA phone: points to its own profile",
        ),
        file("init.cfg", FileKind::Common, "cisco/common.xml", "first file of a PAP2T: points to its own profile"),
        file(
            "ata{nnn}.cfg",
            FileKind::Common,
            "cisco/common.xml",
            "first file of an ATA 191/192 (ata$PSN.cfg): points to its own profile",
        ),
        file(
            "{name}-3PCC.xml",
            FileKind::Common,
            "cisco/common.xml",
            "first file of an MPP phone: points to its own profile",
        ),
        file("{mac}.xml", FileKind::Device, "cisco/device.xml", "the device's profile ($MA.xml): account, hardening"),
    ],
    hardening: Hardening {
        checks: &[
            // SPA firmware reads Admin_Passwd; MPP (3PCC) firmware Admin_Password.
            Check { rule: Rule::NoAdminPassword, key: "Admin_Passwd", expect: Expect::Secret { prefix: "" } },
            Check { rule: Rule::NoAdminPassword, key: "Admin_Password", expect: Expect::Secret { prefix: "" } },
            Check { rule: Rule::WebUiEnabled, key: "Enable_Web_Server", expect: Expect::OneOf(&["No"]) },
            Check { rule: Rule::CallFeaturesEditable, key: "Cfwd_Setting", expect: Expect::OneOf(&["No"]) },
            Check { rule: Rule::SipFromAnyone, key: "Restrict_Source_IP_1_", expect: Expect::OneOf(&["Yes"]) },
            Check { rule: Rule::PlainProvisioningUrl, key: "Profile_Rule", expect: Expect::HttpsUrl },
        ],
        unenforced: &[(
            Rule::ServerCertNotVerified,
            "SPA/MPP firmware has no setting to turn verification of an https:// Profile_Rule server off or on; \
             it checks the server against its built-in CA list (and a Custom CA, if configured)",
        )],
        secret_keys: &["Password_1_", "Admin_Passwd", "Admin_Password"],
        unverified: &[
            ("Restrict_Source_IP_*_", "documented for the ATAs only; SPA5xx and MPP phones may ignore it"),
            ("Use_Outbound_Proxy_*_", "MPP references write only Outbound_Proxy_N_"),
        ],
    },
    password_key: "Password_1_",
    lines: Lines {
        most: 16,
        models: &[
            ("SPA112", 2),
            ("SPA122", 2),
            ("ATA191", 2),
            ("ATA192", 2),
            ("SPA504", 4),
            ("SPA508", 8),
            ("SPA509", 12),
            ("SPA525", 5),
            ("SPA942", 4),
            ("SPA962", 6),
            ("CP-88", 10),
            ("CP-78", 10),
            ("CP-68", 4),
        ],
    },
    keys: KeyLayout { blf: true, speed_dial: true, most: 16 },
    read,
};

/// Reads a `<flat-profile>` into `(element, text)` pairs; an attribute such as `ua="na"` is
/// returned as `element@ua`.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Cisco XML", &["flat-profile"])?;
    let mut pairs = Vec::new();
    for element in &root.children {
        if !element.children.is_empty() {
            return Err(TemplateError::Unreadable {
                format: "Cisco XML",
                line: 1,
                detail: format!("<{}> has children; a flat profile has none", element.name),
            });
        }
        pairs.push((element.name.clone(), element.text.clone()));
        for (attribute, value) in &element.attributes {
            pairs.push((format!("{}@{attribute}", element.name), value.clone()));
        }
    }
    Ok(pairs)
}
