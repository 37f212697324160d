//! Yealink: `key = value` files whose first line is exactly `#!version:1.0.0.1`.
//!
//! The phone asks for `y000000000000.boot`, then its model's common file `y0000000000NN.cfg`
//! (NN is the model id, the first number of the firmware version: T46G 28, T46S 66, T54W 96,
//! ...), then `{mac}.cfg`. sipprov serves `{mac}.cfg` only: without a boot file and a common
//! file the phone carries on with its own file, so everything lives where the certificate
//! authorizes it.

use crate::format::key_value;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

/// The header Yealink phones require on the first line of every config file.
pub const HEADER: &str = "#!version:1.0.0.1";

const fn file(
    pattern: &'static str,
    kind: FileKind,
    template: Option<&'static str>,
    purpose: &'static str,
) -> ProfileFile {
    let format = match kind {
        FileKind::Firmware => Format::Opaque,
        _ => Format::KeyValue,
    };
    ProfileFile { vendor: Vendor::Yealink, pattern, kind, format, template, purpose }
}

/// Yealink's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Yealink,
    files: &[
        file("y000000000000.boot", FileKind::Common, None, "boot file naming the files to load; not served"),
        file("y0000000000{nn}.cfg", FileKind::Common, None, "common file of one model (nn = model id); not served"),
        file(
            "y000000000{nnn}.cfg",
            FileKind::Common,
            None,
            "common file of a model with a three-digit id (T4xU, T5x, W70B, W80B, W90B); not served",
        ),
        file("{mac}.boot", FileKind::Device, None, "per-device boot file (some models); not served"),
        file("{mac}.cfg", FileKind::Device, Some("yealink/device.cfg"), "the device's config: account, hardening"),
        file("{mac}-local.cfg", FileKind::Device, None, "settings changed on the phone (custom.sync); not served"),
        ProfileFile {
            vendor: Vendor::Yealink,
            pattern: "directory.xml",
            kind: FileKind::Common,
            format: Format::Xml,
            template: None,
            purpose: "remote phone book; not served",
        },
        ProfileFile {
            vendor: Vendor::Yealink,
            pattern: "favorite_setting.xml",
            kind: FileKind::Common,
            format: Format::Xml,
            template: None,
            purpose: "favourites; not served",
        },
        file("{file}.rom", FileKind::Firmware, None, "firmware image"),
    ],
    hardening: Hardening {
        checks: &[
            Check {
                rule: Rule::NoAdminPassword,
                key: "static.security.user_password",
                expect: Expect::Secret { prefix: "admin:" },
            },
            Check { rule: Rule::WebUiEnabled, key: "static.wui.http_enable", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::WebUiEnabled, key: "static.wui.https_enable", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::CallFeaturesEditable, key: "features.fwd.allow", expect: Expect::OneOf(&["0"]) },
            Check { rule: Rule::SipFromAnyone, key: "sip.trust_ctrl", expect: Expect::OneOf(&["1"]) },
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "static.security.trust_certificates",
                expect: Expect::OneOf(&["1"]),
            },
            Check {
                rule: Rule::PlainProvisioningUrl,
                key: "static.auto_provision.server.url",
                expect: Expect::HttpsUrl,
            },
        ],
        unenforced: &[],
        secret_keys: &["account.1.password", "static.security.user_password"],
        unverified: &[(
            "account.*.srtp_encryption",
            "the values 1 and 2 (optional, required) are disputed: a FusionPBX comment reads 1 forced, 2 negotiated",
        )],
    },
    password_key: "account.1.password",
    lines: Lines {
        most: 16,
        // Wazo provd's account counts per model (plugins wazo_yealink v85-v87).
        models: &[
            ("T54", 16),
            ("T46", 16),
            ("T48", 16),
            ("T57", 16),
            ("T58", 16),
            ("T53", 12),
            ("T43", 12),
            ("T42", 12),
            ("T41", 6),
            ("T27", 6),
            ("T33", 4),
            ("T31", 2),
            ("T30", 1),
            ("CP920", 1),
            ("W60B", 8),
            ("W70B", 10),
        ],
    },
    keys: KeyLayout { blf: true, speed_dial: true, most: 64 },
    read,
};

/// Reads a Yealink config file back into its `(key, value)` pairs.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    key_value::read(text, HEADER)
}
