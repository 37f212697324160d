//! The JSON documents of the admin API, and their checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sipprov_credentials::{
    Account, DeviceProfile, DeviceRecord, DigestHa1, FunctionKey, IssuedSecrets, KeyKind, MAX_KEYS, Password,
    PendingDevice, Srtp, StoredAuditEvent, Transport,
};
use sipprov_identity::Mac;
use sipprov_template::{
    Layer, LayeredSettings, Vendor, check_auth_name, check_dial_string, check_key_label, check_portable_value,
    check_sip_host, check_sip_user,
};

use super::time;

/// A device as an operator describes it: `POST /v1/devices`, one import row, or (without the
/// MAC) `POST /v1/pending/{mac}/enrol`. It may carry a password: no `Debug`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceInput {
    pub(crate) mac: Option<String>,
    pub(crate) user_name: Option<String>,
    pub(crate) auth_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) vendor: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) site: Option<String>,
    #[serde(default)]
    pub(crate) settings: BTreeMap<String, String>,
    /// The operator's own SIP password (from its OSS/BSS) instead of a generated one.
    pub(crate) password: Option<String>,
    /// Several accounts, instead of the one `user_name`, `auth_name`, `display_name` and
    /// `password` describe.
    pub(crate) accounts: Option<Vec<AccountInput>>,
    /// Programmable keys: BLF and speed dial.
    pub(crate) keys: Option<Vec<KeyInput>>,
    /// Return the plaintext password too, not only the HA1 values.
    #[serde(default)]
    pub(crate) reveal_password: bool,
    /// For `POST /v1/pending/{mac}/enrol`: the key fingerprint (as `pending list` shows it) the
    /// operator approves; it is pinned at enrolment.
    pub(crate) spki_sha256: Option<String>,
    /// How the phone authenticates: `certificate` (its factory certificate, the default) or
    /// `digest` (an enrolment secret, for phones without a usable certificate).
    pub(crate) auth: Option<String>,
}

/// One SIP account as an operator describes it. It may carry a password: no `Debug`.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountInput {
    /// The device's line (port, handset) it is on; by default its place in the list, from 1.
    pub(crate) line: Option<u16>,
    pub(crate) user_name: Option<String>,
    pub(crate) auth_name: Option<String>,
    pub(crate) display_name: Option<String>,
    /// Its own registrar instead of the server's.
    pub(crate) registrar: Option<String>,
    pub(crate) outbound_proxy: Option<String>,
    /// `udp`, `tcp` or `tls`.
    pub(crate) transport: Option<String>,
    /// `off`, `optional` or `required`.
    pub(crate) srtp: Option<String>,
    /// The operator's own SIP password for this account instead of a generated one.
    pub(crate) password: Option<String>,
}

/// A programmable key as an operator describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyInput {
    /// `blf` or `speed_dial`.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The extension a BLF watches, or the number a speed dial dials.
    pub(crate) value: String,
    /// The text beside the key; by default the value.
    pub(crate) label: Option<String>,
    /// The key on the phone, from 1; by default the keys follow the accounts' line keys.
    pub(crate) position: Option<u16>,
    /// The account line it uses; by default the first account's.
    pub(crate) line: Option<u16>,
}

/// Checks a device's keys against its accounts; errors name `keys[i].field`.
pub(crate) fn check_keys(inputs: Vec<KeyInput>, accounts: &[Account]) -> Result<Vec<FunctionKey>, String> {
    if inputs.len() > MAX_KEYS {
        return Err(format!("a device has at most {MAX_KEYS} keys"));
    }
    let first_line = accounts.first().map_or(1, |account| account.line);
    let mut keys = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        let name = |field: &str| format!("keys[{index}].{field}");
        let kind = KeyKind::from_name(&input.kind.to_ascii_lowercase())
            .ok_or_else(|| format!("{} must be blf or speed_dial", name("type")))?;
        let value = input.value.trim().to_owned();
        check_dial_string(&name("value"), &value).map_err(|e| e.to_string())?;
        let label = optional_text(&name("label"), input.label)?.unwrap_or_else(|| value.clone());
        check_key_label(&name("label"), &label).map_err(|e| e.to_string())?;
        let line = input.line.unwrap_or(first_line);
        if !accounts.iter().any(|account| account.line == line) {
            return Err(format!("{}: the device has no account on line {line}", name("line")));
        }
        let default_position = accounts.len() + index + 1;
        let position = match input.position {
            Some(0) => return Err(format!("{} counts from 1", name("position"))),
            Some(position) => position,
            None => u16::try_from(default_position).map_err(|_| format!("{} is out of range", name("position")))?,
        };
        keys.push(FunctionKey { position, kind, value, label, line });
    }
    keys.sort_by_key(|key| key.position);
    if let Some(pair) = keys.windows(2).find(|pair| pair[0].position == pair[1].position) {
        return Err(format!("two keys are at position {}", pair[0].position));
    }
    Ok(keys)
}

/// A [`DeviceInput`] that passed every check.
pub(crate) struct NewDevice {
    pub(crate) mac: Mac,
    pub(crate) accounts: Vec<Account>,
    pub(crate) profile: DeviceProfile,
    /// The operator's own passwords, by line.
    pub(crate) passwords: Vec<(u16, Password)>,
    pub(crate) reveal_password: bool,
    /// The approved key of a pending device.
    pub(crate) spki_sha256: Option<[u8; 32]>,
    /// `auth`: `Some(true)` for an enrolment secret, `Some(false)` for the certificate, `None`
    /// when not given.
    pub(crate) digest: Option<bool>,
}

const MAX_FIELD: usize = 256;

impl DeviceInput {
    /// Checks every field; the error names the field and what is wrong. `mac_from_path` is the
    /// pending device being enrolled, the only case where `spki_sha256` may be given.
    pub(crate) fn validate(self, mac_from_path: Option<Mac>) -> Result<NewDevice, String> {
        let spki_sha256 = match (&self.spki_sha256, mac_from_path) {
            (None, _) => None,
            (Some(text), Some(_)) => Some(parse_fingerprint(text)?),
            (Some(_), None) => return Err("spki_sha256 is given only when enrolling a pending device".into()),
        };
        let mac = match (mac_from_path, &self.mac) {
            (Some(mac), None) => mac,
            (Some(mac), Some(given)) => {
                let given = parse_mac(given)?;
                if given != mac {
                    return Err(format!("mac {given} differs from the path's {mac}"));
                }
                mac
            }
            (None, Some(given)) => parse_mac(given)?,
            (None, None) => return Err("mac is required".into()),
        };
        let one_account = [&self.user_name, &self.auth_name, &self.display_name, &self.password];
        let listed = self.accounts.is_some();
        let inputs = match self.accounts {
            Some(_) if one_account.iter().any(|field| field.is_some()) => {
                return Err("give the accounts either in accounts or as user_name, auth_name, display_name and \
                            password, not both"
                    .into());
            }
            Some(inputs) => inputs,
            None => vec![AccountInput {
                user_name: self.user_name,
                auth_name: self.auth_name,
                display_name: self.display_name,
                password: self.password,
                ..AccountInput::default()
            }],
        };
        let mut accounts = Vec::with_capacity(inputs.len());
        let mut passwords = Vec::new();
        for (index, input) in inputs.into_iter().enumerate() {
            let prefix = if listed { format!("accounts[{index}].") } else { String::new() };
            let (account, password) = input.validate(&prefix, index)?;
            passwords.extend(password.map(|password| (account.line, password)));
            accounts.push(account);
        }
        accounts.sort_by_key(|account| account.line);
        sipprov_credentials::check_accounts(&accounts)?;
        let profile = DeviceProfile {
            vendor: optional_text("vendor", self.vendor)?.map(|v| v.to_ascii_lowercase()),
            model: optional_text("model", self.model)?,
            site: optional_text("site", self.site)?,
            settings: check_settings(self.settings)?,
            keys: check_keys(self.keys.unwrap_or_default(), &accounts)?,
        };
        check_vendor_limits(&profile, &accounts)?;
        let digest = parse_auth(self.auth.as_deref())?;
        if digest == Some(true) && profile.vendor.is_none() {
            return Err("vendor is required with auth=digest: without a certificate, the inventory names the \
                        config's format"
                .into());
        }
        let reveal_password = self.reveal_password;
        Ok(NewDevice { mac, accounts, profile, passwords, reveal_password, spki_sha256, digest })
    }
}

/// `auth`: `certificate` or `digest`.
pub(crate) fn parse_auth(auth: Option<&str>) -> Result<Option<bool>, String> {
    match auth.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(None),
        Some("certificate") => Ok(Some(false)),
        Some("digest") => Ok(Some(true)),
        Some(other) => Err(format!("auth must be certificate or digest, not {other:?}")),
    }
}

impl AccountInput {
    /// A stored account as input, to merge an import row into.
    fn from_account(account: &Account) -> Self {
        Self {
            line: Some(account.line),
            user_name: Some(account.user_name.clone()),
            auth_name: Some(account.auth_name.clone()),
            display_name: Some(account.display_name.clone()),
            registrar: account.registrar.clone(),
            outbound_proxy: account.outbound_proxy.clone(),
            transport: account.transport.map(|t| t.name().to_owned()),
            srtp: account.srtp.map(|s| s.name().to_owned()),
            password: None,
        }
    }

    /// The fields `row` gives replace these.
    fn overlay(&mut self, row: AccountInput) {
        for (field, given) in [
            (&mut self.user_name, row.user_name),
            (&mut self.auth_name, row.auth_name),
            (&mut self.display_name, row.display_name),
            (&mut self.registrar, row.registrar),
            (&mut self.outbound_proxy, row.outbound_proxy),
            (&mut self.transport, row.transport),
            (&mut self.srtp, row.srtp),
        ] {
            if given.is_some() {
                *field = given;
            }
        }
    }

    /// Checks every field of the account at `index` of a list; errors name the field with
    /// `prefix` (`accounts[1].`).
    fn validate(self, prefix: &str, index: usize) -> Result<(Account, Option<Password>), String> {
        let name = |field: &str| format!("{prefix}{field}");
        let line = match self.line {
            Some(line) => line,
            None => u16::try_from(index + 1).map_err(|_| name("line") + " is out of range")?,
        };
        let user_name = sip_user_name(&name("user_name"), required_text(&name("user_name"), self.user_name)?)?;
        let auth_name = optional_text(&name("auth_name"), self.auth_name)?.unwrap_or_else(|| user_name.clone());
        let auth_name = checked_auth_name(&name("auth_name"), auth_name)?;
        let display_name =
            optional_text(&name("display_name"), self.display_name)?.unwrap_or_else(|| user_name.clone());
        let display_name = checked_display_name(&name("display_name"), display_name)?;
        let host = |field: &str, value: Option<String>| -> Result<Option<String>, String> {
            let value = optional_text(&name(field), value)?;
            if let Some(host) = &value {
                check_sip_host(&name(field), host).map_err(|e| e.to_string())?;
            }
            Ok(value)
        };
        let transport = choice(&name("transport"), self.transport, Transport::ALL, Transport::name)?;
        let srtp = choice(&name("srtp"), self.srtp, Srtp::ALL, Srtp::name)?;
        let account = Account {
            line,
            user_name,
            auth_name,
            display_name,
            registrar: host("registrar", self.registrar)?,
            outbound_proxy: host("outbound_proxy", self.outbound_proxy)?,
            transport,
            srtp,
        };
        let password = self.password.map(|p| check_password(p).map_err(|e| format!("{prefix}{e}"))).transpose()?;
        Ok((account, password))
    }
}

/// One of `all`, given by its name in any case; the error lists the names.
fn choice<T: Copy>(
    field: &str,
    value: Option<String>,
    all: &[T],
    name: fn(T) -> &'static str,
) -> Result<Option<T>, String> {
    let Some(value) = optional_text(field, value)? else { return Ok(None) };
    match all.iter().copied().find(|item| name(*item).eq_ignore_ascii_case(&value)) {
        Some(item) => Ok(Some(item)),
        None => {
            Err(format!("{field} must be one of {}", all.iter().map(|item| name(*item)).collect::<Vec<_>>().join(", ")))
        }
    }
}

/// Refuses an account on a line the device's model does not have, and a key its vendor's
/// files cannot carry, where the inventory names a vendor sipprov knows (each model's line
/// count and each vendor's keys are in `docs/vendors.md`).
pub(crate) fn check_vendor_limits(profile: &DeviceProfile, accounts: &[Account]) -> Result<(), String> {
    let Some(vendor) = profile.vendor.as_deref().and_then(|vendor| vendor.parse::<Vendor>().ok()) else {
        return Ok(());
    };
    let Some(vendor_profile) = vendor.profile() else { return Ok(()) };
    let model = profile.model.as_deref();
    let most = vendor_profile.lines.for_model(model);
    if let Some(account) = accounts.iter().find(|account| account.line > most) {
        return Err(format!(
            "line {} is beyond the {most} accounts a {vendor} {} holds",
            account.line,
            model.unwrap_or("device of unknown model")
        ));
    }
    // An HT81x registers every port through one profile: the first account's registrar,
    // proxy, transport and SRTP. A port that names others would silently use the first's.
    let shared = |a: &Account| (a.registrar.clone(), a.outbound_proxy.clone(), a.transport, a.srtp);
    // (The HT813 has the HT80x layout: an account per port.)
    let ht81x = vendor == Vendor::Grandstream
        && model.is_some_and(|m| {
            let m = m.to_ascii_uppercase();
            m.starts_with("HT81") && !m.starts_with("HT813")
        });
    let differs = accounts.iter().find(|a| accounts.first().is_some_and(|first| shared(a) != shared(first)));
    if let (true, Some(other)) = (ht81x, differs) {
        return Err(format!(
            "line {}: every port of an HT81x registers through the first account's registrar, proxy, transport \
             and SRTP; give the same ones or none",
            other.line
        ));
    }
    for key in &profile.keys {
        let kind = match key.kind {
            KeyKind::Blf => sipprov_template::KeyKind::Blf,
            KeyKind::SpeedDial => sipprov_template::KeyKind::SpeedDial,
        };
        vendor_profile
            .keys
            .check(kind, key.position)
            .map_err(|why| format!("the key at position {} cannot be set on a {vendor}: {why}", key.position))?;
    }
    Ok(())
}

/// The optional body of `POST /v1/devices/{mac}/rearm` and `.../rotate`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReissueInput {
    /// One account's line: only its password is issued. Without it, every account's and the
    /// admin password.
    pub(crate) line: Option<u16>,
    /// The operator's own SIP password (from its OSS/BSS) instead of a generated one.
    pub(crate) password: Option<String>,
    /// Return the plaintext password too, not only the HA1 values.
    #[serde(default)]
    pub(crate) reveal_password: bool,
}

/// An operator-supplied SIP password: 12 to 128 characters that every vendor's format can
/// carry (no control characters, no U+FFFE/U+FFFF, no leading or trailing white space: a phone
/// would trim it and then fail to register).
pub(crate) fn check_password(password: String) -> Result<Password, String> {
    if password.len() < 12 || password.len() > 128 {
        return Err("password must be 12 to 128 characters".into());
    }
    if password.chars().any(char::is_control) {
        return Err("password may not contain control characters".into());
    }
    // The message must not echo the password, so the check's own error is not used.
    if check_portable_value("password", &password, 128).is_err() {
        return Err("password may not start or end with white space, nor contain U+FFFE or U+FFFF".into());
    }
    Ok(Password::from_string(password))
}

/// A SIP user part (RFC 3261): it goes into the SIP URI every phone registers with.
fn sip_user_name(field: &str, value: String) -> Result<String, String> {
    check_sip_user(field, &value).map_err(|e| e.to_string())?;
    Ok(value)
}

/// A digest user name: carried by every format, and quoted in SIP's Authorization header.
fn checked_auth_name(field: &str, value: String) -> Result<String, String> {
    check_auth_name(field, &value).map_err(|e| e.to_string())?;
    Ok(value)
}

/// A name shown on the phone: anything every vendor's format can carry.
fn checked_display_name(field: &str, value: String) -> Result<String, String> {
    check_portable_value(field, &value, MAX_FIELD).map_err(|e| e.to_string())?;
    Ok(value)
}

/// `PATCH /v1/devices/{mac}`: the fields given replace the stored ones.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DevicePatch {
    pub(crate) user_name: Option<String>,
    pub(crate) auth_name: Option<String>,
    pub(crate) display_name: Option<String>,
    pub(crate) vendor: Option<String>,
    pub(crate) model: Option<String>,
    pub(crate) site: Option<String>,
    pub(crate) settings: Option<BTreeMap<String, String>>,
    /// Every account, replacing the stored ones: an account on a new line gets a generated
    /// password, one no longer listed loses its secret. Passwords are not given here (rotate).
    pub(crate) accounts: Option<Vec<AccountInput>>,
    /// Every programmable key, replacing the stored ones (`[]` removes them all).
    pub(crate) keys: Option<Vec<KeyInput>>,
}

impl DevicePatch {
    /// An import row for an enrolled device: the fields it gives replace the stored ones, its
    /// settings are added to the stored ones.
    pub(crate) fn from_import(input: &DeviceInput, device: &DeviceRecord) -> Self {
        let settings = (!input.settings.is_empty()).then(|| {
            let mut merged = device.profile.settings.clone();
            merged.extend(input.settings.clone());
            merged
        });
        // The row's accounts change the stored ones line by line: a line the row leaves out is
        // kept, a field it leaves empty keeps its value. A row's passwords are for enrolment
        // (a re-import of the same file changes nothing); an enrolled device's are changed by
        // rotation, and an account the row adds gets a generated one, in the row's result.
        let accounts = input.accounts.as_ref().map(|rows| {
            let mut merged: Vec<AccountInput> = device.accounts.iter().map(AccountInput::from_account).collect();
            for (index, row) in rows.iter().enumerate() {
                let line = row.line.or_else(|| u16::try_from(index + 1).ok());
                let row = AccountInput { line, password: None, ..row.clone() };
                match merged.iter_mut().find(|stored| stored.line == line) {
                    Some(stored) => stored.overlay(row),
                    None => merged.push(row),
                }
            }
            merged
        });
        Self {
            user_name: input.user_name.clone(),
            auth_name: input.auth_name.clone(),
            display_name: input.display_name.clone(),
            vendor: input.vendor.clone(),
            model: input.model.clone(),
            site: input.site.clone(),
            settings,
            accounts,
            keys: input.keys.clone(),
        }
    }

    /// The accounts and profile after the patch; the error names the bad field. `user_name`,
    /// `auth_name` and `display_name` change the first account.
    pub(crate) fn apply(self, device: &DeviceRecord) -> Result<(Vec<Account>, DeviceProfile), String> {
        let mut accounts = device.accounts.clone();
        let mut profile = device.profile.clone();
        if let Some(inputs) = self.accounts {
            accounts = Vec::with_capacity(inputs.len());
            for (index, input) in inputs.into_iter().enumerate() {
                if input.password.is_some() {
                    return Err(format!("accounts[{index}].password: a password is changed by rotating the account"));
                }
                accounts.push(input.validate(&format!("accounts[{index}]."), index)?.0);
            }
            accounts.sort_by_key(|account| account.line);
            sipprov_credentials::check_accounts(&accounts)?;
        }
        let first = accounts.first_mut().ok_or("a device has at least one account")?;
        if let Some(value) = self.user_name {
            first.user_name = sip_user_name("user_name", required_text("user_name", Some(value))?)?;
        }
        if let Some(value) = self.auth_name {
            first.auth_name = checked_auth_name("auth_name", required_text("auth_name", Some(value))?)?;
        }
        if let Some(value) = self.display_name {
            first.display_name = checked_display_name("display_name", required_text("display_name", Some(value))?)?;
        }
        // An empty string clears an optional field.
        for (name, value, field) in [
            ("vendor", self.vendor, &mut profile.vendor),
            ("model", self.model, &mut profile.model),
            ("site", self.site, &mut profile.site),
        ] {
            if let Some(value) = value {
                *field = optional_text(name, Some(value))?;
            }
        }
        if let Some(vendor) = &mut profile.vendor {
            *vendor = vendor.to_ascii_lowercase();
        }
        if let Some(settings) = self.settings {
            profile.settings = check_settings(settings)?;
        }
        if let Some(keys) = self.keys {
            profile.keys = check_keys(keys, &accounts)?;
        }
        if let Some(key) = profile.keys.iter().find(|key| accounts.iter().all(|account| account.line != key.line)) {
            return Err(format!(
                "the key at position {} uses line {}, which the device no longer has",
                key.position, key.line
            ));
        }
        check_vendor_limits(&profile, &accounts)?;
        Ok((accounts, profile))
    }
}

fn parse_mac(text: &str) -> Result<Mac, String> {
    Mac::parse(text).map_err(|e| format!("mac {:?}: {}", truncate(text), e.reason()))
}

fn required_text(name: &str, value: Option<String>) -> Result<String, String> {
    optional_text(name, value)?.ok_or_else(|| format!("{name} is required"))
}

/// A text field, trimmed (empty counts as not given): what every vendor's format can carry.
fn optional_text(name: &str, value: Option<String>) -> Result<Option<String>, String> {
    let Some(value) = value else { return Ok(None) };
    let value = value.trim().to_owned();
    if value.len() > MAX_FIELD {
        return Err(format!("{name} is longer than {MAX_FIELD} bytes"));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{name} contains a control character"));
    }
    check_portable_value(name, &value, MAX_FIELD).map_err(|e| e.to_string())?;
    Ok((!value.is_empty()).then_some(value))
}

/// Setting names must be ones a template can use; values must fit in a config line.
fn check_settings(settings: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let mut check = LayeredSettings::new();
    for (name, value) in &settings {
        if value.len() > 1024 {
            return Err(format!("settings.{name} is longer than 1024 bytes"));
        }
        check.set(Layer::Device, name, value.as_str()).map_err(|e| format!("settings: {e}"))?;
        sipprov_template::check_setting(name, value).map_err(|e| format!("settings: {e}"))?;
    }
    Ok(settings)
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A device as the API shows it (never a secret).
#[derive(Debug, Serialize)]
pub(crate) struct DeviceView {
    mac: String,
    user_name: String,
    auth_name: String,
    display_name: String,
    vendor: Option<String>,
    model: Option<String>,
    site: Option<String>,
    settings: BTreeMap<String, String>,
    /// Every account, in line order (`user_name`, `auth_name`, `display_name` above are the
    /// first one's).
    accounts: Vec<AccountView>,
    /// Its programmable keys, in position order.
    keys: Vec<KeyView>,
    state: &'static str,
    state_since: Option<String>,
    holds_secrets: bool,
    /// `certificate`, or `digest` when it holds an enrolment secret.
    auth: &'static str,
    key_pinned: bool,
    disabled: bool,
    enrolled_at: String,
    /// When, from where and with which User-Agent its config was last served (updated every
    /// few seconds, not at each fetch).
    last_fetch: Option<String>,
    last_peer: Option<String>,
    last_user_agent: Option<String>,
}

impl From<&DeviceRecord> for DeviceView {
    fn from(device: &DeviceRecord) -> Self {
        Self {
            mac: device.mac.to_string(),
            user_name: device.accounts.first().map(|a| a.user_name.clone()).unwrap_or_default(),
            auth_name: device.accounts.first().map(|a| a.auth_name.clone()).unwrap_or_default(),
            display_name: device.accounts.first().map(|a| a.display_name.clone()).unwrap_or_default(),
            accounts: device
                .accounts
                .iter()
                .map(|account| AccountView {
                    line: account.line,
                    user_name: account.user_name.clone(),
                    auth_name: account.auth_name.clone(),
                    display_name: account.display_name.clone(),
                    registrar: account.registrar.clone(),
                    outbound_proxy: account.outbound_proxy.clone(),
                    transport: account.transport.map(Transport::name),
                    srtp: account.srtp.map(Srtp::name),
                    holds_secret: device.secrets.as_ref().is_some_and(|s| s.sip_password(account.line).is_some()),
                })
                .collect(),
            keys: device
                .profile
                .keys
                .iter()
                .map(|key| KeyView {
                    position: key.position,
                    kind: key.kind.name(),
                    value: key.value.clone(),
                    label: key.label.clone(),
                    line: key.line,
                })
                .collect(),
            vendor: device.profile.vendor.clone(),
            model: device.profile.model.clone(),
            site: device.profile.site.clone(),
            settings: device.profile.settings.clone(),
            state: device.state.name(),
            state_since: device.state.time().map(time::format),
            holds_secrets: device.secrets.is_some(),
            auth: if device.enrolment_secret.is_some() { "digest" } else { "certificate" },
            key_pinned: device.pinned_spki.is_some(),
            disabled: device.disabled,
            enrolled_at: time::format(device.enrolled_at),
            last_fetch: device.last_seen.as_ref().map(|seen| time::format(seen.at)),
            last_peer: device.last_seen.as_ref().map(|seen| seen.peer.clone()),
            last_user_agent: device.last_seen.as_ref().and_then(|seen| seen.user_agent.clone()),
        }
    }
}

/// One account as the API shows it (never a secret).
#[derive(Debug, Serialize)]
pub(crate) struct AccountView {
    line: u16,
    user_name: String,
    auth_name: String,
    display_name: String,
    /// Its own registrar; `null` for the server's.
    registrar: Option<String>,
    outbound_proxy: Option<String>,
    transport: Option<&'static str>,
    srtp: Option<&'static str>,
    /// Whether its SIP password is still held for delivery.
    holds_secret: bool,
}

/// A programmable key as the API shows it.
#[derive(Debug, Serialize)]
pub(crate) struct KeyView {
    position: u16,
    #[serde(rename = "type")]
    kind: &'static str,
    value: String,
    label: String,
    line: u16,
}

/// What the registrar needs for one account, handed over once. Secret: no `Debug`.
#[derive(Clone, Serialize)]
pub(crate) struct RegistrarView {
    line: u16,
    user: String,
    realm: String,
    ha1_md5: String,
    ha1_sha256: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
}

impl RegistrarView {
    fn new(account: &Account, realm: &str, password: &Password, reveal_password: bool) -> Self {
        let ha1 = DigestHa1::compute(&account.auth_name, realm, password);
        Self {
            line: account.line,
            user: account.auth_name.clone(),
            realm: ha1.realm,
            ha1_md5: ha1.md5,
            ha1_sha256: ha1.sha256,
            password: reveal_password.then(|| password.expose().to_owned()),
        }
    }

    /// The hand-off for every account whose password was just issued, in line order.
    pub(crate) fn for_issued(
        accounts: &[Account],
        realm: &str,
        issued: &IssuedSecrets,
        reveal_password: bool,
    ) -> Vec<Self> {
        issued
            .sip_passwords
            .iter()
            .filter_map(|(line, password)| {
                let account = accounts.iter().find(|account| account.line == *line)?;
                Some(Self::new(account, realm, password, reveal_password))
            })
            .collect()
    }
}

/// A device with the registrar's hand-off: the answer to create, enrol, re-arm and rotate.
/// `registrars` has one entry per account issued; `registrar` is the first of them, for
/// clients written for one account.
#[derive(Serialize)]
pub(crate) struct IssuedView {
    pub(crate) device: DeviceView,
    pub(crate) registrar: Option<RegistrarView>,
    pub(crate) registrars: Vec<RegistrarView>,
    /// The enrolment secret of a device with `auth=digest`, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) enrolment_secret: Option<String>,
}

impl IssuedView {
    pub(crate) fn new(device: &DeviceRecord, realm: &str, issued: &IssuedSecrets, reveal_password: bool) -> Self {
        let registrars = RegistrarView::for_issued(&device.accounts, realm, issued, reveal_password);
        Self {
            device: DeviceView::from(device),
            registrar: registrars.first().cloned(),
            registrars,
            enrolment_secret: None,
        }
    }
}

/// A pending device: one MAC seen with one key. The key's fingerprint is what the operator
/// approves: enrolling pins it.
#[derive(Debug, Serialize)]
pub(crate) struct PendingView {
    mac: String,
    vendor: String,
    spki_sha256: String,
    first_seen: String,
    last_seen: String,
    count: u64,
}

impl From<&PendingDevice> for PendingView {
    fn from(pending: &PendingDevice) -> Self {
        Self {
            mac: pending.mac.to_string(),
            vendor: pending.vendor.clone(),
            spki_sha256: hex::encode(pending.spki_sha256),
            first_seen: time::format(pending.first_seen),
            last_seen: time::format(pending.last_seen),
            count: pending.count,
        }
    }
}

/// A key fingerprint as an operator gives it: 64 hex digits (`:` separators allowed).
pub(crate) fn parse_fingerprint(text: &str) -> Result<[u8; 32], String> {
    let digits: String = text.chars().filter(|c| *c != ':').collect();
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| "spki_sha256 must be 64 hex digits".to_owned())?;
    Ok(bytes)
}

/// One audit event.
#[derive(Debug, Serialize)]
pub(crate) struct AuditView {
    id: u64,
    at: String,
    mac: Option<String>,
    kind: &'static str,
    detail: String,
}

impl From<&StoredAuditEvent> for AuditView {
    fn from(stored: &StoredAuditEvent) -> Self {
        Self {
            id: stored.id,
            at: time::format(stored.event.at),
            mac: stored.event.mac.map(|mac| mac.to_string()),
            kind: stored.event.kind.name(),
            detail: stored.event.detail.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    fn input(json: &str) -> Result<NewDevice, String> {
        serde_json::from_str::<DeviceInput>(json).map_err(|e| e.to_string())?.validate(None)
    }

    #[test]
    fn a_minimal_device_gets_defaults_from_its_user_name() {
        let device = input(r#"{"mac": "00:15:65:AA:BB:01", "user_name": " 1001 "}"#).unwrap();
        assert_eq!(device.mac.to_string(), "001565aabb01");
        assert_eq!(device.accounts, [Account::new(1, "1001", "1001", "1001")]);
        assert!(device.passwords.is_empty() && !device.reveal_password);
    }

    #[test]
    fn every_bad_field_is_named() {
        let cases = [
            (r#"{"user_name": "1"}"#, "mac is required"),
            (r#"{"mac": "00:15:65", "user_name": "1"}"#, "mac \"00:15:65\""),
            (r#"{"mac": "001565aabb01"}"#, "user_name is required"),
            (r#"{"mac": "001565aabb01", "user_name": "a\u0007"}"#, "user_name contains a control character"),
            (r#"{"mac": "001565aabb01", "user_name": "1", "password": "short"}"#, "password must be 12"),
            (r#"{"mac": "001565aabb01", "user_name": "1", "settings": {"Bad Name": "x"}}"#, "settings:"),
            (r#"{"mac": "001565aabb01", "user_name": "1", "colour": "red"}"#, "unknown field `colour`"),
        ];
        for (json, expected) in cases {
            let error = input(json).err().unwrap();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn a_patch_replaces_given_fields_and_clears_empty_ones() {
        let device =
            input(r#"{"mac": "001565aabb01", "user_name": "1001", "site": "leeds", "model": "T54W"}"#).unwrap();
        let record = DeviceRecord {
            mac: device.mac,
            accounts: device.accounts,
            state: sipprov_credentials::CredentialState::Purged,
            secrets: None,
            pinned_spki: None,
            enrolment_secret: None,
            disabled: false,
            enrolled_at: sipprov_credentials::Timestamp::from_unix(0),
            last_seen: None,
            profile: device.profile,
        };
        let patch: DevicePatch = serde_json::from_str(r#"{"display_name": "Reception", "site": ""}"#).unwrap();
        let (accounts, profile) = patch.apply(&record).unwrap();
        assert_eq!(accounts[0].display_name, "Reception");
        assert_eq!(accounts[0].user_name, "1001");
        assert_eq!(profile.site, None);
        assert_eq!(profile.model.as_deref(), Some("T54W"));
    }

    #[test]
    fn several_accounts_are_checked_each_naming_its_place() {
        let device = input(
            r#"{"mac": "000b82aabb01", "vendor": "Grandstream", "model": "GXP2140", "accounts": [
                {"user_name": "2001", "transport": "TLS", "srtp": "required", "password": "Port-One-Secret-1"},
                {"user_name": "2002", "registrar": "sip2.example.net:5061", "outbound_proxy": "proxy.example.net"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(device.accounts.iter().map(|a| a.line).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(device.accounts[0].transport, Some(Transport::Tls));
        assert_eq!(device.accounts[0].srtp, Some(Srtp::Required));
        assert_eq!(device.accounts[1].registrar.as_deref(), Some("sip2.example.net:5061"));
        assert_eq!(device.passwords.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [1]);
        let cases = [
            (r#"{"mac": "000b82aabb01", "accounts": []}"#, "at least one account"),
            (
                r#"{"mac": "000b82aabb01", "accounts": [{"user_name": "1", "line": 2}, {"user_name": "2", "line": 2}]}"#,
                "line 2 is given twice",
            ),
            (
                r#"{"mac": "000b82aabb01", "accounts": [{"user_name": "1"}, {"user_name": "a@b"}]}"#,
                "accounts[1].user_name",
            ),
            (
                r#"{"mac": "000b82aabb01", "accounts": [{"user_name": "1", "transport": "sctp"}]}"#,
                "accounts[0].transport must be one of udp, tcp, tls",
            ),
            (
                r#"{"mac": "000b82aabb01", "accounts": [{"user_name": "1", "registrar": "a b"}]}"#,
                "accounts[0].registrar",
            ),
            (r#"{"mac": "000b82aabb01", "user_name": "1", "accounts": [{"user_name": "2"}]}"#, "not both"),
            (
                r#"{"mac": "000b82aabb01", "vendor": "grandstream", "model": "HT802", "accounts": [{"user_name": "1"}, {"user_name": "2"}, {"user_name": "3"}]}"#,
                "line 3 is beyond the 2 accounts a grandstream HT802 holds",
            ),
        ];
        for (json, expected) in cases {
            let error = input(json).err().unwrap();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn keys_are_checked_against_the_accounts_and_follow_the_line_keys_by_default() {
        let device = input(
            r#"{"mac": "001565aabb01", "accounts": [{"user_name": "1001"}, {"user_name": "1002"}], "keys": [
                {"type": "blf", "value": "1010", "label": "Reception"},
                {"type": "speed_dial", "value": "*97", "line": 2},
                {"type": "BLF", "value": "1011", "position": 9}
            ]}"#,
        )
        .unwrap();
        let keys = &device.profile.keys;
        assert_eq!(keys.iter().map(|k| k.position).collect::<Vec<_>>(), [3, 4, 9], "after the 2 line keys");
        assert_eq!((keys[0].kind, keys[0].label.as_str(), keys[0].line), (KeyKind::Blf, "Reception", 1));
        assert_eq!((keys[1].kind, keys[1].label.as_str(), keys[1].line), (KeyKind::SpeedDial, "*97", 2));
        let with = |keys: &str| format!(r#"{{"mac": "001565aabb01", "user_name": "1001", "keys": {keys}}}"#);
        let cases = [
            (with(r#"[{"type": "park", "value": "1"}]"#), "keys[0].type must be blf or speed_dial"),
            (with(r#"[{"type": "blf", "value": "10;fnc=sd"}]"#), "keys[0].value"),
            (with(r#"[{"type": "blf", "value": "1", "label": "a;nme=b"}]"#), "keys[0].label"),
            (with(r#"[{"type": "speed_dial", "value": "1 2"}]"#), "cannot be dialled"),
            (with(r#"[{"type": "blf", "value": "1", "line": 2}]"#), "no account on line 2"),
            (
                with(r#"[{"type": "blf", "value": "1", "position": 3}, {"type": "blf", "value": "2", "position": 3}]"#),
                "two keys are at position 3",
            ),
            (with(r#"[{"type": "blf", "value": "1", "label": "a\nb"}]"#), "keys[0].label"),
        ];
        for (json, expected) in cases {
            let error = input(&json).err().unwrap();
            assert!(error.contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn a_key_its_vendor_cannot_carry_is_refused() {
        let device = |vendor: &str, keys: &str| {
            input(&format!(r#"{{"mac": "001565aabb01", "user_name": "1001", "vendor": "{vendor}", "keys": {keys}}}"#))
        };
        assert!(device("polycom", r#"[{"type": "blf", "value": "1002"}]"#).is_ok());
        let error = device("polycom", r#"[{"type": "speed_dial", "value": "1002"}]"#).err().unwrap();
        assert!(error.contains("cannot be set on a polycom: its files have no speed_dial keys"), "{error}");
        let error = device("grandstream", r#"[{"type": "blf", "value": "1002", "position": 8}]"#).err().unwrap();
        assert!(error.contains("keys 1 to 7, not 8"), "{error}");
        assert!(device("gigaset", r#"[{"type": "blf", "value": "1002"}]"#).is_err());
    }

    #[test]
    fn an_ht81x_port_cannot_name_a_registrar_of_its_own() {
        let ata = |second: &str| {
            input(&format!(
                r#"{{"mac": "000b82aabb01", "vendor": "grandstream", "model": "HT814",
                    "accounts": [{{"user_name": "1"}}, {{"user_name": "2"{second}}}]}}"#
            ))
        };
        assert!(ata("").is_ok());
        let error = ata(r#", "registrar": "other.example.net""#).err().unwrap();
        assert!(error.contains("line 2: every port of an HT81x"), "{error}");
    }

    #[test]
    fn an_import_row_changes_accounts_line_by_line() {
        let device =
            input(r#"{"mac": "001565aabb01", "accounts": [{"user_name": "1001"}, {"user_name": "1002"}]}"#).unwrap();
        let record = DeviceRecord {
            mac: device.mac,
            accounts: device.accounts,
            state: sipprov_credentials::CredentialState::Purged,
            secrets: None,
            pinned_spki: None,
            enrolment_secret: None,
            disabled: false,
            enrolled_at: sipprov_credentials::Timestamp::from_unix(0),
            last_seen: None,
            profile: device.profile,
        };
        let row: DeviceInput = serde_json::from_str(
            r#"{"mac": "001565aabb01", "accounts": [{"line": 2, "display_name": "Fax", "password": "Row-Password-12"},
                {"line": 3, "user_name": "1003"}]}"#,
        )
        .unwrap();
        let (accounts, _) = DevicePatch::from_import(&row, &record).apply(&record).unwrap();
        let shown: Vec<(u16, &str, &str)> =
            accounts.iter().map(|a| (a.line, a.user_name.as_str(), a.display_name.as_str())).collect();
        assert_eq!(shown, [(1, "1001", "1001"), (2, "1002", "Fax"), (3, "1003", "1003")]);
    }
}
