//! `Credentials`: the lifecycle, the store and the sealing keys together, as the server uses them.

use std::sync::{Arc, Mutex};

use sipprov_identity::Mac;

use crate::audit::quote;
use crate::delivery::{DeliverError, Delivery, FetchKind};
use crate::lifecycle::{FetchRequest, Refusal, hex};
use crate::sealing::{Keyring, SealingError, SecretKind};
use crate::sightings::SightingBuffer;
use crate::{
    Abort, Account, ApiToken, AuditEvent, AuditKind, Clock, CredentialState, DeviceProfile, DeviceRecord,
    DeviceSecrets, Lifecycle, OneTimeToken, Password, PendingDevice, Role, SecretError, Store, StoreError, Timestamp,
};

/// Secrets just issued (enrolment, re-arm, rotation), in the clear, returned once so the caller
/// can hand the registrar what it needs. sipprov keeps only their sealed form.
#[derive(Debug, Clone)]
pub struct IssuedSecrets {
    /// The new SIP password.
    pub sip_password: Password,
    /// The new web-UI admin password.
    pub admin_password: Password,
}

/// The answer to a phone's fetch.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per fetch, moved once: boxing would only add an allocation
pub enum Fetched {
    /// Serve the config; with the secrets while they may still be delivered.
    Config {
        /// The device's account.
        account: Account,
        /// The inventory's vendor, model, site and device settings.
        profile: DeviceProfile,
        /// The secrets to include, or `None` to render without the secret keys.
        secrets: Option<IssuedSecrets>,
    },
    /// Enrolled but refused (disabled, dormant, other key): answer like an unknown device.
    Refused(Refusal),
    /// Not in the inventory.
    NotEnrolled,
}

/// What [`Credentials::update`] did.
#[derive(Debug)]
pub enum Updated {
    /// Written, with its audit event: the device as it is now.
    Changed(DeviceRecord),
    /// The change asked for what the device already had: nothing written.
    Unchanged(DeviceRecord),
    /// The change refused, saying why: nothing written.
    Refused(String),
    /// No such device.
    NotEnrolled,
}

/// The credential service: every operation is one store transaction with its audit events.
pub struct Credentials {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) lifecycle: Lifecycle,
    keyring: Option<Arc<Keyring>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) sightings: SightingBuffer,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("lifecycle", &self.lifecycle)
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Without a `keyring` the service still answers status questions and serves configs without
    /// secrets, but refuses every operation that needs a secret ([`CredentialsError::NoSealingKey`]).
    pub fn new(store: Arc<dyn Store>, lifecycle: Lifecycle, keyring: Option<Keyring>, clock: Arc<dyn Clock>) -> Self {
        Self { store, lifecycle, keyring: keyring.map(Arc::new), clock, sightings: SightingBuffer::default() }
    }

    /// The store underneath, for reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The lifecycle rules in force.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    pub(crate) fn keyring(&self) -> Result<Arc<Keyring>, CredentialsError> {
        self.keyring.clone().ok_or(CredentialsError::NoSealingKey)
    }

    /// Enrols a device with generated secrets (or the operator's SIP password). Returns the
    /// secrets once; `None` if the MAC is already enrolled (nothing changed).
    pub fn enrol(
        &self,
        mac: Mac,
        account: Account,
        sip_password: Option<Password>,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.enrol_as(mac, account, DeviceProfile::default(), sip_password, None, None)
    }

    /// [`Credentials::enrol`] with the inventory's vendor, model, site and device settings,
    /// audited as done `by` someone (e.g. `token:billing`).
    pub fn enrol_with_profile(
        &self,
        mac: Mac,
        account: Account,
        profile: DeviceProfile,
        sip_password: Option<Password>,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.enrol_as(mac, account, profile, sip_password, None, Some(by))
    }

    /// Enrols a device an operator approved from the pending list: like
    /// [`Credentials::enrol_with_profile`], with the key of the sighting they approved pinned
    /// from the start, so only the certificate they saw can fetch the secrets.
    pub fn enrol_pending(
        &self,
        pending: &PendingDevice,
        account: Account,
        profile: DeviceProfile,
        sip_password: Option<Password>,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.enrol_as(pending.mac, account, profile, sip_password, Some(pending.spki_sha256), Some(by))
    }

    fn enrol_as(
        &self,
        mac: Mac,
        account: Account,
        profile: DeviceProfile,
        sip_password: Option<Password>,
        pinned_spki: Option<[u8; 32]>,
        by: Option<&str>,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        let now = self.clock.now();
        let issued = IssuedSecrets {
            sip_password: sip_password.map_or_else(Password::generate, Ok)?,
            admin_password: Password::generate()?,
        };
        let record = DeviceRecord {
            mac,
            account,
            state: CredentialState::Issued { since: now },
            secrets: Some(self.seal(&mac, &issued)?),
            pinned_spki,
            disabled: false,
            enrolled_at: now,
            last_seen: None,
            profile,
        };
        let mut detail = format!("user={}", quote(&record.account.user_name));
        if let Some(spki) = &pinned_spki {
            detail.push_str(&format!(" spki={}", hex(spki)));
        }
        let event = AuditEvent::new(now, mac, AuditKind::Enrolled, detail);
        let events = match by {
            Some(by) => attributed(vec![event], by),
            None => vec![event],
        };
        Ok(self.store.insert_device(record, events)?.then_some(issued))
    }

    /// One authorized fetch of `mac`'s config, decided and recorded (with its audit events,
    /// when it changes state or delivers a secret) before it is returned. For a caller that
    /// renders the config, [`Credentials::deliver`] records the fetch only once the render
    /// succeeded.
    pub fn fetch(&self, mac: &Mac, request: FetchRequest) -> Result<Fetched, CredentialsError> {
        match self.deliver(mac, request, FetchKind::Deliver, |account, profile, secrets| {
            Ok::<_, std::convert::Infallible>(Fetched::Config {
                account: account.clone(),
                profile: profile.clone(),
                secrets: secrets.cloned(),
            })
        }) {
            Ok(Delivery::Config { body, .. }) => Ok(body),
            Ok(Delivery::Refused(refusal)) => Ok(Fetched::Refused(refusal)),
            Ok(Delivery::NotEnrolled) => Ok(Fetched::NotEnrolled),
            Err(DeliverError::Credentials(e)) => Err(e),
            Err(DeliverError::Render(never)) => match never {},
        }
    }

    /// Re-arms a device: fresh secrets (the SIP password generated, or the operator's), state
    /// `Issued`, key pin cleared. Returns the secrets once. Audited as done `by` someone.
    pub fn rearm(
        &self,
        mac: &Mac,
        sip_password: Option<Password>,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.reissue(mac, sip_password, by, |lifecycle, device, secrets, now| lifecycle.rearm(device, secrets, now))
    }

    /// Rotates a device's secrets (the SIP password generated, or the operator's): state
    /// `Issued`, key pin kept. Returns them once. Audited as done `by` someone.
    pub fn rotate(
        &self,
        mac: &Mac,
        sip_password: Option<Password>,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.reissue(mac, sip_password, by, |lifecycle, device, secrets, now| lifecycle.rotate(device, secrets, now))
    }

    fn reissue(
        &self,
        mac: &Mac,
        sip_password: Option<Password>,
        by: &str,
        apply: fn(&Lifecycle, &mut DeviceRecord, DeviceSecrets, crate::Timestamp) -> Vec<AuditEvent>,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        let issued = IssuedSecrets {
            sip_password: sip_password.map_or_else(Password::generate, Ok)?,
            admin_password: Password::generate()?,
        };
        let sealed = self.seal(mac, &issued)?;
        let (lifecycle, now, by) = (self.lifecycle, self.clock.now(), by.to_owned());
        let updated = self
            .store
            .update_device(mac, Box::new(move |device| Ok(attributed(apply(&lifecycle, device, sealed, now), &by))))?;
        Ok(updated.map(|_| issued))
    }

    /// Changes a device's account and profile (never its secrets or state), audited as done `by`
    /// someone. `change` sees the device as stored, inside the transaction (so concurrent changes
    /// do not overwrite each other), and returns the new account and profile, or why it refuses.
    /// An unchanged device leaves no event.
    pub fn update(
        &self,
        mac: &Mac,
        by: &str,
        change: impl FnOnce(&DeviceRecord) -> Result<(Account, DeviceProfile), String> + Send + 'static,
    ) -> Result<Updated, CredentialsError> {
        let (now, by) = (self.clock.now(), by.to_owned());
        let changed = Arc::new(Mutex::new(false));
        let flag = Arc::clone(&changed);
        let updated = self.store.update_device(
            mac,
            Box::new(move |device| {
                let (account, profile) = change(device).map_err(Abort)?;
                if device.account == account && device.profile == profile {
                    return Ok(Vec::new());
                }
                let detail = format!("user={}", quote(&account.user_name));
                device.account = account;
                device.profile = profile;
                *flag.lock().map_err(|_| Abort("change flag poisoned".into()))? = true;
                Ok(attributed(vec![AuditEvent::new(now, device.mac, AuditKind::Updated, detail)], &by))
            }),
        );
        let changed = changed.lock().map(|flag| *flag).unwrap_or(false);
        match updated {
            Ok(Some(device)) if changed => Ok(Updated::Changed(device)),
            Ok(Some(device)) => Ok(Updated::Unchanged(device)),
            Ok(None) => Ok(Updated::NotEnrolled),
            Err(StoreError::Aborted(reason)) => Ok(Updated::Refused(reason)),
            Err(e) => Err(e.into()),
        }
    }

    /// Disables (`true`) or enables (`false`) a device, audited as done `by` someone. Returns
    /// `false` if it is not enrolled.
    pub fn set_disabled(&self, mac: &Mac, disabled: bool, by: &str) -> Result<bool, CredentialsError> {
        let (lifecycle, now, by) = (self.lifecycle, self.clock.now(), by.to_owned());
        let updated = self.store.update_device(
            mac,
            Box::new(move |device| Ok(attributed(lifecycle.set_disabled(device, disabled, now), &by))),
        )?;
        Ok(updated.is_some())
    }

    /// Deletes a device (its secrets with it), audited as done `by` someone. Returns `false` if
    /// it was not enrolled.
    pub fn delete(&self, mac: &Mac, by: &str) -> Result<bool, CredentialsError> {
        let event = AuditEvent::new(self.clock.now(), *mac, AuditKind::Deleted, format!("by={}", quote(by)));
        Ok(self.store.delete_device(mac, event)?)
    }

    /// Records that a valid certificate for `mac`, not in the inventory, was seen.
    pub fn seen_unknown(
        &self,
        mac: Mac,
        vendor: &str,
        spki_sha256: [u8; 32],
        peer: &str,
    ) -> Result<(), CredentialsError> {
        let now = self.clock.now();
        let sighting =
            PendingDevice { mac, vendor: vendor.to_owned(), spki_sha256, first_seen: now, last_seen: now, count: 1 };
        let detail = format!("vendor={} spki={} peer={}", quote(vendor), hex(&spki_sha256), quote(peer));
        let event = AuditEvent::new(now, mac, AuditKind::PendingSeen, detail);
        Ok(self.store.record_pending(sighting, event)?)
    }

    /// Creates an admin API token for `name` with `role`, audited as made `by` someone. Returns
    /// the token, to show once; only its hash is stored.
    pub fn create_api_token(&self, name: &str, role: Role, by: &str) -> Result<OneTimeToken, CredentialsError> {
        let now = self.clock.now();
        let (secret, token) = ApiToken::issue(name, role, now)?;
        let event = AuditEvent::without_device(
            now,
            AuditKind::TokenCreated,
            format!("name={} role={role} by={}", quote(name), quote(by)),
        );
        self.store.insert_api_token(&token, event)?;
        Ok(secret)
    }

    /// Revokes the admin API token whose id ([`ApiToken::id`]) starts with `id` (at least 8 hex
    /// digits, matching exactly one token), audited as done `by` someone. Returns the revoked
    /// token, or why nothing was revoked.
    pub fn revoke_api_token(&self, id: &str, by: &str) -> Result<Result<ApiToken, String>, CredentialsError> {
        let id = id.to_ascii_lowercase();
        if id.len() < 8 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Err("a token id is at least 8 hex digits, as `token list` shows it".into()));
        }
        let mut matching: Vec<ApiToken> =
            self.store.api_tokens()?.into_iter().filter(|token| token.id().starts_with(&id)).collect();
        let token = match (matching.pop(), matching.is_empty()) {
            (Some(token), true) => token,
            (Some(_), false) => return Ok(Err(format!("{id} matches several tokens: give more digits"))),
            (None, _) => return Ok(Err(format!("no token with id {id}"))),
        };
        let event = AuditEvent::without_device(
            self.clock.now(),
            AuditKind::TokenRevoked,
            format!("name={} id={} by={}", quote(&token.name), token.id(), quote(by)),
        );
        if !self.store.remove_api_token(&token.hash, event)? {
            return Ok(Err(format!("no token with id {id}")));
        }
        Ok(Ok(token))
    }

    /// The stored token a client presented, if it is one.
    pub fn authenticate(&self, presented: &str) -> Result<Option<ApiToken>, CredentialsError> {
        Ok(self.store.api_token(&OneTimeToken::hash_of(presented))?)
    }

    /// Applies due expiries (dormant, purge) to every device holding secrets, `batch` devices per
    /// store read, each device in its own transaction. Returns how many devices changed state.
    pub fn sweep(&self, batch: usize) -> Result<usize, CredentialsError> {
        let lifecycle = self.lifecycle;
        self.for_each_with_secrets(batch, |mac| {
            let now = self.clock.now();
            let changed = Arc::new(Mutex::new(false));
            let flag = Arc::clone(&changed);
            self.store.update_device(
                &mac,
                Box::new(move |device| {
                    let events = lifecycle.sweep(device, now);
                    if let Ok(mut flag) = flag.lock() {
                        *flag = !events.is_empty();
                    }
                    Ok(events)
                }),
            )?;
            Ok(changed.lock().map(|c| *c).unwrap_or(false))
        })
    }

    /// Deletes the audit events older than `retention`, `batch` per store transaction, until
    /// none is left; returns how many were deleted. Each batch is short, so phones' fetches
    /// are never held up behind a long delete.
    pub fn prune_audit(&self, retention: std::time::Duration, batch: usize) -> Result<usize, CredentialsError> {
        let before = Timestamp::from_unix(
            self.clock.now().unix().saturating_sub(i64::try_from(retention.as_secs()).unwrap_or(i64::MAX)),
        );
        let mut pruned = 0;
        loop {
            let deleted = self.store.prune_audit(before, batch.max(1))?;
            pruned += deleted;
            if deleted < batch.max(1) {
                return Ok(pruned);
            }
        }
    }

    /// Seals every device's secrets again under the current key (after a key rotation).
    /// Returns how many devices were resealed.
    pub fn reseal_all(&self, batch: usize) -> Result<usize, CredentialsError> {
        let keyring = self.keyring()?;
        let current = keyring.current_id();
        self.for_each_with_secrets(batch, |mac| {
            let device = self.store.device(&mac)?;
            let Some(secrets) = device.and_then(|d| d.secrets) else { return Ok(false) };
            if secrets.sip_password.key_id() == Some(current) && secrets.admin_password.key_id() == Some(current) {
                return Ok(false);
            }
            let keyring = Arc::clone(&keyring);
            let now = self.clock.now();
            self.store.update_device(
                &mac,
                Box::new(move |device| {
                    let Some(sealed) = device.secrets.take() else { return Ok(Vec::new()) };
                    let opened = open(&keyring, &device.mac, &sealed).map_err(|e| Abort(e.to_string()))?;
                    device.secrets = Some(seal_with(&keyring, &device.mac, &opened).map_err(|e| Abort(e.to_string()))?);
                    Ok(vec![AuditEvent::new(
                        now,
                        device.mac,
                        AuditKind::Resealed,
                        format!("key={}", keyring.current_id()),
                    )])
                }),
            )?;
            Ok(true)
        })
    }

    fn for_each_with_secrets(
        &self,
        batch: usize,
        mut visit: impl FnMut(Mac) -> Result<bool, CredentialsError>,
    ) -> Result<usize, CredentialsError> {
        let mut after = None;
        let mut count = 0;
        loop {
            let macs = self.store.devices_with_secrets(after, batch.max(1))?;
            let Some(last) = macs.last().copied() else { return Ok(count) };
            for mac in macs {
                count += usize::from(visit(mac)?);
            }
            after = Some(last);
        }
    }

    fn seal(&self, mac: &Mac, issued: &IssuedSecrets) -> Result<DeviceSecrets, CredentialsError> {
        Ok(seal_with(&*self.keyring()?, mac, issued)?)
    }
}

/// Names who did it in each event's detail.
fn attributed(mut events: Vec<AuditEvent>, by: &str) -> Vec<AuditEvent> {
    let by = quote(by);
    for event in &mut events {
        event.detail = if event.detail.is_empty() { format!("by={by}") } else { format!("{} by={by}", event.detail) };
    }
    events
}

fn seal_with(keyring: &Keyring, mac: &Mac, issued: &IssuedSecrets) -> Result<DeviceSecrets, SealingError> {
    Ok(DeviceSecrets {
        sip_password: keyring.seal(&issued.sip_password, mac, SecretKind::SipPassword)?,
        admin_password: keyring.seal(&issued.admin_password, mac, SecretKind::AdminPassword)?,
    })
}

pub(crate) fn open(keyring: &Keyring, mac: &Mac, sealed: &DeviceSecrets) -> Result<IssuedSecrets, SealingError> {
    Ok(IssuedSecrets {
        sip_password: keyring.open(&sealed.sip_password, mac, SecretKind::SipPassword)?,
        admin_password: keyring.open(&sealed.admin_password, mac, SecretKind::AdminPassword)?,
    })
}

/// A credential operation failed; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// No sealing key is loaded: secrets can be neither issued nor delivered.
    #[error("no sealing key loaded: secrets can be neither issued nor delivered (configure the key file)")]
    NoSealingKey,
    /// Sealing or opening a secret failed.
    #[error(transparent)]
    Sealing(#[from] SealingError),
    /// A secret could not be generated.
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}
