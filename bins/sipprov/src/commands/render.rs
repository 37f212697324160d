//! `sipprov render`: render a vendor file offline, exactly as the server would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Map, Value};
use sipprov_template::{
    AccountSettings, Device, FileKind, FunctionKey, KeyKind, Layer, LayeredSettings, Renderer, Route, Secrets, Srtp,
    TemplateError, Transport, Vendor, recognise_route,
};

/// Render the file a phone of VENDOR gets for PATH, from a settings file.
///
/// The settings file is JSON:
///
///   {"model": "T46G",
///    "account": {"user_name": "1001", "auth_name": "u-1001", "display_name": "Reception",
///                "registrar": "sip.example.net"},
///    "secrets": {"sip_password": "...", "admin_password": "..."},
///    "settings": {"global": {"provisioning_url": "https://prov.example.net"},
///                 "vendor": {}, "model": {}, "site": {}, "device": {}}}
///
/// Several accounts instead of "account": "accounts": [{"line": 1, "user_name": ..., "auth_name":
/// ..., "display_name": ..., "registrar": ..., "outbound_proxy": ..., "transport": "tls",
/// "srtp": "optional", "password": "..."}, ...] (each password written with --with-password).
/// Programmable keys: "keys": [{"position": 4, "type": "blf", "value": "1010", "label":
/// "Reception", "line": 1}, ...].
///
/// A device file needs "account" (or "accounts") and "secrets.admin_password"; a common file
/// uses "settings" only. Settings layers: the nearer wins (device > site > model > vendor > global).
///
/// Exit status: 0 rendered, 1 cannot be rendered (the reason on stderr: a value the format
/// cannot carry, naming its field; a path the vendor does not ask for; a broken template),
/// 2 unusable input (unreadable or malformed settings file, unknown vendor).
#[derive(Debug, Args)]
pub(crate) struct RenderArgs {
    /// The vendor the phone is known to be (as the certificate or inventory says).
    #[arg(long)]
    vendor: String,
    /// The request path, e.g. /001565aabbcc.cfg.
    #[arg(long)]
    path: String,
    /// The settings file (JSON, see above).
    #[arg(long)]
    settings: PathBuf,
    /// Include the SIP passwords (secrets.sip_password, or each account's "password"). Without it
    /// the password keys are left out entirely, as after delivery: the phone keeps what it has.
    #[arg(long)]
    with_password: bool,
    /// An operator override directory: <dir>/<vendor>/<file> replaces the shipped template.
    #[arg(long)]
    templates: Option<PathBuf>,
}

/// Why a render did not happen: the input is unusable (exit 2) or the file cannot be rendered (exit 1).
enum Failure {
    Input(anyhow::Error),
    Render(anyhow::Error),
}

impl From<TemplateError> for Failure {
    fn from(e: TemplateError) -> Self {
        Failure::Render(e.into())
    }
}

impl RenderArgs {
    pub(crate) fn run(self) -> ExitCode {
        match self.render() {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(Failure::Render(e)) => {
                eprintln!("sipprov: cannot render {}: {e:#}", self.path);
                ExitCode::from(1)
            }
            Err(Failure::Input(e)) => {
                eprintln!("sipprov: {e:#}");
                ExitCode::from(2)
            }
        }
    }

    fn render(&self) -> Result<String, Failure> {
        let vendor: Vendor = self.vendor.parse().map_err(|e: TemplateError| Failure::Input(e.into()))?;
        let input = SettingsFile::read(&self.settings).map_err(Failure::Input)?;
        let renderer = match &self.templates {
            Some(dir) => Renderer::with_overrides(dir)?,
            None => Renderer::shipped()?,
        };
        let route = recognise_route(&self.path, None);
        let Some(file) = route.file_for(vendor) else {
            return Err(Failure::Render(anyhow::anyhow!(
                "{vendor} phones do not ask for this path ({})",
                route.kind().name()
            )));
        };
        match (&route, file.kind) {
            (Route::Device { mac, .. }, FileKind::Device) => {
                let admin_password = input.secret("admin_password").map_err(Failure::Input)?.ok_or_else(|| {
                    Failure::Input(anyhow::anyhow!(
                        "{}: a device file needs secrets.admin_password",
                        self.settings.display()
                    ))
                })?;
                if input.accounts.is_empty() {
                    return Err(Failure::Input(anyhow::anyhow!(
                        "{}: a device file needs an \"account\" or \"accounts\"",
                        self.settings.display()
                    )));
                }
                let mut sip_passwords: Vec<(u16, &str)> = Vec::new();
                if self.with_password {
                    for (account, password) in &input.accounts {
                        let password = match password {
                            Some(password) => Some(password.as_str()),
                            None => input.secret("sip_password").map_err(Failure::Input)?,
                        };
                        let password = password.ok_or_else(|| {
                            Failure::Input(anyhow::anyhow!(
                                "{}: --with-password needs secrets.sip_password (or each account's password)",
                                self.settings.display()
                            ))
                        })?;
                        sip_passwords.push((account.line, password));
                    }
                }
                let accounts: Vec<AccountSettings> =
                    input.accounts.iter().map(|(account, _)| account.clone()).collect();
                let device = Device {
                    firmware: None,
                    mac: *mac,
                    model: input.model.as_deref(),
                    accounts: &accounts,
                    keys: &input.keys,
                    settings: &input.settings,
                    secrets: Secrets { sip_passwords: &sip_passwords, admin_password: Some(admin_password) },
                };
                Ok(renderer.render_device(file, &device)?)
            }
            (_, FileKind::Common) => Ok(renderer.render_common(file, &input.settings)?),
            (_, kind) => Err(Failure::Render(anyhow::anyhow!("a {} file is not rendered", kind.name()))),
        }
    }
}

/// The settings file, read strictly: unknown keys are refused, so a typo is not silently ignored.
struct SettingsFile {
    model: Option<String>,
    /// The accounts, each with its own password if the file gives one.
    accounts: Vec<(AccountSettings, Option<String>)>,
    keys: Vec<FunctionKey>,
    secrets: Map<String, Value>,
    settings: LayeredSettings,
    path: String,
}

impl SettingsFile {
    fn read(path: &Path) -> anyhow::Result<SettingsFile> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
        let value: Value = serde_json::from_str(&text).with_context(|| format!("{shown}: not JSON"))?;
        let Value::Object(top) = value else { bail!("{shown}: expected a JSON object") };
        let known = BTreeSet::from(["model", "account", "accounts", "keys", "secrets", "settings"]);
        if let Some(unknown) = top.keys().find(|k| !known.contains(k.as_str())) {
            bail!("{shown}: unknown key {unknown:?} (known: model, account, accounts, keys, secrets, settings)");
        }
        let model = match top.get("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(model)) => Some(model.clone()),
            Some(_) => bail!("{shown}: \"model\" must be a string"),
        };
        let accounts = match (top.get("account"), top.get("accounts")) {
            (Some(_), Some(_)) => bail!("{shown}: give \"account\" or \"accounts\", not both"),
            (Some(one), None) => vec![(account(one, "account", 1, &shown)?, None)],
            (None, Some(Value::Array(list))) => list
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let line = u16::try_from(i + 1).unwrap_or(u16::MAX);
                    let password = item.get("password").and_then(Value::as_str).map(str::to_owned);
                    Ok((account(item, &format!("accounts[{i}]"), line, &shown)?, password))
                })
                .collect::<anyhow::Result<_>>()?,
            (None, Some(_)) => bail!("{shown}: \"accounts\" must be an array"),
            (None, None) => Vec::new(),
        };
        let keys = match top.get("keys") {
            None => Vec::new(),
            Some(Value::Array(list)) => {
                list.iter().enumerate().map(|(i, item)| key(item, i, &shown)).collect::<anyhow::Result<_>>()?
            }
            Some(_) => bail!("{shown}: \"keys\" must be an array"),
        };
        let secrets = match top.get("secrets") {
            None => Map::new(),
            Some(Value::Object(secrets)) => secrets.clone(),
            Some(_) => bail!("{shown}: \"secrets\" must be an object"),
        };
        let settings = match top.get("settings") {
            None => LayeredSettings::new(),
            Some(layers) => layered(layers, &shown)?,
        };
        Ok(SettingsFile { model, accounts, keys, secrets, settings, path: shown })
    }

    fn secret(&self, name: &str) -> anyhow::Result<Option<&str>> {
        match self.secrets.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => bail!("{}: secrets.{name} must be a string", self.path),
        }
    }
}

/// An account object (`name` says where it is in the file); `line` unless it gives its own.
fn account(value: &Value, name: &str, line: u16, shown: &str) -> anyhow::Result<AccountSettings> {
    let Value::Object(fields) = value else { bail!("{shown}: {name} must be an object") };
    let text = |field: &str| match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        _ => Err(anyhow::anyhow!("{shown}: {name}.{field} must be a string")),
    };
    let required = |field: &str| text(field)?.ok_or_else(|| anyhow::anyhow!("{shown}: {name}.{field} is required"));
    let known = [
        "line",
        "user_name",
        "auth_name",
        "display_name",
        "registrar",
        "outbound_proxy",
        "transport",
        "srtp",
        "password",
    ];
    if let Some(unknown) = fields.keys().find(|k| !known.contains(&k.as_str())) {
        bail!("{shown}: unknown key {name}.{unknown}");
    }
    if name == "account" && fields.contains_key("password") {
        bail!("{shown}: account.password: the one account's password is secrets.sip_password");
    }
    let line = match fields.get("line") {
        None => line,
        Some(value) => value
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .filter(|n| *n >= 1)
            .ok_or_else(|| anyhow::anyhow!("{shown}: {name}.line must be a number from 1"))?,
    };
    let transport = named(text("transport")?, &[Transport::Udp, Transport::Tcp, Transport::Tls], Transport::name)
        .map_err(|other| anyhow::anyhow!("{shown}: {name}.transport {other:?} is not udp, tcp or tls"))?;
    let srtp = named(text("srtp")?, &[Srtp::Off, Srtp::Optional, Srtp::Required], Srtp::name)
        .map_err(|other| anyhow::anyhow!("{shown}: {name}.srtp {other:?} is not off, optional or required"))?;
    Ok(AccountSettings {
        line,
        outbound_proxy: text("outbound_proxy")?,
        transport,
        srtp,
        ..AccountSettings::new(
            required("user_name")?,
            required("auth_name")?,
            required("display_name")?,
            required("registrar")?,
        )
    })
}

/// The value of `all` whose name (as the template crate spells it) `value` is; `Err` gives the
/// unknown name back.
fn named<T: Copy>(value: Option<String>, all: &[T], name: fn(T) -> &'static str) -> Result<Option<T>, String> {
    match value {
        None => Ok(None),
        Some(value) => all.iter().copied().find(|item| name(*item) == value).map(Some).ok_or(value),
    }
}

/// The `i`th key object of the file.
fn key(value: &Value, i: usize, shown: &str) -> anyhow::Result<FunctionKey> {
    let Value::Object(fields) = value else { bail!("{shown}: keys[{i}] must be an object") };
    if let Some(unknown) = fields.keys().find(|k| !["position", "type", "value", "label", "line"].contains(&k.as_str()))
    {
        bail!("{shown}: unknown key keys[{i}].{unknown}");
    }
    let number = |field: &str| {
        fields
            .get(field)
            .and_then(Value::as_u64)
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| anyhow::anyhow!("{shown}: keys[{i}].{field} must be a number"))
    };
    let text = |field: &str| {
        fields
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("{shown}: keys[{i}].{field} must be a string"))
    };
    let kind = text("type")?;
    let kind = [KeyKind::Blf, KeyKind::SpeedDial]
        .into_iter()
        .find(|known| known.name() == kind)
        .ok_or_else(|| anyhow::anyhow!("{shown}: keys[{i}].type {kind:?} is not blf or speed_dial"))?;
    Ok(FunctionKey {
        position: number("position")?,
        kind,
        value: text("value")?,
        label: text("label")?,
        line: number("line")?,
    })
}

fn layered(value: &Value, shown: &str) -> anyhow::Result<LayeredSettings> {
    let Value::Object(layers) = value else { bail!("{shown}: \"settings\" must be an object of layers") };
    let mut settings = LayeredSettings::new();
    for (layer_name, entries) in layers {
        let Some(layer) = Layer::ALL.into_iter().find(|l| l.name() == layer_name) else {
            bail!("{shown}: unknown settings layer {layer_name:?} (layers: global, vendor, model, site, device)");
        };
        let Value::Object(entries) = entries else { bail!("{shown}: settings.{layer_name} must be an object") };
        for (name, value) in entries {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => bail!("{shown}: settings.{layer_name}.{name} must be a string, number or boolean"),
            };
            settings.set(layer, name, value).with_context(|| shown.to_owned())?;
        }
    }
    Ok(settings)
}
