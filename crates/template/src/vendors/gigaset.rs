//! Gigaset Nx70 (N670, N870 IP PRO): XML `<provisioning version="1.1">` with
//! `<param name="SipAccount.00001.AuthName" value="..."/>` settings.
//!
//! The base asks for `{mac}.xml`.

use crate::format::xml;
use crate::lint::{Check, Expect, Hardening, Rule};
use crate::{FileKind, Format, KeyLayout, Lines, ProfileFile, TemplateError, Vendor, VendorProfile};

/// Gigaset's files, formats and policy.
pub const PROFILE: VendorProfile = VendorProfile {
    vendor: Vendor::Gigaset,
    files: &[ProfileFile {
        vendor: Vendor::Gigaset,
        pattern: "{mac}.xml",
        kind: FileKind::Device,
        format: Format::Xml,
        template: Some("gigaset/device.xml"),
        purpose: "the base's config",
    }],
    hardening: Hardening {
        checks: &[
            Check { rule: Rule::NoAdminPassword, key: "WebUI.AdminPassword", expect: Expect::Secret { prefix: "" } },
            Check { rule: Rule::WebUiEnabled, key: "WebUI.HttpAccess", expect: Expect::OneOf(&["0"]) },
            Check {
                rule: Rule::SipFromAnyone,
                key: "SipProvider.00001.AcceptFromRegistrarOnly",
                expect: Expect::OneOf(&["1"]),
            },
            Check {
                rule: Rule::ServerCertNotVerified,
                key: "Provisioning.VerifyServerCertificate",
                expect: Expect::OneOf(&["1"]),
            },
            Check { rule: Rule::PlainProvisioningUrl, key: "Provisioning.ServerUrl", expect: Expect::HttpsUrl },
        ],
        unenforced: &[(
            Rule::CallFeaturesEditable,
            "call forward is set per handset on a DECT system, not in the base's provisioning file",
        )],
        secret_keys: &["SipAccount.00001.AuthPassword", "WebUI.AdminPassword"],
    },
    password_key: "SipAccount.00001.AuthPassword",
    lines: Lines { most: 64, models: &[("N510", 6)] },
    keys: KeyLayout::NONE,
    read,
};

/// Reads `<provisioning>` into the `(name, value)` of every `<param>`, in document order.
pub fn read(text: &str) -> Result<Vec<(String, String)>, TemplateError> {
    let root = xml::read_document(text, "Gigaset XML", &["provisioning"])?;
    let mut pairs = Vec::new();
    collect(&root, &mut pairs)?;
    Ok(pairs)
}

fn collect(element: &xml::Element, pairs: &mut Vec<(String, String)>) -> Result<(), TemplateError> {
    for child in &element.children {
        if child.name == "param" {
            let (Some(name), Some(value)) = (child.attribute("name"), child.attribute("value")) else {
                return Err(unreadable("a <param> without name or value".into()));
            };
            pairs.push((name.to_owned(), value.to_owned()));
        } else {
            collect(child, pairs)?;
        }
    }
    Ok(())
}

fn unreadable(detail: String) -> TemplateError {
    TemplateError::Unreadable { format: "Gigaset XML", line: 1, detail }
}
