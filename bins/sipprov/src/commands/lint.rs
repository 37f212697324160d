//! `sipprov lint`: check a rendered config file against the hardening policy.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};
use sipprov_template::{FileKind, Finding, Vendor, lint, lint_unverified};

/// Check a config file against the hardening policy and list each finding.
///
/// Device files (the default) must set a per-device admin password, turn the web UI off,
/// lock call features, accept SIP only from the registrar, verify the provisioning server's
/// certificate and use an https:// provisioning URL, as far as the vendor has keys for it
/// (rules it has none for are listed as not checked). A common file (--common) must carry no
/// secret. With --strict, every key whose name or value rests on peers' usage alone (no vendor
/// document confirms it; docs/vendors/<vendor>.md) is a finding too.
///
/// Exit status: 0 no findings, 1 findings, 2 unusable input (unreadable file, unknown vendor,
/// a file that is not in the vendor's format).
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// The rendered config file.
    file: PathBuf,
    /// Whose format and policy apply.
    #[arg(long)]
    vendor: String,
    /// The file is one every phone fetches (no secrets allowed), not a device's own.
    #[arg(long)]
    common: bool,
    /// Also report each key whose name or value no vendor document confirms (unverified-key).
    #[arg(long)]
    strict: bool,
    /// Print one JSON object: {"findings": [{"rule", "key", "message"}], "unchecked": [{"rule", "reason"}]}.
    #[arg(long)]
    json: bool,
}

impl LintArgs {
    pub(crate) fn run(self) -> ExitCode {
        match self.check() {
            Ok((vendor, findings)) => {
                self.print(vendor, &findings);
                if findings.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) => {
                eprintln!("sipprov: {e:#}");
                ExitCode::from(2)
            }
        }
    }

    fn check(&self) -> anyhow::Result<(Vendor, Vec<Finding>)> {
        let vendor: Vendor = self.vendor.parse()?;
        let text =
            std::fs::read_to_string(&self.file).with_context(|| format!("cannot read {}", self.file.display()))?;
        let kind = if self.common { FileKind::Common } else { FileKind::Device };
        let mut findings = lint(vendor, kind, &text).with_context(|| format!("{}", self.file.display()))?;
        if self.strict {
            findings.extend(lint_unverified(vendor, &text).with_context(|| format!("{}", self.file.display()))?);
        }
        Ok((vendor, findings))
    }

    fn print(&self, vendor: Vendor, findings: &[Finding]) {
        let unchecked: &[(sipprov_template::Rule, &str)] =
            if self.common { &[] } else { vendor.profile().map_or(&[], |p| p.hardening.unenforced) };
        if self.json {
            let findings: Vec<Value> =
                findings.iter().map(|f| json!({"rule": f.rule.name(), "key": f.key, "message": f.message})).collect();
            let unchecked: Vec<Value> =
                unchecked.iter().map(|(r, why)| json!({"rule": r.name(), "reason": why})).collect();
            println!("{}", json!({"findings": findings, "unchecked": unchecked}));
            return;
        }
        for finding in findings {
            println!("{finding}");
        }
        if findings.is_empty() {
            println!("{}: no findings", self.file.display());
        }
        for (rule, why) in unchecked {
            println!("not checked for {vendor}: {rule}: {why}");
        }
    }
}
