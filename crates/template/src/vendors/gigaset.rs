//! Gigaset Nx70 (N610, N670, N770, N870, N870E IP PRO): XML `<provisioning version="1.1">` with
//! `<param name="SipAccount.00001.AuthName" value="..."/>` settings. Accounts are numbered by
//! handset slot (`00001`), provider profiles from 0 (`SipProvider.0`), and each account names
//! its provider (`SipAccount.00001.ProviderId`). Every key and its reference:
//! `docs/vendors/gigaset.md`.
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
            Check {
                rule: Rule::NoAdminPassword,
                key: "WebUIAccounts.1.Password",
                expect: Expect::Secret { prefix: "" },
            },
            Check {
                rule: Rule::PlainProvisioningUrl,
                key: "Provisioning.global.ProvisioningServer",
                expect: Expect::HttpsUrl,
            },
        ],
        unenforced: &[
            (
                Rule::CallFeaturesEditable,
                "call forward is set per handset on a DECT system, not in the base's provisioning file",
            ),
            (Rule::WebUiEnabled, "no reference for the Nx70 names a parameter that turns the web UI off"),
            (Rule::SipFromAnyone, "no reference names a parameter that accepts SIP only from the registrar"),
            (Rule::ServerCertNotVerified, "no reference names a certificate check for provisioning"),
        ],
        secret_keys: &["SipAccount.00001.AuthPassword", "WebUIAccounts.1.Password"],
        unverified: &[
            (
                "SipProvider.*.OutboundProxyMode",
                "Wazo writes 0 with a proxy and 2 without; the labels are undocumented",
            ),
            ("SipProvider.*.AcceptNonSRTPCalls", "the name is referenced (Wazo always writes 0), its meaning inferred"),
        ],
    },
    password_key: "SipAccount.00001.AuthPassword",
    // Accounts per base (Wazo's plugin-info for firmware 2.65): the N870 holds the most.
    lines: Lines { most: 250, models: &[("N610", 8), ("N670", 20), ("N770", 100), ("N870", 250)] },
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
