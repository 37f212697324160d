//! The firmware policy as one document: the catalogue of images and the targets. Every change
//! is checked here, so a stored policy is always consistent (a target always names a
//! registered version; an image a target resolves to cannot be removed).

use serde::{Deserialize, Serialize};
use sipprov_identity::Mac;

use crate::image::{check_vendor, check_word};
use crate::{FirmwareImage, FleetError, Rollout, Scope, Target};

/// The catalogue and the targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirmwarePolicy {
    /// Registered images, in the order they were added.
    pub images: Vec<FirmwareImage>,
    /// Targets, one per vendor, model and scope.
    pub targets: Vec<Target>,
}

/// What the policy needs to know about a device to pick its target.
#[derive(Debug, Clone, Copy)]
pub struct DeviceKey<'a> {
    /// Its MAC (from its certificate).
    pub mac: Mac,
    /// Its vendor's name (`yealink`).
    pub vendor: &'a str,
    /// Its model: the inventory's, else the one its User-Agent names.
    pub model: Option<&'a str>,
    /// Its site, from the inventory.
    pub site: Option<&'a str>,
}

/// A device's target and the image that carries it.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// The target that selects the device.
    pub target: &'a Target,
    /// The registered image of that version for the device's model, unless there is none any
    /// more or it is flagged: then nothing is rendered, and the device still counts as behind.
    pub image: Option<&'a FirmwareImage>,
}

impl FirmwarePolicy {
    /// The device's target: its own, else its site's, else everywhere's, each only once its
    /// roll-out has reached the device.
    pub fn resolve(&self, device: DeviceKey<'_>) -> Option<Resolved<'_>> {
        let model = device.model?;
        let target = self
            .targets
            .iter()
            .filter(|t| t.vendor == device.vendor && t.model.eq_ignore_ascii_case(model))
            .filter(|t| t.scope.covers(&device.mac, device.site) && t.rollout.includes(&device.mac))
            .min_by_key(|t| t.scope.rank())?;
        let image = self.image_of(device.vendor, model, &target.version).filter(|image| image.flagged.is_none());
        Some(Resolved { target, image })
    }

    /// The registered image of `version` for `vendor`'s `model`.
    pub fn image_of(&self, vendor: &str, model: &str, version: &str) -> Option<&FirmwareImage> {
        self.images.iter().find(|image| image.fits(vendor, model) && image.version == version)
    }

    /// The image with this hash.
    pub fn image(&self, sha256: &str) -> Option<&FirmwareImage> {
        self.images.iter().find(|image| image.sha256 == sha256)
    }

    /// Adds an image. Adding one already registered with the same facts changes nothing; a
    /// version already registered for one of its models with other content is refused.
    pub fn add_image(&mut self, image: FirmwareImage) -> Result<bool, FleetError> {
        if let Some(known) = self.image(&image.sha256) {
            let same = known.vendor == image.vendor && known.models == image.models && known.version == image.version;
            return if same {
                Ok(false)
            } else {
                Err(FleetError::Conflict(format!(
                    "this file is registered already, as {} {} for {}",
                    known.vendor,
                    known.version,
                    known.models.join(",")
                )))
            };
        }
        if let Some(model) = image.models.iter().find(|m| self.image_of(&image.vendor, m, &image.version).is_some()) {
            return Err(FleetError::Conflict(format!(
                "{} {} {model} is registered already with other content; remove it first",
                image.vendor, image.version
            )));
        }
        self.images.push(image);
        Ok(true)
    }

    /// Removes an image; refused while a target names its version for one of its models.
    pub fn remove_image(&mut self, sha256: &str) -> Result<FirmwareImage, FleetError> {
        let image = self.image(sha256).ok_or_else(|| FleetError::NotFound(format!("no image {sha256}")))?;
        if let Some(target) =
            self.targets.iter().find(|t| image.fits(&t.vendor, &t.model) && t.version == image.version)
        {
            return Err(FleetError::Conflict(format!(
                "a target of {} {} ({}) names version {}; change or clear it first",
                target.vendor,
                target.model,
                scope_name(&target.scope),
                target.version
            )));
        }
        let at = self.images.iter().position(|i| i.sha256 == sha256);
        at.map(|at| self.images.remove(at)).ok_or_else(|| FleetError::NotFound(format!("no image {sha256}")))
    }

    /// Flags an image (`Some(reason)`) or clears its flag (`None`). Flagging always succeeds:
    /// targets naming its version stop rendering it at once.
    pub fn flag(&mut self, sha256: &str, reason: Option<String>) -> Result<&FirmwareImage, FleetError> {
        if let Some(reason) = &reason
            && (reason.trim().is_empty() || reason.len() > 500 || reason.chars().any(char::is_control))
        {
            return Err(FleetError::Invalid("a flag's reason is 1 to 500 characters, no control characters".into()));
        }
        let image = self
            .images
            .iter_mut()
            .find(|image| image.sha256 == sha256)
            .ok_or_else(|| FleetError::NotFound(format!("no image {sha256}")))?;
        image.flagged = reason;
        Ok(image)
    }

    /// Sets a target, replacing the one of the same vendor, model and scope, and returns it as
    /// kept (MACs canonical). The version must be registered, unflagged, for that vendor and
    /// model; a roll-out's share is 1 to 99 % and its device list names 1 to 10,000 devices.
    pub fn set_target(&mut self, mut target: Target) -> Result<&Target, FleetError> {
        check_vendor(&target.vendor)?;
        check_word("model", &target.model)?;
        check_word("version", &target.version)?;
        match &mut target.scope {
            Scope::Everywhere => {}
            Scope::Site(site) => check_word("site", site)?,
            Scope::Device(mac) => *mac = canonical(mac)?,
        }
        match &mut target.rollout {
            Rollout::Everyone => {}
            Rollout::Percent(percent) if (1..=99).contains(percent) => {}
            Rollout::Percent(_) => {
                return Err(FleetError::Invalid("a staged roll-out's share is 1 to 99 percent (100: everyone)".into()));
            }
            Rollout::Devices(devices) if !devices.is_empty() && devices.len() <= 10_000 => {
                *devices = devices.iter().map(|mac| canonical(mac)).collect::<Result<_, _>>()?;
            }
            Rollout::Devices(_) => {
                return Err(FleetError::Invalid("a staged roll-out names 1 to 10,000 devices".into()));
            }
        }
        match self.image_of(&target.vendor, &target.model, &target.version) {
            None => {
                return Err(FleetError::Invalid(format!(
                    "no image of {} {} is registered for {}; add it first",
                    target.vendor, target.version, target.model
                )));
            }
            Some(image) if image.flagged.is_some() => {
                return Err(FleetError::Invalid(format!(
                    "{} {} is flagged ({}); it cannot be a target",
                    target.vendor,
                    target.version,
                    image.flagged.as_deref().unwrap_or_default()
                )));
            }
            Some(_) => {}
        }
        self.targets.retain(|t| !t.is_for(&target.vendor, &target.model, &target.scope));
        self.targets.push(target);
        Ok(&self.targets[self.targets.len() - 1])
    }

    /// Clears the target of `vendor`'s `model` within `scope`.
    pub fn clear_target(&mut self, vendor: &str, model: &str, scope: &Scope) -> Result<Target, FleetError> {
        let scope = match scope {
            Scope::Device(mac) => Scope::Device(canonical(mac)?),
            other => other.clone(),
        };
        let at =
            self.targets.iter().position(|t| t.is_for(vendor, model, &scope)).ok_or_else(|| {
                FleetError::NotFound(format!("no target of {vendor} {model} ({})", scope_name(&scope)))
            })?;
        Ok(self.targets.remove(at))
    }
}

/// A scope as an audit detail or message says it: `everywhere`, `site=hq`, `device=0015...`.
pub fn scope_name(scope: &Scope) -> String {
    match scope {
        Scope::Everywhere => "everywhere".into(),
        Scope::Site(site) => format!("site={site}"),
        Scope::Device(mac) => format!("device={mac}"),
    }
}

fn canonical(mac: &str) -> Result<String, FleetError> {
    Mac::parse(mac).map(|mac| mac.to_string()).map_err(|e| FleetError::Invalid(format!("MAC {mac:?}: {e}")))
}
