//! A softphone's password shown once to its portal user, and one-time provisioning links.
//!
//! A reveal is a delivery: the device goes `Issued` -> `Delivered`, and its password then
//! follows the normal lifecycle (purged after the grace window). A second reveal shows nothing
//! and is an alert. A provisioning link is a reveal token ([`RevealToken`], stored as a hash)
//! that a softphone exchanges once for its config.

use std::time::Duration;

use sipprov_identity::Mac;

use crate::audit::quote;
use crate::credentials::open;
use crate::{
    Abort, Account, AuditEvent, AuditKind, CredentialState, Credentials, CredentialsError, DeviceRecord, IssuedSecrets,
    OneTimeToken, RevealToken, StoreError, Timestamp, TokenUse,
};

/// What a reveal found.
#[derive(Debug)]
pub enum Revealed {
    /// The first reveal: the device's accounts and their passwords, now delivered.
    Shown {
        /// The accounts, in line order.
        accounts: Vec<Account>,
        /// Their passwords.
        secrets: IssuedSecrets,
    },
    /// Revealed or delivered before (then, if known): nothing shown, an alert recorded.
    Already {
        /// When it was revealed or first delivered, if known.
        at: Option<Timestamp>,
    },
    /// Not the user's, not enrolled, disabled or dormant: nothing to show.
    Unavailable,
}

impl Credentials {
    /// Shows `mac`'s passwords to portal user `user` once, audited (`revealed`) before they
    /// are returned; a second attempt, by anyone, shows nothing and records a
    /// `reveal-repeated` alert.
    pub fn reveal(&self, user: &str, mac: &Mac, peer: &str) -> Result<Revealed, CredentialsError> {
        let now = self.clock.now();
        let Some(owner) = self.portal_user(user)?.filter(|owner| owner.has_device(mac)) else {
            return Ok(Revealed::Unavailable);
        };
        let Some(mut device) = self.store.device(mac)? else { return Ok(Revealed::Unavailable) };
        // Only to see the state now; the transaction below sweeps (and audits) for itself.
        self.lifecycle.sweep(&mut device, now);
        let repeated = |at: Option<Timestamp>| -> Result<Revealed, CredentialsError> {
            let when = at.map_or_else(|| "unknown".to_owned(), |at| at.unix().to_string());
            let detail = format!("user={} revealed_at={when} peer={}", quote(user), quote(peer));
            self.store.append_audit(vec![AuditEvent::new(now, *mac, AuditKind::RevealRepeated, detail)])?;
            Ok(Revealed::Already { at })
        };
        if let Some(at) = owner.revealed_at(mac) {
            return repeated(Some(at));
        }
        let sealed = match (device.disabled, device.state, &device.secrets) {
            (true, ..) | (_, CredentialState::Dormant { .. }, _) => return Ok(Revealed::Unavailable),
            (false, CredentialState::Issued { .. }, Some(sealed)) => sealed.clone(),
            (false, state, _) => return repeated(state.time()),
        };
        let secrets = open(&*self.keyring()?, mac, &sealed)?;
        let accounts = device.accounts.clone();
        let detail = format!("user={} peer={}", quote(user), quote(peer));
        let lifecycle = self.lifecycle;
        let update = move |device: &mut crate::DeviceRecord| {
            let mut events = lifecycle.sweep(device, now);
            // Only the secrets just opened, still waiting for their first delivery.
            let unchanged = matches!(device.state, CredentialState::Issued { .. })
                && device.secrets.as_ref() == Some(&sealed)
                && !device.disabled;
            if !unchanged {
                return Err(Abort("the device changed during the reveal".into()));
            }
            device.state = CredentialState::Delivered { at: now };
            events.push(AuditEvent::new(now, device.mac, AuditKind::Revealed, detail));
            Ok(events)
        };
        match self.store.update_device(mac, Box::new(update)) {
            Ok(Some(_)) => {}
            Ok(None) => return Ok(Revealed::Unavailable),
            Err(StoreError::Aborted(_)) => return repeated(None),
            Err(e) => return Err(e.into()),
        }
        self.change_portal_user(user, |owner| {
            owner.revealed.insert(mac.to_string(), now.unix());
            Some(Vec::new())
        })?;
        Ok(Revealed::Shown { accounts, secrets })
    }

    /// Makes a one-time provisioning link token for softphone `mac`, valid for `ttl` and
    /// audited as made `by` someone. Refused (saying why) unless the device is an enrolled
    /// softphone whose password may still be delivered: a link to a config without it would
    /// leave the softphone without its account.
    pub fn create_link(
        &self,
        mac: &Mac,
        ttl: Duration,
        by: &str,
    ) -> Result<Result<(OneTimeToken, Timestamp), String>, CredentialsError> {
        let device = match self.softphone(mac)? {
            Ok(device) => device,
            Err(refused) => return Ok(Err(refused)),
        };
        let now = self.clock.now();
        if !self.holds_password(&device, now) {
            return Ok(Err(format!(
                "device {mac} holds no password to deliver (delivered and purged, dormant or disabled): issue a new one first"
            )));
        }
        let token = OneTimeToken::generate()?;
        let expires_at = now.saturating_add(ttl);
        self.store.insert_reveal_token(&RevealToken { hash: token.hash(), mac: *mac, expires_at })?;
        let detail = format!("expires_at={} by={}", expires_at.unix(), quote(by));
        self.store.append_audit(vec![AuditEvent::new(now, *mac, AuditKind::LinkCreated, detail)])?;
        Ok(Ok((token, expires_at)))
    }

    /// Whether `device` still holds a password a delivery (a reveal, a link) could hand over at
    /// `now`: not disabled, and its secrets not yet purged or dormant (counting expiries not yet
    /// swept).
    pub fn holds_password(&self, device: &DeviceRecord, now: Timestamp) -> bool {
        let mut swept = device.clone();
        self.lifecycle.sweep(&mut swept, now);
        !swept.disabled && swept.secrets.is_some()
    }

    /// Uses a presented link token: the softphone it provisions on its first use inside its
    /// lifetime, `None` otherwise. A used token presented again is a `link-replayed` alert.
    pub fn use_link(&self, presented: &str, peer: &str) -> Result<Option<Mac>, CredentialsError> {
        let now = self.clock.now();
        match self.store.consume_reveal_token(&OneTimeToken::hash_of(presented), now)? {
            TokenUse::Valid(mac) => Ok(Some(mac)),
            TokenUse::AlreadyUsed => {
                let detail = format!("peer={}", quote(peer));
                self.store.append_audit(vec![AuditEvent::without_device(now, AuditKind::LinkReplayed, detail)])?;
                Ok(None)
            }
            TokenUse::Expired | TokenUse::Unknown => Ok(None),
        }
    }
}

impl Credentials {
    /// A new password for portal user `user`'s softphone `mac`, asked by the user: the device is
    /// re-armed (fresh passwords, the registrar told as for any re-arm) and may be revealed or
    /// linked again. Returns `false`, changing nothing, if the device is not the user's.
    pub fn renew_for_portal_user(&self, user: &str, mac: &Mac) -> Result<bool, CredentialsError> {
        if !self.portal_user(user)?.is_some_and(|owner| owner.has_device(mac)) {
            return Ok(false);
        }
        if self.rearm(mac, crate::Reissue::default(), &format!("portal:{user}"))?.is_none() {
            return Ok(false);
        }
        self.change_portal_user(user, |owner| owner.revealed.remove(&mac.to_string()).map(|_| Vec::new()))?;
        Ok(true)
    }
}
