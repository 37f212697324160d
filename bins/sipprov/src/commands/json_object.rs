//! One JSON object per line with its keys in the documented order (serde_json sorts them).

use serde_json::Value;

/// `{"k1": v1, "k2": v2}`, values escaped by serde_json, keys in the order given.
pub(crate) fn ordered(fields: &[(&str, Value)]) -> String {
    let body: Vec<String> = fields.iter().map(|(key, value)| format!("{}: {value}", Value::from(*key))).collect();
    format!("{{{}}}", body.join(", "))
}
