//! What a template sees, and the check that names the field a refused value came from.
//!
//! Values are checked against the file's format *before* rendering, each under its own name
//! (`accounts.2.display_name`, `secrets.admin_password`, `settings.ntp_server`), so a refusal
//! names the field an operator has to fix. Only the fields a template refers to are checked: a value
//! one vendor's format cannot carry does not stop another vendor's file. The formatter checks
//! every value written once more, so a value computed inside a template cannot slip through.

use std::collections::BTreeMap;

use minijinja::Value;
use sipprov_identity::Mac;

use crate::format::{key_value, xml};
use crate::sip::split_host_port;
use crate::{AccountSettings, Firmware, Format, FunctionKey, LayeredSettings, Secrets, TemplateError};

/// Everything a device file is rendered from.
#[derive(Debug, Clone, Copy)]
pub struct Device<'a> {
    /// The device's MAC (from its certificate).
    pub mac: Mac,
    /// The device's model, if known from the inventory (`T46G`, `VVX_500`), for `{{ model }}`.
    pub model: Option<&'a str>,
    /// Its SIP accounts, in ascending line order (at least one).
    pub accounts: &'a [AccountSettings],
    /// Its programmable keys, in ascending position order.
    pub keys: &'a [FunctionKey],
    /// Its settings, layered.
    pub settings: &'a LayeredSettings,
    /// What secrets may go into the file.
    pub secrets: Secrets<'a>,
    /// The firmware it should run, if a target names one.
    pub firmware: Option<Firmware<'a>>,
}

/// The variables a template for a device file may use.
///
/// `accounts` is the list of accounts, each a map with `line` (a number), `user_name`,
/// `auth_name`, `display_name`, `registrar` (`host[:port]`) and the same split as
/// `registrar_host` and `registrar_port` (when given); `transport` (`udp`, `tcp`, `tls`), `srtp`
/// (`off`, `optional`, `required`) and `outbound_proxy` (with `outbound_proxy_host`,
/// `outbound_proxy_port`) when set; `service`, the number (from 0, in line order) of the
/// account's SIP service, one per distinct registrar, outbound proxy, transport and SRTP among
/// the device's accounts, and `first_of_service` on the first account of each (for vendors that
/// configure a service once and link accounts to it); and `password` only while it may be
/// delivered. `account` is the first of them and
/// `secrets.sip_password` its password, for templates written for one account.
///
/// `firmware` (when the device has a firmware target) holds `version`, `url`, `name`,
/// `directory` and `server_path` (see [`Firmware`]).
///
/// `keys` is the list of programmable keys, each a map with `position` and `line` (numbers),
/// `type` (`blf` or `speed_dial`), `value` and `label`.
pub(crate) const DEVICE_VARIABLES: &[&str] =
    &["mac", "mac_upper", "model", "accounts", "account", "keys", "secrets", "settings", "firmware"];
/// The variables a template for a common file may use: no account, no secrets, no MAC.
pub(crate) const COMMON_VARIABLES: &[&str] = &["settings"];

/// The keys an account's map may hold.
const ACCOUNT_KEYS: &[&str] = &[
    "line",
    "user_name",
    "auth_name",
    "display_name",
    "registrar",
    "registrar_host",
    "registrar_port",
    "transport",
    "srtp",
    "outbound_proxy",
    "outbound_proxy_host",
    "outbound_proxy_port",
    "service",
    "first_of_service",
    "password",
];

/// One item of a list in the context (an account, a key): its index and its fields.
type ListItem = (String, BTreeMap<String, Value>);

/// The fields a programmable key's map holds.
const FUNCTION_KEY_FIELDS: &[&str] = &["position", "type", "value", "label", "line"];

/// The lists a device's context holds, and the fields of their items.
const LISTS: &[(&str, &[&str])] = &[("accounts", ACCOUNT_KEYS), ("keys", FUNCTION_KEY_FIELDS)];

/// Refines what a template refers to: a loop over `accounts` (or `keys`) shows up only as
/// `accounts`, so the fields its source reads (`.display_name`, `.password`) stand for it, as
/// `accounts.*.FIELD`. A value one vendor's file never writes then does not stop its render.
pub(crate) fn account_fields_used(referenced: Vec<String>, source: &str) -> Vec<String> {
    let mut refined: Vec<String> =
        referenced.into_iter().filter(|r| !LISTS.iter().any(|(list, _)| r == list)).collect();
    for (list, fields) in LISTS {
        if source.contains(list) {
            for field in *fields {
                if source.contains(&format!(".{field}")) {
                    refined.push(format!("{list}.*.{field}"));
                }
            }
        }
    }
    refined
}

/// The fields a template refers to (`accounts.*.user_name`, `account`, `settings.ntp_server`),
/// each split into its dotted parts once, when the template is loaded: every render asks of
/// each of its fields whether one of them covers it.
#[derive(Debug)]
pub(crate) struct References(Vec<Vec<String>>);

impl References {
    pub(crate) fn new(referenced: &[String]) -> Self {
        Self(referenced.iter().map(|r| r.split('.').map(str::to_owned).collect()).collect())
    }

    /// Whether `field` (`accounts.2.user_name`) is one of the references or lies below one;
    /// `*` stands for any one part.
    fn cover(&self, field: &str) -> bool {
        let (first, rest) = field.split_once('.').unwrap_or((field, ""));
        self.0.iter().any(|reference| match reference.split_first() {
            Some((head, tail)) if head == first => {
                let mut parts = rest.split('.').filter(|_| !rest.is_empty());
                tail.iter().all(|part| parts.next().is_some_and(|f| part == "*" || part == f))
            }
            _ => false,
        })
    }
}

/// A template's input as `(field, value)` pairs, dotted names, before it becomes a minijinja value.
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    /// A device's fields; with `aliases`, the first account also as `account.*` and its
    /// password as `secrets.sip_password`.
    pub(crate) fn device(device: &Device<'_>, aliases: bool) -> Self {
        let mut fields =
            vec![("mac".to_owned(), device.mac.to_string()), ("mac_upper".into(), device.mac.to_upper_hex())];
        if let Some(model) = device.model {
            fields.push(("model".into(), model.to_owned()));
        }
        let mut services: Vec<SipService<'_>> = Vec::new();
        for (index, account) in device.accounts.iter().enumerate() {
            let password = device.secrets.sip_password(account.line);
            let service = SipService::of(account);
            let (service_number, first_of_service) = match services.iter().position(|known| *known == service) {
                Some(number) => (number, false),
                None => {
                    services.push(service);
                    (services.len() - 1, true)
                }
            };
            let (registrar_host, registrar_port) = split_host_port(&account.registrar);
            let mut values = vec![
                ("line", account.line.to_string()),
                ("user_name", account.user_name.clone()),
                ("auth_name", account.auth_name.clone()),
                ("display_name", account.display_name.clone()),
                ("registrar", account.registrar.clone()),
                ("registrar_host", registrar_host.to_owned()),
            ];
            values.extend(registrar_port.map(|port| ("registrar_port", port.to_owned())));
            values.extend(account.transport.map(|transport| ("transport", transport.name().to_owned())));
            values.extend(account.srtp.map(|srtp| ("srtp", srtp.name().to_owned())));
            if let Some(proxy) = &account.outbound_proxy {
                let (host, port) = split_host_port(proxy);
                values.push(("outbound_proxy", proxy.clone()));
                values.push(("outbound_proxy_host", host.to_owned()));
                values.extend(port.map(|port| ("outbound_proxy_port", port.to_owned())));
            }
            values.push(("service", service_number.to_string()));
            values.extend(first_of_service.then(|| ("first_of_service", "yes".to_owned())));
            values.extend(password.map(|password| ("password", password.to_owned())));
            for (name, value) in &values {
                fields.push((format!("accounts.{}.{name}", account.line), value.clone()));
            }
            if index == 0 && aliases {
                for (name, value) in values {
                    match name {
                        "password" => fields.push(("secrets.sip_password".into(), value)),
                        _ => fields.push((format!("account.{name}"), value)),
                    }
                }
            }
        }
        if let Some(password) = device.secrets.admin_password {
            fields.push(("secrets.admin_password".into(), password.to_owned()));
        }
        for key in device.keys {
            for (name, value) in [
                ("position", key.position.to_string()),
                ("type", key.kind.name().to_owned()),
                ("value", key.value.clone()),
                ("label", key.label.clone()),
                ("line", key.line.to_string()),
            ] {
                fields.push((format!("keys.{}.{name}", key.position), value));
            }
        }
        for (name, value) in device.firmware.iter().flat_map(Firmware::fields) {
            fields.push((format!("firmware.{name}"), value));
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
    /// `account.display_name`, `accounts.*.password`, or `settings` for a template that walks
    /// all settings).
    pub(crate) fn check(&self, format: Format, referenced: &References) -> Result<(), TemplateError> {
        for (field, value) in &self.0 {
            // What goes into SIP has SIP's shape in every vendor's file, referenced or not.
            if field.starts_with("account") {
                match field.rsplit('.').next() {
                    Some("user_name") => crate::sip::check_sip_user(field, value)?,
                    Some("auth_name") => crate::sip::check_auth_name(field, value)?,
                    Some("registrar" | "outbound_proxy") => crate::sip::check_sip_host(field, value)?,
                    _ => {}
                }
            }
            // What a key watches or dials, and its label, go inside vendors' key syntaxes.
            if field.starts_with("keys.") {
                match field.rsplit('.').next() {
                    Some("value") => crate::sip::check_dial_string(field, value)?,
                    Some("label") => crate::check_key_label(field, value)?,
                    _ => {}
                }
            }
            if referenced.cover(field) {
                check_value(format, field, value)?;
            }
        }
        Ok(())
    }

    /// The template context: top-level values, maps (`account`, `secrets`, `settings`) and the
    /// lists `accounts` and `keys`.
    pub(crate) fn to_value(&self) -> Value {
        let mut top: BTreeMap<String, Value> = BTreeMap::new();
        let mut maps: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
        // The lists' items, in the order their fields were added (line, position).
        let mut lists: BTreeMap<&str, Vec<ListItem>> = LISTS.iter().map(|(list, _)| (*list, Vec::new())).collect();
        for (field, value) in &self.0 {
            let item = field.split_once('.').and_then(|(list, rest)| Some((list, rest.split_once('.')?)));
            if let Some((items, (index, key))) = item.and_then(|(list, at)| Some((lists.get_mut(list)?, at))) {
                if items.last().is_none_or(|(last, _)| last != index) {
                    items.push((index.to_owned(), BTreeMap::new()));
                }
                if let Some((_, map)) = items.last_mut() {
                    map.insert(key.to_owned(), context_value(key, value));
                }
                continue;
            }
            let field = field.as_str();
            match field.split_once('.') {
                Some((map, key)) => {
                    maps.entry(map.to_owned()).or_default().insert(key.to_owned(), context_value(key, value));
                }
                None => {
                    top.insert(field.to_owned(), Value::from(value.as_str()));
                }
            }
        }
        for (list, items) in lists {
            let items: Vec<Value> = items.into_iter().map(|(_, map)| Value::from(map)).collect();
            top.insert(list.to_owned(), Value::from(items));
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

/// What makes two accounts use the same SIP service: where they register, through which
/// proxy, and how.
#[derive(PartialEq)]
struct SipService<'a> {
    registrar: &'a str,
    outbound_proxy: Option<&'a str>,
    transport: Option<crate::Transport>,
    srtp: Option<crate::Srtp>,
}

impl<'a> SipService<'a> {
    fn of(account: &'a AccountSettings) -> Self {
        Self {
            registrar: &account.registrar,
            outbound_proxy: account.outbound_proxy.as_deref(),
            transport: account.transport,
            srtp: account.srtp,
        }
    }
}

/// A field's value as a template sees it: a `line`, a key's `position` or an account's
/// `service` is a number (so a template can count from 0 where its vendor does), everything
/// else text.
fn context_value(key: &str, value: &str) -> Value {
    match (key, value.parse::<u16>()) {
        ("line" | "position" | "service", Ok(number)) => Value::from(number),
        _ => Value::from(value),
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
