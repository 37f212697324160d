//! A device's config: its settings layers, its accounts and keys as its vendor's template sees
//! them, and the render.

use std::collections::BTreeMap;

use sipprov_credentials::{Account, DeviceProfile, IssuedSecrets};
use sipprov_fleet::{DeviceKey, FirmwarePolicy};
use sipprov_identity::DeviceIdentity;
use sipprov_template::{
    AccountSettings, Device, Firmware, FunctionKey, KeyKind, Layer, LayeredSettings, ProfileFile, Renderer, Secrets,
    Vendor,
};

use super::claimed_models::ClaimedModels;
use crate::GroupSettings;

/// What every device's config is rendered with: the registrar, the global settings and the
/// vendor, model and site groups.
pub(crate) struct DeviceConfig {
    pub(crate) registrar: String,
    pub(crate) settings: LayeredSettings,
    pub(crate) groups: GroupLayers,
    /// What the User-Agents of devices with no known model claim.
    pub(crate) claimed_models: ClaimedModels,
}

/// The vendor, model and site groups' settings, each layered over the global settings once, at
/// start: a render shares its device's groups instead of setting their values one by one.
pub(crate) struct GroupLayers {
    vendor: BTreeMap<String, LayeredSettings>,
    model: BTreeMap<String, LayeredSettings>,
    site: BTreeMap<String, LayeredSettings>,
}

impl GroupLayers {
    /// Each group's settings in its layer, over what `global` sets in that layer; the error
    /// names a group whose setting a layer refuses.
    pub(crate) fn new(global: &LayeredSettings, groups: &GroupSettings) -> Result<Self, String> {
        let layered = |layer: Layer, groups: &BTreeMap<String, BTreeMap<String, String>>| {
            groups
                .iter()
                .map(|(group, values)| {
                    let mut settings = LayeredSettings::new();
                    settings.share_layer(layer, global);
                    for (name, value) in values {
                        settings
                            .set(layer, name, value.as_str())
                            .map_err(|e| format!("{layer} group {group:?}: {e}"))?;
                    }
                    Ok((group.clone(), settings))
                })
                .collect::<Result<BTreeMap<_, _>, String>>()
        };
        Ok(Self {
            vendor: layered(Layer::Vendor, &groups.vendor)?,
            model: layered(Layer::Model, &groups.model)?,
            site: layered(Layer::Site, &groups.site)?,
        })
    }
}

/// What a device's file is rendered from, beside its identity.
pub(crate) struct DeviceToRender<'a> {
    /// Its accounts.
    pub(crate) accounts: &'a [Account],
    /// Its inventory profile.
    pub(crate) profile: &'a DeviceProfile,
    /// The secrets the lifecycle allows.
    pub(crate) secrets: Option<&'a IssuedSecrets>,
    /// The User-Agent of the request.
    pub(crate) user_agent: Option<&'a str>,
    /// The firmware policy its target is picked from.
    pub(crate) firmware: &'a FirmwarePolicy,
    /// Where it provisions from instead of `provisioning_url`: the Digest listener, for a
    /// phone that authenticated with its enrolment secret.
    pub(crate) provisioning_url: Option<String>,
}

impl DeviceConfig {
    /// Renders `file` for the device `identity` names, with its accounts, profile and the
    /// secrets the lifecycle allows; the error says why it cannot be rendered.
    ///
    /// The model is the inventory's, else the certificate's; a template also gets the model
    /// the phone's `user_agent` names (when it names the file's vendor) if neither has one, so
    /// a family's layout (Grandstream's P-values) follows the phone. The User-Agent is the
    /// phone's own claim about its own file: it never picks settings groups.
    pub(crate) fn render(
        &self,
        renderer: &Renderer,
        identity: &DeviceIdentity,
        file: &ProfileFile,
        device: DeviceToRender<'_>,
    ) -> Result<String, String> {
        let DeviceToRender { accounts, profile, secrets, user_agent, firmware, provisioning_url } = device;
        let accounts: Vec<AccountSettings> = accounts.iter().map(|account| self.account_settings(account)).collect();
        let model = profile.model.as_deref().or(identity.model.as_deref());
        let claimed = || {
            let (vendor, model) = self.claimed_models.claimed(user_agent?)?;
            (vendor == file.vendor).then_some(model)
        };
        let claimed = if model.is_none() { claimed() } else { None };
        let layout_model = model.or(claimed.as_deref());
        // The certificate's vendor as the file format knows it (for CN = MAC: the OUI's vendor).
        let vendor = match &profile.vendor {
            Some(vendor) => vendor.clone(),
            None => format_vendor(identity).map_or_else(|| identity.vendor.clone(), |v| v.name().to_owned()),
        };
        let mut settings = self.settings_for(&vendor, model, profile)?;
        if let Some(url) = provisioning_url {
            settings.set(Layer::Device, "provisioning_url", url.as_str()).map_err(|e| e.to_string())?;
            sipprov_template::check_setting("provisioning_url", &url)?;
        }
        let sip_passwords: Vec<(u16, &str)> = secrets
            .map(|s| s.sip_passwords.iter().map(|(line, password)| (*line, password.expose())).collect())
            .unwrap_or_default();
        let secrets = Secrets {
            sip_passwords: &sip_passwords,
            admin_password: secrets.and_then(|s| s.admin_password.as_ref()).map(|p| p.expose()),
        };
        let keys: Vec<FunctionKey> = profile.keys.iter().map(function_key).collect();
        // The device's target, if its roll-out has reached it, in the URL phones fetch it by.
        let target = DeviceKey {
            mac: identity.mac,
            vendor: file.vendor.name(),
            model: layout_model,
            site: profile.site.as_deref(),
        };
        let image = firmware.resolve(target).and_then(|resolved| resolved.image);
        let base = settings.get("provisioning_url").unwrap_or_default();
        let url = image.map(|image| crate::firmware::image_url(base, image));
        let firmware = image.zip(url.as_deref()).map(|(image, url)| Firmware { version: &image.version, url });
        let device = Device {
            firmware,
            mac: identity.mac,
            model: layout_model,
            accounts: &accounts,
            keys: &keys,
            settings: &settings,
            secrets,
        };
        renderer.render_device(file, &device).map_err(|e| e.to_string())
    }

    /// An account as its vendor's template sees it: the global registrar unless it has its own.
    fn account_settings(&self, account: &Account) -> AccountSettings {
        AccountSettings {
            line: account.line,
            user_name: account.user_name.clone(),
            auth_name: account.auth_name.clone(),
            display_name: account.display_name.clone(),
            registrar: account.registrar.clone().unwrap_or_else(|| self.registrar.clone()),
            outbound_proxy: account.outbound_proxy.clone(),
            transport: account.transport.map(|transport| match transport {
                sipprov_credentials::Transport::Udp => sipprov_template::Transport::Udp,
                sipprov_credentials::Transport::Tcp => sipprov_template::Transport::Tcp,
                sipprov_credentials::Transport::Tls => sipprov_template::Transport::Tls,
            }),
            srtp: account.srtp.map(|srtp| match srtp {
                sipprov_credentials::Srtp::Off => sipprov_template::Srtp::Off,
                sipprov_credentials::Srtp::Optional => sipprov_template::Srtp::Optional,
                sipprov_credentials::Srtp::Required => sipprov_template::Srtp::Required,
            }),
        }
    }

    /// The settings one device is rendered with: global, then its vendor's, model's and site's
    /// groups, then its own.
    fn settings_for(
        &self,
        vendor: &str,
        model: Option<&str>,
        profile: &DeviceProfile,
    ) -> Result<LayeredSettings, String> {
        // The global and group layers are shared, not copied: only the device's own is set here.
        let mut settings = self.settings.clone();
        let groups = [
            (Layer::Vendor, self.groups.vendor.get(vendor)),
            (Layer::Model, model.and_then(|model| self.groups.model.get(model))),
            (Layer::Site, profile.site.as_ref().and_then(|site| self.groups.site.get(site))),
        ];
        for (layer, group) in groups {
            if let Some(group) = group {
                settings.share_layer(layer, group);
            }
        }
        for (name, value) in &profile.settings {
            settings.set(Layer::Device, name, value.as_str()).map_err(|e| e.to_string())?;
        }
        // Checked when each layer was set; checked again here, where it matters.
        match settings.get("provisioning_url") {
            Some(url) => sipprov_template::check_setting("provisioning_url", url)?,
            None => return Err("no provisioning_url".into()),
        }
        Ok(settings)
    }
}
/// A programmable key as its vendor's template sees it.
fn function_key(key: &sipprov_credentials::FunctionKey) -> FunctionKey {
    FunctionKey {
        position: key.position,
        kind: match key.kind {
            sipprov_credentials::KeyKind::Blf => KeyKind::Blf,
            sipprov_credentials::KeyKind::SpeedDial => KeyKind::SpeedDial,
        },
        value: key.value.clone(),
        label: key.label.clone(),
        line: key.line,
    }
}

/// The vendor whose file format a device gets: the vendor its certificate layout names, or
/// for a layout that names none (CN = MAC under a private CA), the vendor of its MAC's OUI.
pub(crate) fn format_vendor(identity: &DeviceIdentity) -> Option<Vendor> {
    Vendor::from_name(&identity.vendor).or_else(|| Vendor::from_oui(identity.mac.oui()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_layer_adds_to_what_the_global_settings_set_in_that_layer() {
        let mut global = LayeredSettings::new();
        global.set(Layer::Global, "ntp_server", "pool.ntp.org").unwrap();
        global.set(Layer::Vendor, "language", "English").unwrap();
        let mut groups = GroupSettings::default();
        groups.vendor.insert("yealink".into(), [("ntp_server".to_owned(), "ntp.yealink.example".to_owned())].into());
        let layers = GroupLayers::new(&global, &groups).unwrap();
        let yealink = &layers.vendor["yealink"];
        assert_eq!(yealink.layer(Layer::Vendor).len(), 2, "{yealink:?}");
        let mut settings = global.clone();
        settings.share_layer(Layer::Vendor, yealink);
        assert_eq!(
            (settings.get("ntp_server"), settings.get("language")),
            (Some("ntp.yealink.example"), Some("English"))
        );

        groups.site.insert("leeds".into(), [("Bad-Name".to_owned(), "x".to_owned())].into());
        let refused = GroupLayers::new(&global, &groups).err().unwrap_or_default();
        assert!(refused.contains("site group \"leeds\"") && refused.contains("Bad-Name"), "{refused}");
    }
}
