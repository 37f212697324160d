//! A portal user's second factor: a TOTP key (RFC 6238: HMAC-SHA-1, 6 digits, 30 s steps, one
//! step of clock skew) the user adds to an authenticator app, sealed at rest for the user's
//! name. A code is accepted once: its time step must be later than the last one accepted.
//! Wrong codes count toward the same lockout as wrong passwords.

use totp_rs::{Builder, Secret, Totp};

use crate::audit::quote;
use crate::portal_user::TotpKey;
use crate::portal_users::count_failure;
use crate::{
    AuditEvent, AuditKind, Credentials, CredentialsError, Login, Password, Sealed, SecretKind, StoreError, Timestamp,
};

/// The key's length: 160 bits, as RFC 4226 recommends.
const KEY_BYTES: usize = 20;

impl Credentials {
    /// Starts setting up `user`'s second factor: a fresh key (or the one waiting for its first
    /// code), kept unconfirmed until [`Credentials::confirm_totp`]. Returns the key in base32,
    /// for the authenticator app; `None` if there is no such user or its second factor is on.
    pub fn begin_totp(&self, user: &str) -> Result<Option<String>, CredentialsError> {
        let keyring = self.keyring()?;
        let Some(stored) = self.portal_user(user)? else { return Ok(None) };
        if let Some(pending) = stored.totp.as_ref().filter(|key| !key.confirmed) {
            let base32 = keyring.open_for(&sealed_key(user, pending)?, user, SecretKind::PortalTotp)?;
            return Ok(Some(base32.expose().to_owned()));
        }
        let mut bytes = [0u8; KEY_BYTES];
        crate::secret::random(&mut bytes)?;
        let base32 = Secret::from(bytes).to_base32();
        let sealed = keyring.seal_for(&Password::from_string(base32.clone()), user, SecretKind::PortalTotp)?;
        let key = TotpKey { sealed: hex::encode(sealed.as_bytes()), confirmed: false, last_step: 0 };
        let changed = self.change_portal_user(user, |stored| {
            if stored.has_second_factor() {
                return None;
            }
            stored.totp = Some(key.clone());
            Some(Vec::new())
        })?;
        Ok(changed.map(|_| base32))
    }

    /// Confirms `user`'s new key with a code from it: from then on, logging in takes a code.
    /// Audited; returns whether the code was right.
    pub fn confirm_totp(&self, user: &str, code: &str, peer: &str) -> Result<bool, CredentialsError> {
        let now = self.clock.now();
        let Some(stored) = self.portal_user(user)? else { return Ok(false) };
        let Some(key) = stored.totp.filter(|key| !key.confirmed) else { return Ok(false) };
        let Some(step) = self.totp_step(user, &key, code, now)? else { return Ok(false) };
        let detail = format!("user={} second_factor=totp peer={}", quote(user), quote(peer));
        let changed = self.change_portal_user(user, |stored| {
            let pending =
                stored.totp.as_mut().filter(|stored_key| stored_key.sealed == key.sealed && !stored_key.confirmed)?;
            pending.confirmed = true;
            pending.last_step = step;
            Some(vec![AuditEvent::without_device(now, AuditKind::UserActivated, detail.clone())])
        })?;
        Ok(changed.is_some())
    }

    /// Checks the code `user` gave after its password: accepted once per time step, a wrong or
    /// replayed code counted like a wrong password (and locking the account as it does).
    pub fn check_totp(&self, user: &str, code: &str, peer: &str) -> Result<Login, CredentialsError> {
        let now = self.clock.now();
        let Some(stored) = self.portal_user(user)? else { return Ok(Login::Refused) };
        let Some(key) = stored.totp.clone().filter(|key| key.confirmed) else { return Ok(Login::Refused) };
        if stored.locked_at(now) {
            return Ok(Login::Locked { until: Timestamp::from_unix(stored.locked_until.unwrap_or_default()) });
        }
        let step = self.totp_step(user, &key, code, now)?;
        let mut outcome = Login::Refused;
        self.change_portal_user(user, |stored| {
            let fresh = step.filter(|step| stored.totp.as_ref().is_some_and(|key| *step > key.last_step));
            if let (Some(step), Some(key)) = (fresh, stored.totp.as_mut()) {
                key.last_step = step;
                stored.failed_logins = 0;
                outcome = Login::Accepted(Box::new(stored.clone()));
                let detail = format!("user={} purpose=second-factor peer={}", quote(user), quote(peer));
                return Some(vec![AuditEvent::without_device(now, AuditKind::Login, detail)]);
            }
            let reason = if step.is_some() { "code used before" } else { "wrong code" };
            let detail =
                format!("user={} purpose=second-factor reason={} peer={}", quote(user), quote(reason), quote(peer));
            let (refused, events) =
                count_failure(stored, now, AuditEvent::without_device(now, AuditKind::LoginFailed, detail), peer);
            outcome = refused;
            Some(events)
        })?;
        Ok(outcome)
    }

    /// The time step `code` is valid for at `now` under `key`, if any.
    fn totp_step(
        &self,
        user: &str,
        key: &TotpKey,
        code: &str,
        now: Timestamp,
    ) -> Result<Option<u64>, CredentialsError> {
        let base32 = self.keyring()?.open_for(&sealed_key(user, key)?, user, SecretKind::PortalTotp)?;
        let Some(totp) = totp(base32.expose()) else {
            return Err(StoreError::Corrupt(format!("portal user {user}'s TOTP key is unusable")).into());
        };
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        Ok(u64::try_from(now.unix()).ok().and_then(|now| totp.check(&code, now)))
    }
}

/// `user`'s key as sealed (stored as hex).
fn sealed_key(user: &str, key: &TotpKey) -> Result<Sealed, StoreError> {
    let bytes =
        hex::decode(&key.sealed).map_err(|e| StoreError::Corrupt(format!("portal user {user}'s TOTP key: {e}")))?;
    Ok(Sealed::from_bytes(bytes))
}

/// The TOTP of a base32 key, as authenticator apps compute it.
fn totp(base32: &str) -> Option<Totp> {
    Builder::new().with_secret(Secret::try_from_base32(base32).ok()?).build().ok()
}

/// The code a key gives at `time` (Unix seconds): what an authenticator app shows. For tests
/// and for operators checking a user's clock.
pub fn totp_code(base32: &str, time: u64) -> Option<String> {
    totp(base32).map(|totp| totp.generate(time).to_string())
}

impl Credentials {
    /// Seals every portal user's TOTP key sealed under an older key again under the current
    /// one (part of [`Credentials::reseal_all`]). Returns how many were resealed.
    pub(crate) fn reseal_portal_totp(&self) -> Result<usize, CredentialsError> {
        let keyring = self.keyring()?;
        let mut resealed = 0;
        for user in self.portal_users()? {
            let Some(key) = &user.totp else { continue };
            let sealed = sealed_key(&user.name, key)?;
            if sealed.key_id() == Some(keyring.current_id()) {
                continue;
            }
            let opened = keyring.open_for(&sealed, &user.name, SecretKind::PortalTotp)?;
            let fresh = hex::encode(keyring.seal_for(&opened, &user.name, SecretKind::PortalTotp)?.as_bytes());
            let changed = self.change_portal_user(&user.name, |stored| {
                let stored_key = stored.totp.as_mut().filter(|stored_key| stored_key.sealed == key.sealed)?;
                stored_key.sealed = fresh.clone();
                Some(Vec::new())
            })?;
            resealed += usize::from(changed.is_some());
        }
        Ok(resealed)
    }
}
