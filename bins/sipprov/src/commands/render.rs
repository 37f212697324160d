//! `sipprov render`: render a vendor file offline, exactly as the server would.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Map, Value};
use sipprov_template::{
    AccountSettings, Device, FileKind, Layer, LayeredSettings, Renderer, Route, Secrets, TemplateError, Vendor,
    recognise_route,
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
/// A device file needs "account" and "secrets.admin_password"; a common file uses "settings"
/// only. Settings layers: the nearer wins (device > site > model > vendor > global).
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
    /// Include the SIP password (secrets.sip_password). Without it the password key is left
    /// out entirely, as after delivery: the phone keeps the password it has.
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
                let sip_password = match self.with_password {
                    true => Some(input.secret("sip_password").map_err(Failure::Input)?.ok_or_else(|| {
                        Failure::Input(anyhow::anyhow!(
                            "{}: --with-password needs secrets.sip_password",
                            self.settings.display()
                        ))
                    })?),
                    false => None,
                };
                let account = input.account.as_ref().ok_or_else(|| {
                    Failure::Input(anyhow::anyhow!("{}: a device file needs an \"account\"", self.settings.display()))
                })?;
                let sip_passwords: Vec<(u16, &str)> = sip_password.map(|p| (account.line, p)).into_iter().collect();
                let device = Device {
                    mac: *mac,
                    model: input.model.as_deref(),
                    accounts: std::slice::from_ref(account),
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
    account: Option<AccountSettings>,
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
        let known = BTreeSet::from(["model", "account", "secrets", "settings"]);
        if let Some(unknown) = top.keys().find(|k| !known.contains(k.as_str())) {
            bail!("{shown}: unknown key {unknown:?} (known: model, account, secrets, settings)");
        }
        let model = match top.get("model") {
            None | Some(Value::Null) => None,
            Some(Value::String(model)) => Some(model.clone()),
            Some(_) => bail!("{shown}: \"model\" must be a string"),
        };
        let account = top.get("account").map(|a| account(a, &shown)).transpose()?;
        let secrets = match top.get("secrets") {
            None => Map::new(),
            Some(Value::Object(secrets)) => secrets.clone(),
            Some(_) => bail!("{shown}: \"secrets\" must be an object"),
        };
        let settings = match top.get("settings") {
            None => LayeredSettings::new(),
            Some(layers) => layered(layers, &shown)?,
        };
        Ok(SettingsFile { model, account, secrets, settings, path: shown })
    }

    fn secret(&self, name: &str) -> anyhow::Result<Option<&str>> {
        match self.secrets.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => bail!("{}: secrets.{name} must be a string", self.path),
        }
    }
}

fn account(value: &Value, shown: &str) -> anyhow::Result<AccountSettings> {
    let Value::Object(fields) = value else { bail!("{shown}: \"account\" must be an object") };
    let field = |name: &str| match fields.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(anyhow::anyhow!("{shown}: account.{name} must be a string")),
    };
    if let Some(unknown) =
        fields.keys().find(|k| !["user_name", "auth_name", "display_name", "registrar"].contains(&k.as_str()))
    {
        bail!("{shown}: unknown key account.{unknown}");
    }
    Ok(AccountSettings::new(field("user_name")?, field("auth_name")?, field("display_name")?, field("registrar")?))
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
