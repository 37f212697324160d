//! Layered settings: global, then vendor, model, site and device; the nearer layer wins.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::TemplateError;

/// Where a setting was made. Later layers are nearer to the device and win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    /// For every phone.
    Global,
    /// For every phone of the device's vendor.
    Vendor,
    /// For every phone of the device's model.
    Model,
    /// For every phone at the device's site.
    Site,
    /// For this one device.
    Device,
}

impl Layer {
    /// The layers, farthest first.
    pub const ALL: [Layer; 5] = [Layer::Global, Layer::Vendor, Layer::Model, Layer::Site, Layer::Device];

    /// The lowercase name: `global`, `vendor`, `model`, `site`, `device`.
    pub const fn name(self) -> &'static str {
        match self {
            Layer::Global => "global",
            Layer::Vendor => "vendor",
            Layer::Model => "model",
            Layer::Site => "site",
            Layer::Device => "device",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The settings that apply to one device, as the caller selected them: the global layer, the
/// layer of the device's vendor, of its model, of its site, and its own.
///
/// Templates see the merged result as `settings.<name>`: for each name, the value from the
/// nearest layer that sets it (device over site over model over vendor over global). Values are
/// strings; how one is escaped depends on the file it is written into.
///
/// ```
/// use sipprov_template::{Layer, LayeredSettings};
///
/// let mut settings = LayeredSettings::new();
/// settings.set(Layer::Global, "ntp_server", "pool.ntp.org")?;
/// settings.set(Layer::Site, "ntp_server", "ntp.branch.example")?;
/// settings.set(Layer::Global, "language", "English")?;
/// assert_eq!(settings.get("ntp_server"), Some("ntp.branch.example"));
/// assert_eq!(settings.origin("ntp_server"), Some(Layer::Site));
/// assert_eq!(settings.get("language"), Some("English"));
/// # Ok::<(), sipprov_template::TemplateError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayeredSettings {
    /// Shared, not copied, when a layer is taken from other settings ([`LayeredSettings::share_layer`])
    /// or the settings are cloned: a server layers the same global and group settings for every
    /// request, and only the device's own layer is new each time.
    layers: [Arc<BTreeMap<String, String>>; 5],
}

impl LayeredSettings {
    /// No settings at all.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` to `value` in `layer`, replacing what that layer had.
    ///
    /// Names are identifiers (`a-z`, `0-9`, `_`, starting with a letter, at most 64), so a
    /// template can always write `settings.<name>`.
    pub fn set(&mut self, layer: Layer, name: &str, value: impl Into<String>) -> Result<&mut Self, TemplateError> {
        if !is_setting_name(name) {
            return Err(TemplateError::InvalidSettingName { layer, name: name.chars().take(64).collect() });
        }
        Arc::make_mut(&mut self.layers[layer as usize]).insert(name.to_owned(), value.into());
        Ok(self)
    }

    /// Gives `layer` the settings `from` makes in that layer, replacing what it had: shared,
    /// without copying them (their names were checked when `from` was set).
    ///
    /// ```
    /// use sipprov_template::{Layer, LayeredSettings};
    ///
    /// // Built once: the settings of every Yealink phone.
    /// let mut yealink = LayeredSettings::new();
    /// yealink.set(Layer::Vendor, "ntp_server", "ntp.example.net")?;
    /// // For each device: its own settings over the vendor's.
    /// let mut settings = LayeredSettings::new();
    /// settings.share_layer(Layer::Vendor, &yealink).set(Layer::Device, "language", "German")?;
    /// assert_eq!(settings.get("ntp_server"), Some("ntp.example.net"));
    /// # Ok::<(), sipprov_template::TemplateError>(())
    /// ```
    pub fn share_layer(&mut self, layer: Layer, from: &LayeredSettings) -> &mut Self {
        self.layers[layer as usize] = Arc::clone(&from.layers[layer as usize]);
        self
    }

    /// The value of `name` from the nearest layer that sets it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entry(name).map(|(_, value)| value)
    }

    /// [`LayeredSettings::get`], with the name as these settings hold it.
    pub(crate) fn entry(&self, name: &str) -> Option<(&str, &str)> {
        self.layers.iter().rev().find_map(|layer| layer.get_key_value(name)).map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The nearest layer that sets `name`.
    pub fn origin(&self, name: &str) -> Option<Layer> {
        Layer::ALL.into_iter().rev().find(|layer| self.layers[*layer as usize].contains_key(name))
    }

    /// The settings made in one layer alone.
    pub fn layer(&self, layer: Layer) -> &BTreeMap<String, String> {
        &self.layers[layer as usize]
    }

    /// Every setting with its winning value.
    pub fn resolve(&self) -> BTreeMap<&str, &str> {
        let mut merged = BTreeMap::new();
        for layer in &self.layers {
            for (name, value) in layer.iter() {
                merged.insert(name.as_str(), value.as_str());
            }
        }
        merged
    }
}

/// Checks a setting a layer nearer than the global one would give every config it applies to:
/// a value every vendor format can carry (no control characters, no U+FFFE/U+FFFF, no
/// surrounding white space, at most 1,024 bytes), and `provisioning_url` only as an `https://`
/// URL (a phone told to fetch over plain HTTP would hand its next config to anyone on the
/// path). Names are checked by the settings layers themselves.
pub fn check_setting(name: &str, value: &str) -> Result<(), String> {
    crate::check_portable_value(&format!("setting {name}"), value, MAX_SETTING).map_err(|e| e.to_string())?;
    if name == "provisioning_url" && !value.starts_with("https://") {
        return Err(format!("setting provisioning_url {value:?} must be an https:// URL"));
    }
    Ok(())
}

/// The longest setting value.
const MAX_SETTING: usize = 1024;

fn is_setting_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_layer_wins_whatever_the_order_of_setting() {
        let mut settings = LayeredSettings::new();
        for layer in Layer::ALL.into_iter().rev() {
            settings.set(layer, "x", layer.name()).unwrap();
        }
        assert_eq!(settings.get("x"), Some("device"));
        assert_eq!(settings.origin("x"), Some(Layer::Device));
        let mut settings = LayeredSettings::new();
        settings.set(Layer::Vendor, "x", "vendor").unwrap().set(Layer::Model, "x", "model").unwrap();
        settings.set(Layer::Global, "x", "global").unwrap();
        assert_eq!(settings.resolve().get("x"), Some(&"model"));
        assert_eq!(settings.layer(Layer::Global).get("x").map(String::as_str), Some("global"));
        assert_eq!(settings.get("y"), None);
    }

    #[test]
    fn a_shared_layer_is_copied_when_one_side_changes_it() {
        let mut group = LayeredSettings::new();
        group.set(Layer::Site, "ntp_server", "ntp.leeds.example").unwrap();
        let mut device = LayeredSettings::new();
        device.set(Layer::Site, "dropped", "replaced by the group's layer").unwrap();
        device.share_layer(Layer::Site, &group).set(Layer::Site, "language", "German").unwrap();
        assert_eq!(device.get("ntp_server"), Some("ntp.leeds.example"));
        assert_eq!((device.get("language"), device.get("dropped")), (Some("German"), None));
        assert_eq!(group.get("language"), None, "the group's own layer is unchanged");
        let before = device.clone();
        device.set(Layer::Global, "ntp_server", "pool.ntp.org").unwrap();
        assert_eq!(before.layer(Layer::Global).get("ntp_server"), None, "a clone is not changed with it");
    }

    #[test]
    fn names_must_be_identifiers() {
        let mut settings = LayeredSettings::new();
        for bad in ["", "Ntp", "1x", "a.b", "a-b", "a b", "a\n", &"a".repeat(65)] {
            let err = settings.set(Layer::Site, bad, "v").unwrap_err();
            assert!(matches!(err, TemplateError::InvalidSettingName { layer: Layer::Site, .. }), "{bad:?}");
        }
        assert!(settings.set(Layer::Site, "ntp_server_2", "v").is_ok());
    }
}
