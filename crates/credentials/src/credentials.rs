//! `Credentials`: the lifecycle, the store and the sealing keys together, as the server uses them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use sipprov_identity::Mac;

use crate::audit::quote;
use crate::lifecycle::FetchRefusal;
use crate::sealing::{Keyring, SealingError, SecretKind};
use crate::sightings::SightingBuffer;
use crate::{
    Abort, Account, ApiToken, AuditEvent, AuditKind, Clock, CredentialState, DeviceProfile, DeviceRecord,
    DeviceSecrets, Lifecycle, OneTimeToken, Password, PendingDevice, RegistrarChange, Role, SecretError, Store,
    StoreError, Timestamp,
};

/// Secrets just issued (enrolment, re-arm, rotation), in the clear, returned once so the caller
/// can hand the registrar what it needs; or opened for a delivery. sipprov keeps only their
/// sealed form.
#[derive(Debug, Clone)]
pub struct IssuedSecrets {
    /// The SIP passwords by line, in ascending line order: every account's, or only those
    /// issued (one account rotated, accounts added).
    pub sip_passwords: Vec<(u16, Password)>,
    /// The web-UI admin password, when it was issued with them.
    pub admin_password: Option<Password>,
}

impl IssuedSecrets {
    /// The SIP password of `line`, if it is among these.
    pub fn sip_password(&self, line: u16) -> Option<&Password> {
        self.sip_passwords.iter().find(|(l, _)| *l == line).map(|(_, password)| password)
    }
}

/// What a re-arm or rotation covers.
#[derive(Debug, Default)]
pub struct Reissue {
    /// One account's line, or `None` for every account of the device (and its admin password).
    pub line: Option<u16>,
    /// The operator's own SIP password instead of a generated one: for one account (`line`, or
    /// a device with a single account).
    pub sip_password: Option<Password>,
}

/// The answer to a phone's fetch.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per fetch, moved once: boxing would only add an allocation
pub enum Fetched {
    /// Serve the config; with the secrets while they may still be delivered.
    Config {
        /// The device's accounts, in ascending line order.
        accounts: Vec<Account>,
        /// The inventory's vendor, model, site and device settings.
        profile: DeviceProfile,
        /// The secrets to include, or `None` to render without the secret keys.
        secrets: Option<IssuedSecrets>,
    },
    /// Enrolled but refused (disabled, dormant, other key): answer like an unknown device.
    Refused(FetchRefusal),
    /// Not in the inventory.
    NotEnrolled,
}

/// What [`Credentials::update`] did.
#[derive(Debug)]
pub enum Updated {
    /// Written, with its audit events: the device as it is now, and the passwords issued for
    /// the accounts the change added (returned once, like an enrolment's).
    Changed(DeviceRecord, Option<IssuedSecrets>),
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
    pub(crate) sightings: Arc<SightingBuffer>,
    /// The realm of the registrar outbox; `None`: no registrar is told, no HA1 kept.
    pub(crate) registrar_realm: Option<String>,
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
        Self {
            store,
            lifecycle,
            keyring: keyring.map(Arc::new),
            clock,
            sightings: Arc::default(),
            registrar_realm: None,
        }
    }

    /// Queues a change in the store's registrar outbox with every enrolment, rotation, re-arm,
    /// account change and deletion: the accounts' HA1 for `realm` (sealed), or their deletion.
    /// See [`RegistrarChange`](crate::RegistrarChange). Without it nothing is queued and no
    /// HA1 is kept.
    #[must_use]
    pub fn with_registrar_realm(mut self, realm: impl Into<String>) -> Self {
        self.registrar_realm = Some(realm.into());
        self
    }

    /// The store underneath, for reads.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, on the service's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The lifecycle rules in force.
    pub fn lifecycle(&self) -> Lifecycle {
        self.lifecycle
    }

    pub(crate) fn keyring(&self) -> Result<Arc<Keyring>, CredentialsError> {
        self.keyring.clone().ok_or(CredentialsError::NoSealingKey)
    }

    /// Enrols a device with its accounts (see [`check_accounts`](crate::check_accounts)), each
    /// with a generated SIP password or the operator's (`chosen`, by line), and a generated
    /// admin password. Returns the secrets once; `None` if the MAC is already enrolled (nothing
    /// changed).
    pub fn enrol(
        &self,
        mac: Mac,
        accounts: Vec<Account>,
        chosen: Vec<(u16, Password)>,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.enrol_as(mac, accounts, DeviceProfile::default(), chosen, None, None)
    }

    /// [`Credentials::enrol`] with the inventory's vendor, model, site and device settings,
    /// audited as done `by` someone (e.g. `token:billing`).
    pub fn enrol_with_profile(
        &self,
        mac: Mac,
        accounts: Vec<Account>,
        profile: DeviceProfile,
        chosen: Vec<(u16, Password)>,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.enrol_as(mac, accounts, profile, chosen, None, Some(by))
    }

    /// Enrols a device an operator approved from the pending list: like
    /// [`Credentials::enrol_with_profile`], with the key of the sighting they approved pinned
    /// from the start, so only the certificate they saw can fetch the secrets.
    pub fn enrol_pending(
        &self,
        pending: &PendingDevice,
        accounts: Vec<Account>,
        profile: DeviceProfile,
        chosen: Vec<(u16, Password)>,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.enrol_as(pending.mac, accounts, profile, chosen, Some(pending.spki_sha256), Some(by))
    }

    fn enrol_as(
        &self,
        mac: Mac,
        accounts: Vec<Account>,
        profile: DeviceProfile,
        chosen: Vec<(u16, Password)>,
        pinned_spki: Option<[u8; 32]>,
        by: Option<&str>,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        crate::check_accounts(&accounts).map_err(CredentialsError::Invalid)?;
        let lines: Vec<u16> = accounts.iter().map(|account| account.line).collect();
        let now = self.clock.now();
        let issued = IssuedSecrets {
            sip_passwords: passwords_for(&lines, chosen)?,
            admin_password: Some(Password::generate()?),
        };
        let users: Vec<String> = accounts.iter().map(|account| quote(&account.user_name)).collect();
        let record = DeviceRecord {
            mac,
            accounts,
            state: CredentialState::Issued { since: now },
            secrets: Some(self.seal(&mac, &issued)?),
            pinned_spki,
            enrolment_secret: None,
            disabled: false,
            enrolled_at: now,
            last_seen: None,
            profile,
        };
        let mut detail = format!("user={}", users.join(","));
        if let Some(spki) = &pinned_spki {
            detail.push_str(&format!(" spki={}", hex::encode(spki)));
        }
        let mut event = AuditEvent::new(now, mac, AuditKind::Enrolled, detail);
        event.registrar = self.registrar_sets(&mac, &record.accounts, &issued.sip_passwords)?;
        let events = match by {
            Some(by) => attributed(vec![event], by),
            None => vec![event],
        };
        Ok(self.store.insert_device(record, events)?.then_some(issued))
    }

    /// Re-arms a device, or one of its accounts: fresh secrets (generated, or the operator's
    /// password), state `Issued`, key pin cleared. Returns the secrets once; `None` if the
    /// device is not enrolled. Audited as done `by` someone.
    pub fn rearm(&self, mac: &Mac, reissue: Reissue, by: &str) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.reissue(mac, reissue, true, by)
    }

    /// Rotates a device's secrets, or one account's password: fresh ones (generated, or the
    /// operator's password), state `Issued`, key pin kept. Returns them once; `None` if the
    /// device is not enrolled. Audited as done `by` someone.
    pub fn rotate(&self, mac: &Mac, reissue: Reissue, by: &str) -> Result<Option<IssuedSecrets>, CredentialsError> {
        self.reissue(mac, reissue, false, by)
    }

    fn reissue(
        &self,
        mac: &Mac,
        reissue: Reissue,
        rearm: bool,
        by: &str,
    ) -> Result<Option<IssuedSecrets>, CredentialsError> {
        // The passwords are generated and sealed before the transaction, for the lines the
        // device has now; the transaction refuses if its accounts changed in between.
        let Some(device) = self.store.device(mac)? else { return Ok(None) };
        if rearm && reissue.line.is_some() {
            return Err(CredentialsError::Invalid(
                "a re-arm is for a replaced or reset phone, which needs every account: give no line".into(),
            ));
        }
        let lines: Vec<u16> = match reissue.line {
            Some(line) if device.account(line).is_none() => {
                return Err(CredentialsError::Invalid(format!("{mac} has no account on line {line}")));
            }
            Some(line) => vec![line],
            None => device.accounts.iter().map(|account| account.line).collect(),
        };
        let chosen = match (reissue.sip_password, lines.as_slice()) {
            (None, _) => Vec::new(),
            (Some(password), [line]) => vec![(*line, password)],
            (Some(_), _) => {
                return Err(CredentialsError::Invalid(format!(
                    "{mac} has {} accounts: give the line the password is for",
                    lines.len()
                )));
            }
        };
        let whole = reissue.line.is_none();
        let issued = IssuedSecrets {
            sip_passwords: passwords_for(&lines, chosen)?,
            admin_password: if whole { Some(Password::generate()?) } else { None },
        };
        let sealed = self.seal(mac, &issued)?;
        let registrar = self.registrar_sets(mac, &device.accounts, &issued.sip_passwords)?;
        let (lifecycle, now, by) = (self.lifecycle, self.clock.now(), by.to_owned());
        let updated = self.store.update_device(
            mac,
            Box::new(move |device| {
                let now_lines: Vec<u16> = device.accounts.iter().map(|account| account.line).collect();
                let renamed = registrar
                    .iter()
                    .any(|change| device.account(change.line).is_none_or(|account| account.auth_name != change.user));
                if (whole && now_lines != lines) || lines.iter().any(|line| !now_lines.contains(line)) || renamed {
                    return Err(Abort("the device's accounts changed meanwhile: try again".into()));
                }
                let mut events = match (whole, rearm) {
                    (true, true) => lifecycle.rearm(device, sealed, now),
                    (true, false) => lifecycle.rotate(device, sealed, now),
                    (false, _) => {
                        if is_dormant(&lifecycle, device, now) {
                            return Err(Abort(
                                "the device is dormant: re-arm it whole, which issues every account".into(),
                            ));
                        }
                        lifecycle.issue_lines(device, sealed.sip_passwords, rearm, now)
                    }
                };
                carry(&mut events, registrar);
                Ok(attributed(events, &by))
            }),
        );
        match updated {
            Ok(updated) => Ok(updated.map(|_| issued)),
            Err(StoreError::Aborted(reason)) => Err(CredentialsError::Invalid(reason)),
            Err(e) => Err(e.into()),
        }
    }

    /// Changes a device's accounts and profile, audited as done `by` someone. `change` sees the
    /// device as stored, inside the transaction (so concurrent changes do not overwrite each
    /// other), and returns the new accounts and profile, or why it refuses. An unchanged
    /// device leaves no event.
    ///
    /// An account removed takes its secret with it. An account added gets a generated password,
    /// issued like a rotation of that line (state `Issued`, delivered by the next fetch) and
    /// returned once in [`Updated::Changed`].
    pub fn update(
        &self,
        mac: &Mac,
        by: &str,
        change: impl FnOnce(&DeviceRecord) -> Result<(Vec<Account>, DeviceProfile), String> + Send + 'static,
    ) -> Result<Updated, CredentialsError> {
        let (lifecycle, now, by) = (self.lifecycle, self.clock.now(), by.to_owned());
        let keyring = self.keyring.clone();
        let realm = self.registrar_realm.clone();
        let issued: Arc<Mutex<Option<Option<IssuedSecrets>>>> = Arc::new(Mutex::new(None));
        let outcome = Arc::clone(&issued);
        let updated = self.store.update_device(
            mac,
            Box::new(move |device| {
                let (accounts, profile) = change(device).map_err(Abort)?;
                crate::check_accounts(&accounts).map_err(Abort)?;
                if device.accounts == accounts && device.profile == profile {
                    return Ok(Vec::new());
                }
                // A line whose account is new, or now names another user, registrar or digest
                // name, is a new account: it gets a password of its own, not the old one.
                let added: Vec<u16> = accounts
                    .iter()
                    .filter(|account| {
                        device.account(account.line).is_none_or(|before| {
                            (&before.user_name, &before.auth_name, &before.registrar)
                                != (&account.user_name, &account.auth_name, &account.registrar)
                        })
                    })
                    .map(|account| account.line)
                    .collect();
                let users: Vec<String> = accounts.iter().map(|account| quote(&account.user_name)).collect();
                let mut event =
                    AuditEvent::new(now, device.mac, AuditKind::Updated, format!("user={}", users.join(",")));
                if let Some(realm) = &realm {
                    // A digest user no account has any more is gone from the registrar.
                    let gone = device
                        .accounts
                        .iter()
                        .filter(|before| accounts.iter().all(|account| account.auth_name != before.auth_name));
                    event.registrar = gone
                        .map(|before| RegistrarChange::delete(device.mac, before.line, &before.auth_name, realm))
                        .collect();
                }
                let mut events = vec![event];
                if let Some(secrets) = &mut device.secrets {
                    let kept =
                        |line: &u16| accounts.iter().any(|account| account.line == *line) && !added.contains(line);
                    secrets.sip_passwords.retain(|(line, _)| kept(line));
                }
                device.accounts = accounts;
                device.profile = profile;
                let mut new = None;
                // A dormant device gets its accounts' passwords when it is re-armed, all at once.
                if !added.is_empty() && !is_dormant(&lifecycle, device, now) {
                    let keyring = keyring.as_ref().ok_or_else(|| Abort(CredentialsError::NoSealingKey.to_string()))?;
                    let fresh = IssuedSecrets {
                        sip_passwords: passwords_for(&added, Vec::new()).map_err(|e| Abort(e.to_string()))?,
                        admin_password: None,
                    };
                    let sealed = seal_with(keyring, &device.mac, &fresh).map_err(|e| Abort(e.to_string()))?;
                    let sets =
                        registrar_sets(keyring, realm.as_deref(), &device.mac, &device.accounts, &fresh.sip_passwords)
                            .map_err(|e| Abort(e.to_string()))?;
                    events[0].registrar.extend(sets);
                    events.extend(lifecycle.issue_lines(device, sealed.sip_passwords, false, now));
                    new = Some(fresh);
                }
                // No SIP password left: nothing may be delivered, the admin password included.
                if device.secrets.as_ref().is_some_and(|secrets| secrets.sip_passwords.is_empty()) {
                    device.secrets = None;
                }
                *outcome.lock().map_err(|_| Abort("update outcome poisoned".into()))? = Some(new);
                Ok(attributed(events, &by))
            }),
        );
        let issued = issued.lock().map(|mut slot| slot.take()).unwrap_or(None);
        match (updated, issued) {
            (Ok(Some(device)), Some(issued)) => Ok(Updated::Changed(device, issued)),
            (Ok(Some(device)), None) => Ok(Updated::Unchanged(device)),
            (Ok(None), _) => Ok(Updated::NotEnrolled),
            (Err(StoreError::Aborted(reason)), _) => Ok(Updated::Refused(reason)),
            (Err(e), _) => Err(e.into()),
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

    /// Gives `mac` a new enrolment secret (replacing any it had), sealed at rest, audited as
    /// done `by` someone: the phone then authenticates its fetches with it (HTTP Digest over
    /// TLS, for phones without a usable factory certificate). Returns the secret, to hand over
    /// once; `None` if the device is not enrolled.
    pub fn issue_enrolment_secret(&self, mac: &Mac, by: &str) -> Result<Option<Password>, CredentialsError> {
        let secret = Password::generate()?;
        let sealed = self.keyring()?.seal(&secret, mac, SecretKind::EnrolmentSecret)?;
        let (now, by, mac_copy) = (self.clock.now(), by.to_owned(), *mac);
        let updated = self.store.update_device(
            mac,
            Box::new(move |device| {
                let detail = if device.enrolment_secret.is_some() { "replaced=yes" } else { "replaced=no" };
                device.enrolment_secret = Some(sealed);
                Ok(attributed(vec![AuditEvent::new(now, mac_copy, AuditKind::SecretIssued, detail.to_owned())], &by))
            }),
        )?;
        Ok(updated.map(|_| secret))
    }

    /// Deletes `mac`'s enrolment secret, audited: the device authenticates by certificate again.
    /// Returns `false` if it had none (or is not enrolled).
    pub fn remove_enrolment_secret(&self, mac: &Mac, by: &str) -> Result<bool, CredentialsError> {
        let (now, by, mac_copy) = (self.clock.now(), by.to_owned(), *mac);
        let removed = Arc::new(AtomicBool::new(false));
        let noted = Arc::clone(&removed);
        self.store.update_device(
            mac,
            Box::new(move |device| {
                if device.enrolment_secret.take().is_none() {
                    return Ok(Vec::new());
                }
                noted.store(true, Ordering::Relaxed);
                Ok(attributed(vec![AuditEvent::new(now, mac_copy, AuditKind::SecretRemoved, String::new())], &by))
            }),
        )?;
        Ok(removed.load(Ordering::Relaxed))
    }

    /// `device`'s enrolment secret, unsealed to check a phone's credentials with; `None` if it
    /// has none.
    pub fn enrolment_secret(&self, device: &DeviceRecord) -> Result<Option<Password>, CredentialsError> {
        let Some(sealed) = &device.enrolment_secret else { return Ok(None) };
        Ok(Some(self.keyring()?.open(sealed, &device.mac, SecretKind::EnrolmentSecret)?))
    }

    /// Deletes a device (its secrets with it), audited as done `by` someone. Returns `false` if
    /// it was not enrolled.
    pub fn delete(&self, mac: &Mac, by: &str) -> Result<bool, CredentialsError> {
        let mut event = AuditEvent::new(self.clock.now(), *mac, AuditKind::Deleted, format!("by={}", quote(by)));
        if let Some(realm) = &self.registrar_realm {
            // Read first: an account added between this read and the deletion is left for
            // `registrar sync` to remove (two operators changing one device at once).
            let Some(device) = self.store.device(mac)? else { return Ok(false) };
            event.registrar = device
                .accounts
                .iter()
                .map(|account| RegistrarChange::delete(*mac, account.line, &account.auth_name, realm))
                .collect();
        }
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
        let detail = format!("vendor={} spki={} peer={}", quote(vendor), hex::encode(spki_sha256), quote(peer));
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
    /// store read, each due device in its own transaction. Returns how many devices changed state.
    pub fn sweep(&self, batch: usize) -> Result<usize, CredentialsError> {
        let lifecycle = self.lifecycle;
        let (mut after, mut changed) = (None, 0);
        loop {
            // Most devices, most minutes, are not due: deciding that on their states costs no
            // write and no fsync, and reads no whole record (a fleet shipped but not yet booted
            // waits here for weeks).
            let states = self.store.secret_states(after, batch.max(1))?;
            let Some(&(last, _)) = states.last() else { return Ok(changed) };
            for (mac, state) in states {
                if lifecycle.due(state, self.clock.now()) {
                    changed += usize::from(self.sweep_one(mac)?);
                }
            }
            after = Some(last);
        }
    }

    /// Sweeps one device; the update decides again, on the record its transaction reads.
    fn sweep_one(&self, mac: Mac) -> Result<bool, CredentialsError> {
        let (lifecycle, now) = (self.lifecycle, self.clock.now());
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

    /// Seals every device's secrets, every HA1 kept for the registrars and every portal user's
    /// TOTP key again under the current key (after a key rotation). Returns how many devices,
    /// HA1 rows and TOTP keys were resealed.
    pub fn reseal_all(&self, batch: usize) -> Result<usize, CredentialsError> {
        let keyring = self.keyring()?;
        let current = keyring.current_id();
        let devices = self.for_each_with_secrets(batch, |mac| {
            let device = self.store.device(&mac)?;
            let Some(secrets) = device.and_then(|d| d.secrets) else { return Ok(false) };
            let sealed = secrets.sip_passwords.iter().map(|(_, sealed)| sealed).chain(&secrets.admin_password);
            if sealed.into_iter().all(|sealed| sealed.key_id() == Some(current)) {
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
        })?;
        Ok(devices + self.reseal_registrar(batch)? + self.reseal_portal_totp()?)
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

    fn registrar_sets(
        &self,
        mac: &Mac,
        accounts: &[Account],
        passwords: &[(u16, Password)],
    ) -> Result<Vec<RegistrarChange>, CredentialsError> {
        if self.registrar_realm.is_none() {
            return Ok(Vec::new());
        }
        Ok(registrar_sets(&*self.keyring()?, self.registrar_realm.as_deref(), mac, accounts, passwords)?)
    }
}

/// The registrar changes for `passwords` just issued to `accounts` (by line): each account's
/// HA1 in `realm`, sealed. None without a realm.
fn registrar_sets(
    keyring: &Keyring,
    realm: Option<&str>,
    mac: &Mac,
    accounts: &[Account],
    passwords: &[(u16, Password)],
) -> Result<Vec<RegistrarChange>, SealingError> {
    let Some(realm) = realm else { return Ok(Vec::new()) };
    let issued = passwords.iter().filter_map(|(line, password)| {
        let account = accounts.iter().find(|account| account.line == *line)?;
        Some(RegistrarChange::set(keyring, *mac, *line, &account.auth_name, realm, password))
    });
    issued.collect()
}

/// Hands `changes` to the first event, the one that records their cause.
fn carry(events: &mut [AuditEvent], changes: Vec<RegistrarChange>) {
    if let Some(first) = events.first_mut() {
        first.registrar.extend(changes);
    }
}

/// Whether `device` is dormant at `now`, counting an expiry not yet swept.
fn is_dormant(lifecycle: &Lifecycle, device: &DeviceRecord, now: Timestamp) -> bool {
    let mut probe = device.clone();
    lifecycle.sweep(&mut probe, now);
    matches!(probe.state, CredentialState::Dormant { .. })
}

/// Names who did it in each event's detail.
fn attributed(mut events: Vec<AuditEvent>, by: &str) -> Vec<AuditEvent> {
    let by = quote(by);
    for event in &mut events {
        event.detail = if event.detail.is_empty() { format!("by={by}") } else { format!("{} by={by}", event.detail) };
    }
    events
}

/// A password for each of `lines`: the operator's where `chosen` gives one, generated otherwise.
/// A chosen password for a line not among `lines` is refused.
fn passwords_for(lines: &[u16], mut chosen: Vec<(u16, Password)>) -> Result<Vec<(u16, Password)>, CredentialsError> {
    if let Some((line, _)) = chosen.iter().find(|(line, _)| !lines.contains(line)) {
        return Err(CredentialsError::Invalid(format!("a password is given for line {line}, which has no account")));
    }
    let mut passwords = Vec::with_capacity(lines.len());
    for line in lines {
        let password = match chosen.iter().position(|(l, _)| l == line) {
            Some(at) => chosen.swap_remove(at).1,
            None => Password::generate()?,
        };
        passwords.push((*line, password));
    }
    Ok(passwords)
}

fn seal_with(keyring: &Keyring, mac: &Mac, issued: &IssuedSecrets) -> Result<DeviceSecrets, SealingError> {
    let sip_passwords = issued
        .sip_passwords
        .iter()
        .map(|(line, password)| Ok((*line, keyring.seal(password, mac, SecretKind::SipPassword(*line))?)))
        .collect::<Result<_, SealingError>>()?;
    let admin_password = match &issued.admin_password {
        Some(password) => Some(keyring.seal(password, mac, SecretKind::AdminPassword)?),
        None => None,
    };
    Ok(DeviceSecrets { sip_passwords, admin_password })
}

pub(crate) fn open(keyring: &Keyring, mac: &Mac, sealed: &DeviceSecrets) -> Result<IssuedSecrets, SealingError> {
    let sip_passwords = sealed
        .sip_passwords
        .iter()
        .map(|(line, sealed)| Ok((*line, keyring.open(sealed, mac, SecretKind::SipPassword(*line))?)))
        .collect::<Result<_, SealingError>>()?;
    let admin_password = match &sealed.admin_password {
        Some(sealed) => Some(keyring.open(sealed, mac, SecretKind::AdminPassword)?),
        None => None,
    };
    Ok(IssuedSecrets { sip_passwords, admin_password })
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
    /// The request does not fit the device (an account line it lacks, lines given twice, a
    /// password for several accounts): nothing was changed.
    #[error("{0}")]
    Invalid(String),
}
