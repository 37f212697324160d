//! What a template sees, and the check that names the field a refused value came from.
//!
//! Values are checked against the file's format *before* rendering, each under its own name
//! (`account.display_name`, `secrets.sip_password`, `settings.ntp_server`), so a refusal names
//! the field an operator has to fix. Only the fields a template refers to are checked: a value
//! one vendor's format cannot carry does not stop another vendor's file. The formatter checks
//! every value written once more, so a value computed inside a template cannot slip through.

use std::collections::BTreeMap;

use minijinja::Value;
use sipprov_identity::Mac;

use crate::format::{key_value, xml};
use crate::{AccountSettings, Format, LayeredSettings, Secrets, TemplateError};

/// Everything a device file is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// The device's MAC (from its certificate).
    pub mac: Mac,
    /// The device's model, if known from the inventory (`T46G`, `VVX_500`), for `{{ model }}`.
    pub model: Option<&'a str>,
    /// Its SIP account.
    pub account: &'a AccountSettings,
    /// Its settings, layered.
    pub settings: &'a LayeredSettings,
    /// What secrets may go into the file.
    pub secrets: Secrets<'a>,
}

/// The variables a template for a device file may use.
pub(crate) const DEVICE_VARIABLES: &[&str] = &["mac", "mac_upper", "model", "account", "secrets", "settings"];
/// The variables a template for a common file may use: no account, no secrets, no MAC.
pub(crate) const COMMON_VARIABLES: &[&str] = &["settings"];

/// A template's input as `(field, value)` pairs, dotted names, before it becomes a minijinja value.
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn device(device: &Device<'_>) -> Self {
        let mut fields =
            vec![("mac".to_owned(), device.mac.to_string()), ("mac_upper".into(), device.mac.to_upper_hex())];
        if let Some(model) = device.model {
            fields.push(("model".into(), model.to_owned()));
        }
        let account = device.account;
        for (name, value) in [
            ("user_name", &account.user_name),
            ("auth_name", &account.auth_name),
            ("display_name", &account.display_name),
            ("registrar", &account.registrar),
        ] {
            fields.push((format!("account.{name}"), value.clone()));
        }
        if let Some(password) = device.secrets.sip_password {
            fields.push(("secrets.sip_password".into(), password.to_owned()));
        }
        if let Some(password) = device.secrets.admin_password {
            fields.push(("secrets.admin_password".into(), password.to_owned()));
        }
        let mut fields = Fields(fields);
        fields.add_settings(device.settings);
        fields
    }

    pub(crate) fn common(settings: &LayeredSettings) -> Self {
        let mut fields = Fields(Vec::new());
        fields.add_settings(settings);
        fields
    }

    fn add_settings(&mut self, settings: &LayeredSettings) {
        for (name, value) in settings.resolve() {
            self.0.push((format!("settings.{name}"), value.to_owned()));
        }
    }

    /// Checks every field the template refers to (`referenced` holds dotted paths such as
    /// `account.display_name`, or `settings` for a template that walks all settings).
    pub(crate) fn check(&self, format: Format, referenced: &[String]) -> Result<(), TemplateError> {
        for (field, value) in &self.0 {
            // What goes into SIP has SIP's shape in every vendor's file, referenced or not.
            match field.as_str() {
                "account.user_name" => crate::sip::check_sip_user(field, value)?,
                "account.auth_name" => crate::sip::check_auth_name(field, value)?,
                "account.registrar" => crate::sip::check_sip_host(field, value)?,
                _ => {}
            }
            let used = referenced
                .iter()
                .any(|r| field == r || field.strip_prefix(r.as_str()).is_some_and(|rest| rest.starts_with('.')));
            if used {
                check_value(format, field, value)?;
            }
        }
        Ok(())
    }

    /// The template context: top-level values and maps (`account`, `secrets`, `settings`).
    pub(crate) fn to_value(&self) -> Value {
        let mut top: BTreeMap<String, Value> = BTreeMap::new();
        let mut maps: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        for (field, value) in &self.0 {
            match field.split_once('.') {
                Some((map, key)) => {
                    maps.entry(map.to_owned()).or_default().insert(key.to_owned(), Value::from(value.as_str()));
                }
                None => {
                    top.insert(field.clone(), Value::from(value.as_str()));
                }
            }
        }
        // `settings` and `secrets` always exist, so `settings.x is defined` works when nothing is
        // set and `secrets.x is defined` when no secret may be sent.
        maps.entry("settings".to_owned()).or_default();
        maps.entry("secrets".to_owned()).or_default();
        for (name, map) in maps {
            top.insert(name, Value::from(map));
        }
        Value::from(top)
    }
}

/// Checks one value for one format; `field` names it in the error.
pub(crate) fn check_value(format: Format, field: &str, value: &str) -> Result<(), TemplateError> {
    match format {
        Format::KeyValue => key_value::check_value(field, value),
        Format::Xml => xml::check_value(field, value),
        Format::Opaque => Ok(()),
    }
}
