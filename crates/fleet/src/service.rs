//! The fleet service: the firmware policy kept in the store and cached for the phone path,
//! changes to it with their audit events, and the image files.

use std::sync::{Arc, RwLock};

use sipprov_credentials::{AuditEvent, AuditKind, Clock, Store, quote};

use crate::files::{OpenRefusal, Upload};
use crate::policy::scope_name;
use crate::{FirmwareImage, FirmwarePolicy, FleetError, ImageFiles, ImageInfo, Scope, Target};

/// The store document the policy is kept in.
pub const POLICY_DOCUMENT: &str = "firmware";

/// How often a change is retried when another writer changed the policy meanwhile.
const CHANGE_ATTEMPTS: usize = 8;

/// Firmware under central control: the catalogue, the targets and the image files.
///
/// The phone path reads the policy from memory ([`Fleet::policy`]); every change goes to the
/// store first (compare-and-swap, with its audit event) and then to memory. Nodes sharing a
/// store see each other's changes at their next [`Fleet::refresh`].
pub struct Fleet {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    files: Option<ImageFiles>,
    /// The policy as last read or written, with its stored version.
    cached: RwLock<(u64, Arc<FirmwarePolicy>)>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet").field("files", &self.files).finish_non_exhaustive()
    }
}

impl Fleet {
    /// A fleet over `store`, with images under `files` (`None`: no firmware is served or
    /// registered). Reads the stored policy.
    pub fn open(store: Arc<dyn Store>, clock: Arc<dyn Clock>, files: Option<ImageFiles>) -> Result<Self, FleetError> {
        let fleet = Self { store, clock, files, cached: RwLock::default() };
        fleet.refresh()?;
        Ok(fleet)
    }

    /// The policy as last read or written by this node.
    pub fn policy(&self) -> Arc<FirmwarePolicy> {
        Arc::clone(&self.cached.read().unwrap_or_else(|poisoned| poisoned.into_inner()).1)
    }

    /// Reads the stored policy again (changes made by other nodes).
    pub fn refresh(&self) -> Result<(), FleetError> {
        let (version, policy) = self.load()?;
        self.remember(version, policy);
        Ok(())
    }

    /// The image files, if a firmware directory is configured.
    pub fn files(&self) -> Option<&ImageFiles> {
        self.files.as_ref()
    }

    fn load(&self) -> Result<(u64, FirmwarePolicy), FleetError> {
        match self.store.document(POLICY_DOCUMENT)? {
            None => Ok((0, FirmwarePolicy::default())),
            Some(document) => serde_json::from_str(&document.body)
                .map(|policy| (document.version, policy))
                .map_err(|e| FleetError::Corrupt(e.to_string())),
        }
    }

    fn remember(&self, version: u64, policy: FirmwarePolicy) {
        let mut cached = self.cached.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Never step back to an older version another thread read before this one wrote.
        if version >= cached.0 {
            *cached = (version, Arc::new(policy));
        }
    }

    /// Applies `edit` to the stored policy and writes it with the audit event `edit` returns,
    /// retrying on a concurrent change. Nothing is written if `edit` fails.
    fn change<T>(
        &self,
        edit: impl Fn(&mut FirmwarePolicy) -> Result<(T, Option<AuditEvent>), FleetError>,
    ) -> Result<T, FleetError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let (version, mut policy) = self.load()?;
            let (value, event) = edit(&mut policy)?;
            let Some(event) = event else {
                self.remember(version, policy);
                return Ok(value);
            };
            let body = serde_json::to_string(&policy).map_err(|e| FleetError::Corrupt(e.to_string()))?;
            if self.store.put_document(POLICY_DOCUMENT, version, &body, vec![event])? {
                self.remember(version + 1, policy);
                return Ok(value);
            }
        }
        Err(FleetError::Busy)
    }

    /// Starts an upload into the image directory.
    pub fn upload(&self) -> Result<Upload, FleetError> {
        self.files.as_ref().ok_or(FleetError::NoDirectory)?.upload()
    }

    /// Registers a finished upload. An image already registered with the same facts is
    /// returned as it is (`false`); anything else contradicting the catalogue is refused.
    pub fn register(&self, upload: Upload, info: ImageInfo, by: &str) -> Result<(FirmwareImage, bool), FleetError> {
        info.check()?;
        let stored = upload.finish()?;
        let image = FirmwareImage {
            sha256: stored.sha256,
            vendor: info.vendor,
            models: info.models,
            version: info.version,
            name: info.name,
            size: stored.size,
            added_at: self.clock.now().unix(),
            flagged: None,
        };
        let now = self.clock.now();
        let added = self.change(|policy| {
            let added = policy.add_image(image.clone())?;
            let detail = format!(
                "sha256={} vendor={} models={} version={} size={} by={}",
                image.sha256,
                image.vendor,
                quote(&image.models.join(",")),
                quote(&image.version),
                image.size,
                quote(by)
            );
            Ok((added, added.then(|| AuditEvent::without_device(now, AuditKind::FirmwareAdded, detail))))
        });
        match added {
            Ok(added) => Ok((self.policy().image(&image.sha256).cloned().unwrap_or(image), added)),
            Err(e) => {
                // Refused: the file goes, unless the stored catalogue (read afresh: another node
                // may have registered these bytes meanwhile) holds an image of it. If it cannot
                // be read, the file stays: an unregistered file is never served.
                let registered = self.load().map(|(_, policy)| policy.image(&image.sha256).is_some());
                if registered.is_ok_and(|registered| !registered)
                    && let Some(files) = &self.files
                {
                    let _ = files.remove(&image.sha256);
                }
                Err(e)
            }
        }
    }

    /// Removes an image from the catalogue and its file from disk.
    pub fn remove(&self, sha256: &str, by: &str) -> Result<FirmwareImage, FleetError> {
        let now = self.clock.now();
        let removed = self.change(|policy| {
            let image = policy.remove_image(sha256)?;
            let detail = format!("sha256={} version={} by={}", image.sha256, quote(&image.version), quote(by));
            Ok((image, Some(AuditEvent::without_device(now, AuditKind::FirmwareRemoved, detail))))
        })?;
        if let Some(files) = &self.files {
            files.remove(sha256)?;
        }
        Ok(removed)
    }

    /// Flags an image as not to run (`Some(reason)`), or clears its flag.
    pub fn flag(&self, sha256: &str, reason: Option<String>, by: &str) -> Result<FirmwareImage, FleetError> {
        let now = self.clock.now();
        self.change(|policy| {
            let image = policy.flag(sha256, reason.clone())?.clone();
            let what = reason.as_deref().map_or_else(|| "cleared".to_owned(), quote);
            let detail =
                format!("sha256={} version={} flag={what} by={}", image.sha256, quote(&image.version), quote(by));
            Ok((image, Some(AuditEvent::without_device(now, AuditKind::FirmwareFlagged, detail))))
        })
    }

    /// Sets a target (its `set_at` is now).
    pub fn set_target(&self, target: Target, by: &str) -> Result<Target, FleetError> {
        let now = self.clock.now();
        let target = Target { set_at: now.unix(), ..target };
        self.change(|policy| {
            let set = policy.set_target(target.clone())?.clone();
            let detail = format!(
                "set vendor={} model={} scope={} version={} rollout={} by={}",
                set.vendor,
                quote(&set.model),
                quote(&scope_name(&set.scope)),
                quote(&set.version),
                quote(&rollout_name(&set.rollout)),
                quote(by)
            );
            Ok((set, Some(AuditEvent::without_device(now, AuditKind::FirmwareTarget, detail))))
        })
    }

    /// Clears a target.
    pub fn clear_target(&self, vendor: &str, model: &str, scope: &Scope, by: &str) -> Result<Target, FleetError> {
        let now = self.clock.now();
        self.change(|policy| {
            let cleared = policy.clear_target(vendor, model, scope)?;
            let detail = format!(
                "cleared vendor={} model={} scope={} by={}",
                cleared.vendor,
                quote(&cleared.model),
                quote(&scope_name(&cleared.scope)),
                quote(by)
            );
            Ok((cleared, Some(AuditEvent::without_device(now, AuditKind::FirmwareTarget, detail))))
        })
    }

    /// Opens a registered, unflagged image for a phone. A file that no longer has its hash is
    /// refused, and the first time this node finds it so, a `firmware-altered` alert is audited.
    pub fn open_image(&self, image: &FirmwareImage) -> Option<(std::fs::File, u64)> {
        let files = self.files.as_ref()?;
        if image.flagged.is_some() {
            return None;
        }
        match files.open(&image.sha256, image.size) {
            Ok(opened) => Some(opened),
            Err(OpenRefusal::Missing(e)) => {
                tracing::warn!(sha256 = %image.sha256, error = %e, "registered image missing on this node; not served");
                None
            }
            Err(OpenRefusal::Altered { first }) => {
                tracing::error!(sha256 = %image.sha256, "image file altered on disk; not served");
                if first {
                    let detail = format!(
                        "sha256={} vendor={} version={} path={}",
                        image.sha256,
                        image.vendor,
                        quote(&image.version),
                        quote(&files.directory().join("sha256").join(&image.sha256).display().to_string())
                    );
                    let event = AuditEvent::without_device(self.clock.now(), AuditKind::FirmwareAltered, detail);
                    if let Err(e) = self.store.append_audit(vec![event]) {
                        tracing::error!(error = %e, "cannot audit an altered image");
                    }
                }
                None
            }
        }
    }
}

/// A roll-out as an audit detail says it: `everyone`, `10%`, `3 devices`.
pub fn rollout_name(rollout: &crate::Rollout) -> String {
    match rollout {
        crate::Rollout::Everyone => "everyone".into(),
        crate::Rollout::Percent(percent) => format!("{percent}%"),
        crate::Rollout::Devices(devices) => format!("{} devices", devices.len()),
    }
}
