//! `sipprov identity inspect`: which device a certificate names, and why or why not.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use sipprov_identity::{AttributeRule, DeviceIdentity, IdentityRule, NoIdentity};

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
    /// Read the identity from a certificate file (PEM or DER).
    ///
    /// Exit status: 0 an identity was found, 1 none, 2 the input is unusable.
    Inspect {
        /// The certificate, PEM or DER. For a PEM file with several certificates, the first.
        file: PathBuf,
        /// The identity rule: polycom, snom, yealink, cisco-mic, cisco-mpp, cn-mac, attribute, or
        /// `auto` to pick by subject shape and OUI (diagnostics only: in production each trust
        /// anchor is bound to one rule).
        #[arg(long, default_value = "auto")]
        rule: String,
        /// For `--rule attribute`: the subject attribute holding the MAC (OID, or CN, serialNumber, ST, L, O, OU).
        #[arg(long, requires = "pattern")]
        attribute: Option<String>,
        /// For `--rule attribute`: the value's pattern, `{mac}` once, `*` for any run of characters.
        #[arg(long, requires = "attribute")]
        pattern: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

impl IdentityCommand {
    pub(crate) fn run(self) -> ExitCode {
        let IdentityCommand::Inspect { file, rule, attribute, pattern, json } = self;
        match inspect(&file, &rule, attribute.zip(pattern)) {
            Ok((rule, result)) => {
                if json {
                    println!("{}", to_json(&rule, &result));
                } else {
                    print_text(&rule, &result);
                }
                if result.is_ok() { ExitCode::SUCCESS } else { ExitCode::from(1) }
            }
            Err(e) => {
                eprintln!("sipprov: {e:#}");
                ExitCode::from(2)
            }
        }
    }
}

/// Applies `rule` (a rule name, `attribute` with its attribute and pattern, or `auto`) to the
/// certificate in `file`.
fn inspect(
    file: &Path,
    rule: &str,
    custom: Option<(String, String)>,
) -> anyhow::Result<(IdentityRule, Result<DeviceIdentity, NoIdentity>)> {
    let der = read_certificate(file)?;
    let rule = match (rule, custom) {
        ("attribute", Some((attribute, pattern))) => {
            IdentityRule::Attribute(AttributeRule::new("custom", &attribute, &pattern)?)
        }
        ("attribute", None) => bail!("--rule attribute needs --attribute and --pattern"),
        (_, Some(_)) => bail!("--attribute and --pattern go with --rule attribute"),
        ("auto", None) => IdentityRule::guess(&der).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?,
        (name, None) => name.parse()?,
    };
    match rule.identify(&der) {
        Err(NoIdentity::MalformedCertificate(e)) => bail!("{}: not an X.509 certificate: {e}", file.display()),
        result => Ok((rule, result)),
    }
}

/// The certificate's DER bytes from a PEM or DER file.
fn read_certificate(file: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let cert = CertificateDer::from_pem_slice(&bytes)
            .with_context(|| format!("{}: no PEM certificate found", file.display()))?;
        return Ok(cert.to_vec());
    }
    Ok(bytes)
}

fn to_json(rule: &IdentityRule, result: &Result<DeviceIdentity, NoIdentity>) -> Value {
    match result {
        Ok(identity) => json!({
            "identity": {
                "mac": identity.mac.to_string(),
                "vendor": identity.vendor,
                "serial": identity.serial,
                "model": identity.model,
                "spki_sha256": identity.spki_sha256_hex(),
            },
            "rule": rule.name(),
            "reason": null,
        }),
        Err(reason) => json!({ "identity": null, "rule": rule.name(), "reason": reason.to_string() }),
    }
}

fn print_text(rule: &IdentityRule, result: &Result<DeviceIdentity, NoIdentity>) {
    match result {
        Ok(identity) => {
            println!("mac:         {}", identity.mac);
            println!("vendor:      {}", identity.vendor);
            println!("serial:      {}", identity.serial.as_deref().unwrap_or("-"));
            println!("model:       {}", identity.model.as_deref().unwrap_or("-"));
            println!("spki_sha256: {}", identity.spki_sha256_hex());
            println!("rule:        {rule}");
        }
        Err(reason) => println!("no identity (rule {rule}): {reason}"),
    }
}
