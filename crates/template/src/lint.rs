//! Checking a rendered config against the hardening policy.
//!
//! The policy (ITSPA "wider security", VENDORS.md section 6) per device file: a per-device admin
//! password, the phone's web UI off, call features not editable on the phone, SIP accepted only
//! from the registrar, the provisioning server's certificate verified, an `https://`
//! provisioning URL. Each vendor's [`Hardening`] says which keys express each rule; a rule the
//! vendor has no key for is listed with the reason in [`Hardening::unenforced`] and documented
//! in `docs/templates.md`. A common file must carry no secret at all.
//!
//! The linter reads the file back with the vendor's reader, so it sees what the phone sees.

use std::fmt;

use crate::{FileKind, TemplateError, Vendor};

/// One rule of the hardening policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The phone's admin password is missing, empty or a factory default.
    NoAdminPassword,
    /// The phone's own web UI is on.
    WebUiEnabled,
    /// Call forward (or another call feature) can be changed on the phone.
    CallFeaturesEditable,
    /// The phone accepts SIP requests from anyone, not only its registrar.
    SipFromAnyone,
    /// The phone does not verify the provisioning server's certificate.
    ServerCertNotVerified,
    /// The provisioning URL is not `https://`.
    PlainProvisioningUrl,
    /// A file every phone fetches carries a secret.
    SecretInCommonFile,
    /// A key whose name or value rests on peers' usage alone, with no vendor document found
    /// (reported by [`lint_unverified`], `sipprov lint --strict`).
    UnverifiedKey,
}

impl Rule {
    /// The finding's name, e.g. `web-ui-enabled`.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::NoAdminPassword => "no-admin-password",
            Rule::WebUiEnabled => "web-ui-enabled",
            Rule::CallFeaturesEditable => "call-features-editable",
            Rule::SipFromAnyone => "sip-from-anyone",
            Rule::ServerCertNotVerified => "server-cert-not-verified",
            Rule::PlainProvisioningUrl => "plain-provisioning-url",
            Rule::SecretInCommonFile => "secret-in-common-file",
            Rule::UnverifiedKey => "unverified-key",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a key's value must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// One of these values (ASCII case-insensitive).
    OneOf(&'static [&'static str]),
    /// A secret: after `prefix` (e.g. Yealink's `admin:`), non-empty and not a factory default.
    Secret {
        /// Text the value starts with before the password itself.
        prefix: &'static str,
    },
    /// An `https://` URL.
    HttpsUrl,
}

/// One key the policy checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Check {
    /// The rule a failure breaks.
    pub rule: Rule,
    /// The key, spelled as the vendor's reader returns it; `A|B` when models read either (the
    /// first one the file sets is judged).
    pub key: &'static str,
    /// What its value must be. A missing key fails too: the phone's default then applies.
    pub expect: Expect,
}

/// A vendor's hardening policy, as keys of its config files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hardening {
    /// The keys checked in a device file.
    pub checks: &'static [Check],
    /// Rules this vendor has no key for, with the reason: not checked, documented.
    pub unenforced: &'static [(Rule, &'static str)],
    /// Keys that carry secrets: none of them may appear in a common file.
    pub secret_keys: &'static [&'static str],
    /// Keys the templates write whose name or value no vendor document confirms (see
    /// `docs/vendors/<vendor>.md`), with why: reported by [`lint_unverified`]. `*` in a key
    /// stands for one part of it (`sip.line[*].MediaCrypto`).
    pub unverified: &'static [(&'static str, &'static str)],
}

/// One way a config breaks the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule broken.
    pub rule: Rule,
    /// The offending key.
    pub key: String,
    /// What is wrong, for an operator (never shows a secret).
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.rule, self.key, self.message)
    }
}

/// Factory and habitual admin passwords: finding one means the phone is not really protected.
const DEFAULT_PASSWORDS: &[&str] =
    &["admin", "Admin", "1234", "12345", "123456", "0000", "456", "password", "22222", "root", "user", "cisco"];

/// Checks a rendered file of `vendor` against the policy for its `kind` (device or common file).
///
/// ```
/// use sipprov_template::{FileKind, Vendor, lint};
///
/// let config = "#!version:1.0.0.1\nstatic.wui.http_enable = 1\n";
/// let findings = lint(Vendor::Yealink, FileKind::Device, config)?;
/// assert!(findings.iter().any(|f| f.rule.name() == "web-ui-enabled" && f.key == "static.wui.http_enable"));
/// assert!(findings.iter().any(|f| f.rule.name() == "no-admin-password"));
/// # Ok::<(), sipprov_template::TemplateError>(())
/// ```
pub fn lint(vendor: Vendor, kind: FileKind, text: &str) -> Result<Vec<Finding>, TemplateError> {
    let profile = vendor.profile().ok_or(TemplateError::NoProfile { vendor })?;
    let pairs = (profile.read)(text)?;
    // When a key repeats, the phone applies the last one.
    let value_of =
        |key: &str| key.split('|').find_map(|key| pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str()));
    let mut findings = Vec::new();
    let hardening = &profile.hardening;
    if kind == FileKind::Device {
        for check in hardening.checks {
            if let Some(message) = judge(check, value_of(check.key)) {
                findings.push(Finding { rule: check.rule, key: check.key.to_owned(), message });
            }
        }
    } else {
        for key in hardening.secret_keys {
            if value_of(key).is_some() {
                let message = "a file every phone fetches must carry no secret".to_owned();
                findings.push(Finding { rule: Rule::SecretInCommonFile, key: (*key).to_owned(), message });
            }
        }
        for check in hardening.checks.iter().filter(|c| c.expect == Expect::HttpsUrl) {
            if let Some(value) = value_of(check.key)
                && let Some(message) = judge(check, Some(value))
            {
                findings.push(Finding { rule: check.rule, key: check.key.to_owned(), message });
            }
        }
    }
    Ok(findings)
}

/// The keys of a rendered file of `vendor` whose name or value rests on peers' usage alone,
/// one finding each: what `sipprov lint --strict` adds to [`lint`]'s findings.
pub fn lint_unverified(vendor: Vendor, text: &str) -> Result<Vec<Finding>, TemplateError> {
    let profile = vendor.profile().ok_or(TemplateError::NoProfile { vendor })?;
    let pairs = (profile.read)(text)?;
    let mut findings = Vec::new();
    for (key, _) in &pairs {
        if let Some((_, why)) = profile.hardening.unverified.iter().find(|(pattern, _)| glob(pattern, key)) {
            let message = format!("unverified: {why}");
            findings.push(Finding { rule: Rule::UnverifiedKey, key: key.clone(), message });
        }
    }
    Ok(findings)
}

/// Whether `key` matches `pattern`, where `*` stands for one or more characters other than `.`.
fn glob(pattern: &str, key: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == key,
        Some((head, tail)) => {
            let Some(rest) = key.strip_prefix(head) else { return false };
            let part = rest.find('.').unwrap_or(rest.len());
            rest.char_indices()
                .skip(1)
                .map(|(at, _)| at)
                .chain([rest.len()])
                .take_while(|&at| at <= part)
                .any(|at| glob(tail, &rest[at..]))
        }
    }
}

/// Why `value` breaks `check`, or `None` if it complies.
fn judge(check: &Check, value: Option<&str>) -> Option<String> {
    let Some(value) = value else {
        return Some("not set, so the phone's default applies".into());
    };
    match check.expect {
        Expect::OneOf(allowed) => (!allowed.iter().any(|a| a.eq_ignore_ascii_case(value.trim())))
            .then(|| format!("is {value:?}; expected {}", allowed.join(" or "))),
        Expect::Secret { prefix } => match value.strip_prefix(prefix) {
            None => Some(format!("does not start with {prefix:?}")),
            Some("") => Some("is empty".into()),
            Some(secret) if DEFAULT_PASSWORDS.contains(&secret) => Some("is a factory default password".into()),
            Some(_) => None,
        },
        Expect::HttpsUrl => {
            let https = value.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) && value.len() > 8;
            (!https).then(|| format!("is {value:?}; expected an https:// URL"))
        }
    }
}

#[cfg(test)]
mod glob_tests {
    use super::glob;

    #[test]
    fn a_star_stands_for_one_part() {
        assert!(glob("sip.line[*].MediaCrypto", "sip.line[12].MediaCrypto"));
        assert!(glob("account.*.srtp_encryption", "account.3.srtp_encryption"));
        assert!(!glob("account.*.srtp_encryption", "account.3.x.srtp_encryption"));
        assert!(!glob("account.*.srtp_encryption", "account..srtp_encryption"));
        assert!(glob("webserver_type", "webserver_type"));
        assert!(!glob("webserver_type", "webserver_type2"));
        assert!(glob("account.*.srtp_encryption", "account.é.srtp_encryption"), "any characters, not bytes");
        assert!(!glob("account.*.x", "account.éé"));
    }
}
