//! The softphone portal's users in the store: created by the operator, activated by the user
//! with a one-time token, logging in with lockout after repeated failures. Every change is one
//! compare-and-swap of the user's document with its audit event.

use std::time::Duration;

use sipprov_identity::Mac;

use crate::audit::quote;
use crate::portal_user::{self, LOCKOUT, LOCKOUT_FAILURES, PortalUser};
use crate::{AuditEvent, AuditKind, Credentials, CredentialsError, DeviceRecord, OneTimeToken, StoreError, Timestamp};

/// The index document: the names of every user, in creation order.
const INDEX: &str = "portal-users";

/// The vendors whose devices are softphones a portal user may be given (and links be made
/// for): Linphone, Acrobits (Groundwire, Cloud Softphone) and Zoiper.
pub const SOFTPHONE_VENDORS: &[&str] = &["linphone", "acrobits", "zoiper"];

/// How often a compare-and-swap is tried again when another writer got there first.
const CAS_ATTEMPTS: usize = 8;

fn document_name(name: &str) -> String {
    format!("portal-user:{name}")
}

/// What a login attempt found. Every outcome is audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// Name and password match: the user as stored.
    Accepted(Box<PortalUser>),
    /// Unknown user, not yet activated, or wrong password: one answer for all.
    Refused,
    /// Too many failures: refused until then, whatever the password.
    Locked {
        /// When logins are accepted again.
        until: Timestamp,
    },
}

/// Why an activation did nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivationRefusal {
    /// No such user, a wrong or expired token, or a user already active: one answer for all.
    InvalidLink,
    /// The password chosen is refused, saying why.
    WeakPassword(String),
}

impl Credentials {
    /// Creates a portal user with the softphones it may see (each enrolled, of a
    /// [`SOFTPHONE_VENDORS`] vendor), audited as done `by` someone. Returns the user and its
    /// activation token (valid for `ttl`, shown once), or why nothing was created.
    pub fn create_portal_user(
        &self,
        name: &str,
        email: &str,
        devices: Vec<Mac>,
        ttl: Duration,
        by: &str,
    ) -> Result<Result<(PortalUser, OneTimeToken), String>, CredentialsError> {
        if let Err(refused) = portal_user::check_user_name(name).and_then(|()| portal_user::check_email(email)) {
            return Ok(Err(refused));
        }
        if let Err(refused) = self.check_softphones(&devices)? {
            return Ok(Err(refused));
        }
        let now = self.clock.now();
        let (token, activation) = portal_user::new_activation(now.saturating_add(ttl))?;
        let mut devices = devices;
        devices.sort();
        devices.dedup();
        let user = PortalUser {
            name: name.to_owned(),
            email: email.to_owned(),
            devices,
            password_hash: None,
            activation: Some(activation),
            failed_logins: 0,
            locked_until: None,
            revealed: Default::default(),
            created_at: now.unix(),
            totp: None,
        };
        let macs: Vec<String> = user.devices.iter().map(ToString::to_string).collect();
        let detail = format!("user={} devices={} by={}", quote(name), macs.join(","), quote(by));
        let event = AuditEvent::without_device(now, AuditKind::UserCreated, detail);
        let document = document_name(name);
        let version = match self.store.document(&document)? {
            Some(stored) if !stored.body.is_empty() => return Ok(Err(format!("a user named {name} exists"))),
            Some(stored) => stored.version,
            None => 0,
        };
        if !self.store.put_document(&document, version, &to_json(&user)?, vec![event])? {
            return Ok(Err(format!("a user named {name} was created meanwhile")));
        }
        self.change_index(|names| {
            if !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        })?;
        Ok(Ok((user, token)))
    }

    /// Gives the user a fresh activation token (valid for `ttl`, shown once) and removes its
    /// password: the way back for a user who forgot it. Audited as done `by` someone; `None`
    /// if there is no such user.
    pub fn reset_portal_user(
        &self,
        name: &str,
        ttl: Duration,
        by: &str,
    ) -> Result<Option<OneTimeToken>, CredentialsError> {
        let now = self.clock.now();
        let (token, activation) = portal_user::new_activation(now.saturating_add(ttl))?;
        let changed = self.change_portal_user(name, |user| {
            user.password_hash = None;
            user.activation = Some(activation.clone());
            user.failed_logins = 0;
            user.locked_until = None;
            user.totp = None;
            let detail = format!("user={} reset=yes by={}", quote(name), quote(by));
            Some(vec![AuditEvent::without_device(now, AuditKind::UserCreated, detail)])
        })?;
        Ok(changed.map(|_| token))
    }

    /// The user named `name`, if there is one.
    pub fn portal_user(&self, name: &str) -> Result<Option<PortalUser>, CredentialsError> {
        Ok(self.read_user(name)?.map(|(user, _)| user))
    }

    /// Every user, in creation order.
    pub fn portal_users(&self) -> Result<Vec<PortalUser>, CredentialsError> {
        let mut users = Vec::new();
        for name in self.read_index()?.0 {
            if let Some(user) = self.portal_user(&name)? {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// Removes a user (its sessions end at their next request), audited as done `by` someone.
    /// Returns `false` if there was none.
    pub fn remove_portal_user(&self, name: &str, by: &str) -> Result<bool, CredentialsError> {
        let document = document_name(name);
        for _ in 0..CAS_ATTEMPTS {
            let Some(stored) = self.store.document(&document)?.filter(|stored| !stored.body.is_empty()) else {
                return Ok(false);
            };
            let detail = format!("user={} by={}", quote(name), quote(by));
            let event = AuditEvent::without_device(self.clock.now(), AuditKind::UserRemoved, detail);
            if self.store.put_document(&document, stored.version, "", vec![event])? {
                self.change_index(|names| names.retain(|n| n != name))?;
                return Ok(true);
            }
        }
        Err(contended(name))
    }

    /// Sets the password of a user from its activation token, once: the token must be the
    /// user's and unexpired, the password strong enough. Audited either way.
    pub fn activate_portal_user(
        &self,
        name: &str,
        token: &str,
        password: &str,
        peer: &str,
    ) -> Result<Result<(), ActivationRefusal>, CredentialsError> {
        let now = self.clock.now();
        let presented = hex::encode(OneTimeToken::hash_of(token));
        let valid = |user: &PortalUser| {
            user.activation.as_ref().is_some_and(|a| a.hash == presented && now.unix() < a.expires_at)
        };
        let Some((user, _)) = self.read_user(name)? else {
            self.refuse_activation(name, peer, now)?;
            return Ok(Err(ActivationRefusal::InvalidLink));
        };
        if !valid(&user) {
            self.refuse_activation(name, peer, now)?;
            return Ok(Err(ActivationRefusal::InvalidLink));
        }
        if let Err(weak) = portal_user::check_new_password(name, password) {
            return Ok(Err(ActivationRefusal::WeakPassword(weak)));
        }
        let hash = portal_user::hash_password(password)?;
        let mut used = false;
        self.change_portal_user(name, |user| {
            // Checked again on the record being replaced: a token is used once.
            if !valid(user) {
                return None;
            }
            used = true;
            user.password_hash = Some(hash.clone());
            user.activation = None;
            let detail = format!("user={} peer={}", quote(name), quote(peer));
            Some(vec![AuditEvent::without_device(now, AuditKind::UserActivated, detail)])
        })?;
        if !used {
            self.refuse_activation(name, peer, now)?;
            return Ok(Err(ActivationRefusal::InvalidLink));
        }
        Ok(Ok(()))
    }

    fn refuse_activation(&self, name: &str, peer: &str, now: Timestamp) -> Result<(), CredentialsError> {
        let detail = format!("user={} reason=\"activation link invalid\" peer={}", quote(name), quote(peer));
        Ok(self.store.append_audit(vec![AuditEvent::without_device(now, AuditKind::LoginFailed, detail)])?)
    }

    /// Checks a user's name and password (a login, or the password asked again before a
    /// reveal: `purpose` says which in the audit trail). [`LOCKOUT_FAILURES`] failures in a
    /// row lock the account for [`LOCKOUT`], an alert. An unknown user costs the same argon2
    /// work as a known one.
    pub fn portal_login(
        &self,
        name: &str,
        password: &str,
        peer: &str,
        purpose: &str,
    ) -> Result<Login, CredentialsError> {
        let now = self.clock.now();
        let user = self.read_user(name)?.map(|(user, _)| user);
        let hash = user.as_ref().and_then(|user| user.password_hash.as_deref());
        let matches = portal_user::verify_password(password, hash.unwrap_or(portal_user::stand_in_hash()));
        let failed = |reason: &str| {
            let detail =
                format!("user={} purpose={purpose} reason={} peer={}", quote(name), quote(reason), quote(peer));
            AuditEvent::without_device(now, AuditKind::LoginFailed, detail)
        };
        let Some(user) = user.filter(|user| user.password_hash.is_some()) else {
            self.store.append_audit(vec![failed("unknown or not activated")])?;
            return Ok(Login::Refused);
        };
        if user.locked_at(now) {
            self.store.append_audit(vec![failed("locked")])?;
            return Ok(Login::Locked { until: Timestamp::from_unix(user.locked_until.unwrap_or_default()) });
        }
        let mut outcome = Login::Refused;
        let changed = self.change_portal_user(name, |user| {
            if user.locked_at(now) {
                outcome = Login::Locked { until: Timestamp::from_unix(user.locked_until.unwrap_or_default()) };
                return Some(vec![failed("locked")]);
            }
            if matches {
                user.failed_logins = 0;
                user.locked_until = None;
                outcome = Login::Accepted(Box::new(user.clone()));
                let detail = format!("user={} purpose={purpose} peer={}", quote(name), quote(peer));
                return Some(vec![AuditEvent::without_device(now, AuditKind::Login, detail)]);
            }
            let (refused, events) = count_failure(user, now, failed("wrong password"), peer);
            outcome = refused;
            Some(events)
        })?;
        Ok(if changed.is_some() { outcome } else { Login::Refused })
    }

    /// Applies `change` to the stored user by compare-and-swap and writes the events it
    /// returns with it; `change` returning `None` writes nothing. Returns the user as written,
    /// or `None` if there is no such user or nothing was written.
    pub(crate) fn change_portal_user(
        &self,
        name: &str,
        mut change: impl FnMut(&mut PortalUser) -> Option<Vec<AuditEvent>>,
    ) -> Result<Option<PortalUser>, CredentialsError> {
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut user, version)) = self.read_user(name)? else { return Ok(None) };
            let Some(events) = change(&mut user) else { return Ok(None) };
            if self.store.put_document(&document_name(name), version, &to_json(&user)?, events)? {
                return Ok(Some(user));
            }
        }
        Err(contended(name))
    }

    fn read_user(&self, name: &str) -> Result<Option<(PortalUser, u64)>, CredentialsError> {
        if portal_user::check_user_name(name).is_err() {
            return Ok(None);
        }
        let Some(stored) = self.store.document(&document_name(name))? else { return Ok(None) };
        if stored.body.is_empty() {
            return Ok(None);
        }
        let user =
            serde_json::from_str(&stored.body).map_err(|e| StoreError::Corrupt(format!("portal user {name}: {e}")))?;
        Ok(Some((user, stored.version)))
    }

    fn read_index(&self) -> Result<(Vec<String>, u64), CredentialsError> {
        match self.store.document(INDEX)? {
            Some(stored) => {
                let names = serde_json::from_str(&stored.body)
                    .map_err(|e| StoreError::Corrupt(format!("the portal user index: {e}")))?;
                Ok((names, stored.version))
            }
            None => Ok((Vec::new(), 0)),
        }
    }

    fn change_index(&self, change: impl Fn(&mut Vec<String>)) -> Result<(), CredentialsError> {
        for _ in 0..CAS_ATTEMPTS {
            let (mut names, version) = self.read_index()?;
            change(&mut names);
            let body = serde_json::to_string(&names).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if self.store.put_document(INDEX, version, &body, Vec::new())? {
                return Ok(());
            }
        }
        Err(contended(INDEX))
    }

    /// Whether each of `devices` is an enrolled softphone: `Err` says which is not.
    pub(crate) fn check_softphones(&self, devices: &[Mac]) -> Result<Result<(), String>, CredentialsError> {
        for mac in devices {
            if let Err(refused) = self.softphone(mac)? {
                return Ok(Err(refused));
            }
        }
        Ok(Ok(()))
    }

    /// The enrolled softphone `mac` (of a [`SOFTPHONE_VENDORS`] vendor), or why it is not one.
    pub(crate) fn softphone(&self, mac: &Mac) -> Result<Result<DeviceRecord, String>, CredentialsError> {
        let Some(device) = self.store.device(mac)? else {
            return Ok(Err(format!("device {mac} is not enrolled")));
        };
        let vendor = device.profile.vendor.as_deref().unwrap_or("none");
        if !SOFTPHONE_VENDORS.contains(&vendor) {
            let expected = SOFTPHONE_VENDORS.join(", ");
            return Ok(Err(format!("device {mac} is a {vendor} device, not a softphone ({expected})")));
        }
        Ok(Ok(device))
    }
}

/// Counts one failed proof (`event` says which) against `user`: the failure that reaches
/// [`LOCKOUT_FAILURES`] locks the account for [`LOCKOUT`], an alert.
pub(crate) fn count_failure(
    user: &mut PortalUser,
    now: Timestamp,
    event: AuditEvent,
    peer: &str,
) -> (Login, Vec<AuditEvent>) {
    user.failed_logins += 1;
    if user.failed_logins < LOCKOUT_FAILURES {
        return (Login::Refused, vec![event]);
    }
    let until = now.saturating_add(LOCKOUT);
    user.failed_logins = 0;
    user.locked_until = Some(until.unix());
    let detail =
        format!("user={} failures={LOCKOUT_FAILURES} until={} peer={}", quote(&user.name), until.unix(), quote(peer));
    (Login::Locked { until }, vec![event, AuditEvent::without_device(now, AuditKind::LockedOut, detail)])
}

fn to_json(user: &PortalUser) -> Result<String, CredentialsError> {
    serde_json::to_string(user).map_err(|e| CredentialsError::Store(StoreError::Corrupt(e.to_string())))
}

fn contended(what: &str) -> CredentialsError {
    CredentialsError::Store(StoreError::Backend(format!("{what} kept changing under concurrent writers").into()))
}
