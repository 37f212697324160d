//! How a device profile's structured fields are written into text columns: the same JSON in
//! every backend, so a record moved between backends reads back the same.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::{Account, DeviceRecord, DeviceSecrets, FunctionKey, KeyKind, Sealed};

/// Completes a device read from its own row (`admin_password` from there) with its accounts
/// and their sealed passwords (rows in any order): the accounts in line order, the passwords
/// in its secrets. The error says what is inconsistent.
pub fn attach_accounts(
    device: &mut DeviceRecord,
    admin_password: Option<Sealed>,
    mut accounts: Vec<(Account, Option<Sealed>)>,
) -> Result<(), String> {
    accounts.sort_by_key(|(account, _)| account.line);
    let mut sip_passwords = Vec::new();
    for (account, sealed) in accounts {
        if let Some(sealed) = sealed {
            sip_passwords.push((account.line, sealed));
        }
        device.accounts.push(account);
    }
    if device.accounts.is_empty() {
        return Err("it has no account".into());
    }
    device.secrets = match (sip_passwords.is_empty(), admin_password) {
        (true, None) => None,
        (true, Some(_)) => return Err("an admin password without a SIP password".into()),
        (false, admin_password) => Some(DeviceSecrets { sip_passwords, admin_password }),
    };
    Ok(())
}

/// The device's settings as their column holds them: one JSON object of strings.
pub fn settings_to_json(settings: &BTreeMap<String, String>) -> String {
    Value::Object(settings.iter().map(|(name, value)| (name.clone(), Value::String(value.clone()))).collect())
        .to_string()
}

/// The settings from their column; the error says what is wrong.
pub fn settings_from_json(text: &str) -> Result<BTreeMap<String, String>, String> {
    let Value::Object(settings) = serde_json::from_str(text).map_err(|e| e.to_string())? else {
        return Err("not a JSON object".into());
    };
    settings
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(value) => Ok((name, value)),
            other => Err(format!("setting {name:?} is {other}, not a string")),
        })
        .collect()
}

/// The keys as their column holds them: one JSON array.
pub fn keys_to_json(keys: &[FunctionKey]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|key| {
            json!({
                "position": key.position,
                "type": key.kind.name(),
                "value": key.value,
                "label": key.label,
                "line": key.line,
            })
        })
        .collect();
    Value::Array(keys).to_string()
}

/// The keys from their column; the error says what is wrong.
pub fn keys_from_json(text: &str) -> Result<Vec<FunctionKey>, String> {
    let Value::Array(keys) = serde_json::from_str(text).map_err(|e| e.to_string())? else {
        return Err("not a JSON array".into());
    };
    keys.iter()
        .map(|key| {
            let number = |name: &str| {
                key[name].as_u64().and_then(|n| u16::try_from(n).ok()).ok_or_else(|| format!("no {name} number"))
            };
            let text = |name: &str| key[name].as_str().map(str::to_owned).ok_or_else(|| format!("no {name} text"));
            let kind = text("type")?;
            Ok(FunctionKey {
                position: number("position")?,
                kind: KeyKind::from_name(&kind).ok_or_else(|| format!("unknown key type {kind:?}"))?,
                value: text("value")?,
                label: text("label")?,
                line: number("line")?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn keys_round_trip_and_damage_is_named() {
        let keys = vec![
            FunctionKey { position: 3, kind: KeyKind::Blf, value: "1002".into(), label: "Bob \"B\"".into(), line: 2 },
            FunctionKey { position: 4, kind: KeyKind::SpeedDial, value: "*97".into(), label: String::new(), line: 1 },
        ];
        assert_eq!(keys_from_json(&keys_to_json(&keys)).unwrap(), keys);
        assert_eq!(keys_from_json("[]").unwrap(), []);
        assert!(keys_from_json("{}").unwrap_err().contains("array"));
        assert!(
            keys_from_json(r#"[{"position": 1, "type": "park", "value": "", "label": "", "line": 1}]"#)
                .unwrap_err()
                .contains("unknown key type")
        );
    }

    #[test]
    fn settings_round_trip_and_damage_is_named() {
        let settings = BTreeMap::from([("a \"b\"".to_owned(), "<&>".to_owned()), ("tz".to_owned(), String::new())]);
        assert_eq!(settings_from_json(&settings_to_json(&settings)).unwrap(), settings);
        assert!(settings_from_json("[]").unwrap_err().contains("object"));
        assert!(settings_from_json(r#"{"x": 1}"#).unwrap_err().contains("not a string"));
    }
}
