//! What a template sees, and the check that names the field a refused value came from.
//!
//! Values are checked against the file's format *before* rendering, each under its own name
//! (`accounts.2.display_name`, `secrets.admin_password`, `settings.ntp_server`), so a refusal
//! names the field an operator has to fix. Only the fields a template refers to are checked: a value
//! one vendor's format cannot carry does not stop another vendor's file. The formatter checks
//! every value written once more, so a value computed inside a template cannot slip through.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

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

/// Where a value sits in a template's input. Its dotted name (`accounts.2.user_name`) is
/// written out only for an error: a render checks and places every field by these parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place<'a> {
    /// A top-level value: `mac`.
    Top(&'static str),
    /// An entry of a map: `settings.ntp_server`, `secrets.admin_password`, `account.user_name`.
    Entry(&'static str, &'a str),
    /// A field of a list's item: `accounts.2.user_name` (the list, the item's number, the key).
    Item(&'static str, u16, &'static str),
}

impl Place<'_> {
    /// The field's key within its map or item (`user_name`), or its name for a top-level value.
    fn key(&self) -> &str {
        match self {
            Place::Top(name) => name,
            Place::Entry(_, key) => key,
            Place::Item(_, _, key) => key,
        }
    }
}

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Top(name) => f.write_str(name),
            Place::Entry(map, key) => write!(f, "{map}.{key}"),
            Place::Item(list, number, key) => write!(f, "{list}.{number}.{key}"),
        }
    }
}

/// One part of a reference (`accounts`, `*`, `user_name`, `2`): `*` stands for any one part.
#[derive(Debug)]
struct Part {
    text: String,
    /// The number an item's part is written as, when `text` is one (`2`, not `02`).
    number: Option<u16>,
}

impl Part {
    fn read(text: &str) -> Self {
        let number = text.parse::<u16>().ok().filter(|number| number.to_string() == text);
        Self { text: text.to_owned(), number }
    }

    fn is_any(&self) -> bool {
        self.text == "*"
    }

    fn is_name(&self, name: &str) -> bool {
        self.is_any() || self.text == name
    }

    fn is_number(&self, number: u16) -> bool {
        self.is_any() || self.number == Some(number)
    }
}

/// The fields a template refers to (`accounts.*.user_name`, `account`, `settings.ntp_server`),
/// each split into its parts once, when the template is loaded: every render asks of each of
/// its fields whether one of them covers it.
#[derive(Debug)]
pub(crate) struct References {
    parts: Vec<(String, Vec<Part>)>,
    /// The settings it names (`settings.ntp_server`), or `None` when it uses `settings` as a
    /// whole (a loop, a lookup by a computed name, `settings|length`): a render gives it only
    /// these, so its cost does not grow with settings it never reads.
    settings: Option<Vec<String>>,
}

impl References {
    pub(crate) fn new(referenced: &[String]) -> Self {
        let parts: Vec<(String, Vec<Part>)> = referenced
            .iter()
            .map(|r| {
                let mut parts = r.split('.');
                let head = parts.next().unwrap_or_default().to_owned();
                (head, parts.map(Part::read).collect())
            })
            .collect();
        // `settings.ntp_server`, or `settings.ntp_server.x` (which fails on the string), names
        // one setting; a bare `settings` uses them all.
        let mut settings: Option<Vec<String>> = Some(Vec::new());
        for (_, tail) in parts.iter().filter(|(head, _)| head == "settings") {
            match (tail.first(), &mut settings) {
                (None, _) => settings = None,
                (Some(name), Some(names)) => names.push(name.text.clone()),
                (Some(_), None) => {}
            }
        }
        if let Some(names) = &mut settings {
            names.sort();
            names.dedup();
        }
        Self { parts, settings }
    }

    /// Whether the field at `place` is one of the references or lies below one.
    fn cover(&self, place: Place<'_>) -> bool {
        let head = match place {
            Place::Top(head) | Place::Entry(head, _) | Place::Item(head, _, _) => head,
        };
        self.parts.iter().filter(|(own, _)| own == head).any(|(_, tail)| match (place, tail.as_slice()) {
            (_, []) => true,
            (Place::Top(_), _) => false,
            (Place::Entry(_, key), [part]) => part.is_name(key),
            (Place::Item(_, number, _), [part]) => part.is_number(number),
            (Place::Item(_, number, key), [item, part]) => item.is_number(number) && part.is_name(key),
            _ => false,
        })
    }
}

/// A check of one value, naming its field in the error.
type Check = fn(&str, &str) -> Result<(), TemplateError>;

/// A map in the context: the top level, `settings`, an account's fields.
type Map = BTreeMap<Value, Value>;

/// A template's input as placed values, before it becomes a minijinja value.
pub(crate) struct Fields<'a>(Vec<(Place<'a>, Cow<'a, str>)>);

impl<'a> Fields<'a> {
    /// A device's fields and the settings its template reads (see [`References`]); with
    /// `aliases`, the first account also as `account.*` and its password as
    /// `secrets.sip_password`.
    pub(crate) fn device(device: &Device<'a>, aliases: bool, referenced: &References) -> Self {
        let mut fields: Vec<(Place<'a>, Cow<'a, str>)> = vec![
            (Place::Top("mac"), device.mac.to_string().into()),
            (Place::Top("mac_upper"), device.mac.to_upper_hex().into()),
        ];
        if let Some(model) = device.model {
            fields.push((Place::Top("model"), model.into()));
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
            let mut values: Vec<(&'static str, Cow<'a, str>)> = vec![
                ("line", account.line.to_string().into()),
                ("user_name", account.user_name.as_str().into()),
                ("auth_name", account.auth_name.as_str().into()),
                ("display_name", account.display_name.as_str().into()),
                ("registrar", account.registrar.as_str().into()),
                ("registrar_host", registrar_host.into()),
            ];
            values.extend(registrar_port.map(|port| ("registrar_port", port.into())));
            values.extend(account.transport.map(|transport| ("transport", transport.name().into())));
            values.extend(account.srtp.map(|srtp| ("srtp", srtp.name().into())));
            if let Some(proxy) = &account.outbound_proxy {
                let (host, port) = split_host_port(proxy);
                values.push(("outbound_proxy", proxy.as_str().into()));
                values.push(("outbound_proxy_host", host.into()));
                values.extend(port.map(|port| ("outbound_proxy_port", port.into())));
            }
            values.push(("service", service_number.to_string().into()));
            values.extend(first_of_service.then_some(("first_of_service", "yes".into())));
            values.extend(password.map(|password| ("password", password.into())));
            for (name, value) in &values {
                fields.push((Place::Item("accounts", account.line, name), value.clone()));
            }
            if index == 0 && aliases {
                for (name, value) in values {
                    match name {
                        "password" => fields.push((Place::Entry("secrets", "sip_password"), value)),
                        _ => fields.push((Place::Entry("account", name), value)),
                    }
                }
            }
        }
        if let Some(password) = device.secrets.admin_password {
            fields.push((Place::Entry("secrets", "admin_password"), password.into()));
        }
        for key in device.keys {
            for (name, value) in [
                ("position", key.position.to_string().into()),
                ("type", key.kind.name().into()),
                ("value", key.value.as_str().into()),
                ("label", key.label.as_str().into()),
                ("line", key.line.to_string().into()),
            ] {
                fields.push((Place::Item("keys", key.position, name), value));
            }
        }
        for (name, value) in device.firmware.iter().flat_map(Firmware::fields) {
            fields.push((Place::Entry("firmware", name), value.into()));
        }
        let mut fields = Fields(fields);
        fields.add_settings(device.settings, referenced);
        fields
    }

    pub(crate) fn common(settings: &'a LayeredSettings, referenced: &References) -> Self {
        let mut fields = Fields(Vec::new());
        fields.add_settings(settings, referenced);
        fields
    }

    /// The settings a template reads: those it names, or all of them if it uses the whole map.
    fn add_settings(&mut self, settings: &'a LayeredSettings, referenced: &References) {
        let mut add = |name, value: &'a str| self.0.push((Place::Entry("settings", name), value.into()));
        match &referenced.settings {
            Some(names) => {
                names.iter().filter_map(|name| settings.entry(name)).for_each(|(name, value)| add(name, value))
            }
            None => settings.resolve().into_iter().for_each(|(name, value)| add(name, value)),
        }
    }

    /// Checks every field the template refers to (`referenced` holds dotted paths such as
    /// `account.display_name`, `accounts.*.password`, or `settings` for a template that walks
    /// all settings).
    pub(crate) fn check(&self, format: Format, referenced: &References) -> Result<(), TemplateError> {
        for (place, value) in &self.0 {
            let sip_check: Option<Check> = match place {
                // What goes into SIP has SIP's shape in every vendor's file, referenced or not.
                Place::Item("accounts", ..) | Place::Entry("account", _) => match place.key() {
                    "user_name" => Some(crate::sip::check_sip_user),
                    "auth_name" => Some(crate::sip::check_auth_name),
                    "registrar" | "outbound_proxy" => Some(crate::sip::check_sip_host),
                    _ => None,
                },
                // What a key watches or dials, and its label, go inside vendors' key syntaxes.
                Place::Item("keys", ..) => match place.key() {
                    "value" => Some(crate::sip::check_dial_string),
                    "label" => Some(crate::check_key_label),
                    _ => None,
                },
                _ => None,
            };
            // Checks are pure: the field's name is written out only to name it in a refusal.
            if let Some(check) = sip_check
                && check("", value).is_err()
            {
                check(&place.to_string(), value)?;
            }
            if referenced.cover(*place) && !fits_every_format(value) {
                check_value(format, &place.to_string(), value)?;
            }
        }
        Ok(())
    }

    /// The template context: top-level values, maps (`account`, `secrets`, `settings`) and the
    /// lists `accounts` and `keys`.
    pub(crate) fn to_value(&self) -> Value {
        // Maps keyed by `Value` become the context's maps as they are, without being collected
        // again.
        let mut top: Map = BTreeMap::new();
        // `settings` and `secrets` always exist, so `settings.x is defined` works when nothing is
        // set and `secrets.x is defined` when no secret may be sent.
        let mut maps: BTreeMap<&str, Map> = [("settings", Map::new()), ("secrets", Map::new())].into();
        // The lists' items, in the order their fields were added (line, position).
        let mut lists: BTreeMap<&str, Vec<(u16, Map)>> = LISTS.iter().map(|(list, _)| (*list, Vec::new())).collect();
        for (place, value) in &self.0 {
            match *place {
                Place::Top(name) => {
                    top.insert(Value::from(name), Value::from(value.as_ref()));
                }
                Place::Entry(map, key) => {
                    maps.entry(map).or_default().insert(Value::from(key), context_value(key, value));
                }
                Place::Item(list, number, key) => {
                    let items = lists.entry(list).or_default();
                    if items.last().is_none_or(|(last, _)| *last != number) {
                        items.push((number, Map::new()));
                    }
                    if let Some((_, item)) = items.last_mut() {
                        item.insert(Value::from(key), context_value(key, value));
                    }
                }
            }
        }
        for (list, items) in lists {
            top.insert(Value::from(list), items.into_iter().map(|(_, item)| Value::from(item)).collect());
        }
        for (name, map) in maps {
            top.insert(Value::from(name), Value::from(map));
        }
        Value::from(top)
    }
}

/// Whether `value` is printable ASCII without surrounding spaces: what every format carries
/// as it is, so its full check (which names the field) is skipped.
fn fits_every_format(value: &str) -> bool {
    let bytes = value.as_bytes();
    bytes.iter().all(|b| (b' '..=b'~').contains(b)) && bytes.first() != Some(&b' ') && bytes.last() != Some(&b' ')
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
