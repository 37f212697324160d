//! A device's programmable keys as stored: one JSON array in the `keys` column.

use serde_json::{Value, json};
use sipprov_credentials::{FunctionKey, KeyKind};

/// The keys as the column holds them.
pub(crate) fn to_json(keys: &[FunctionKey]) -> String {
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

/// The keys from the column; the error says what is wrong.
pub(crate) fn from_json(text: &str) -> Result<Vec<FunctionKey>, String> {
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
        assert_eq!(from_json(&to_json(&keys)).unwrap(), keys);
        assert_eq!(from_json("[]").unwrap(), []);
        assert!(from_json("{}").unwrap_err().contains("array"));
        assert!(
            from_json(r#"[{"position": 1, "type": "park", "value": "", "label": "", "line": 1}]"#)
                .unwrap_err()
                .contains("unknown key type")
        );
    }
}
