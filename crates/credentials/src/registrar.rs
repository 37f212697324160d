//! What a SIP registrar must learn when accounts get passwords or go away, kept in the store's
//! registrar outbox until it has been told.
//!
//! Each change rides on the audit event that records its cause ([`AuditEvent::registrar`]), so
//! the store writes it in the same transaction: no enrolment, rotation or deletion commits
//! without its change queued, and none is queued for one that did not commit. The outbox holds
//! one row per digest user and realm, its latest state: the account's HA1, sealed, or a
//! deletion. A row is marked pushed once every registrar accepted it; a pushed deletion is
//! removed. The HA1 rows stay, so a registrar that lost its data can be rebuilt from them.
//!
//! [`AuditEvent::registrar`]: crate::AuditEvent::registrar

use sipprov_identity::Mac;

use crate::audit::quote;
use crate::{
    AuditEvent, AuditKind, Credentials, CredentialsError, DigestHa1, Keyring, Password, Sealed, SealingError,
    SecretKind,
};

/// A change for the registrar: the account (`user` in `realm`) now has this HA1, or no longer
/// exists (`ha1: None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarChange {
    /// The digest user name (the account's `auth_name`).
    pub user: String,
    /// The realm its HA1 is bound to.
    pub realm: String,
    /// The device whose account it is (the HA1 is sealed for it).
    pub mac: Mac,
    /// The account's line on that device.
    pub line: u16,
    /// The HA1 values, sealed; `None` for a deletion.
    pub ha1: Option<Sealed>,
}

impl RegistrarChange {
    /// The account `user` in `realm` has password `password`: its HA1, sealed for `mac`.
    pub fn set(
        keyring: &Keyring,
        mac: Mac,
        line: u16,
        user: &str,
        realm: &str,
        password: &Password,
    ) -> Result<Self, SealingError> {
        let ha1 = DigestHa1::compute(user, realm, password);
        let both = Password::from_string(format!("{} {}", ha1.md5, ha1.sha256));
        let ha1 = keyring.seal(&both, &mac, SecretKind::RegistrarHa1(line))?;
        Ok(Self { user: user.to_owned(), realm: realm.to_owned(), mac, line, ha1: Some(ha1) })
    }

    /// The account `user` in `realm` is gone.
    pub fn delete(mac: Mac, line: u16, user: &str, realm: &str) -> Self {
        Self { user: user.to_owned(), realm: realm.to_owned(), mac, line, ha1: None }
    }

    /// The sealed HA1 sealed again under the keyring's current key; `None` for a deletion or
    /// if it already is.
    fn resealed(&self, keyring: &Keyring) -> Result<Option<Sealed>, SealingError> {
        let Some(sealed) = self.ha1.as_ref().filter(|sealed| sealed.key_id() != Some(keyring.current_id())) else {
            return Ok(None);
        };
        let kind = SecretKind::RegistrarHa1(self.line);
        Ok(Some(keyring.seal(&keyring.open(sealed, &self.mac, kind)?, &self.mac, kind)?))
    }

    /// The HA1 values, opened; `None` for a deletion.
    pub fn open(&self, keyring: &Keyring) -> Result<Option<DigestHa1>, SealingError> {
        let Some(sealed) = &self.ha1 else { return Ok(None) };
        let both = keyring.open(sealed, &self.mac, SecretKind::RegistrarHa1(self.line))?;
        let (md5, sha256) = both.expose().split_once(' ').ok_or(SealingError::Malformed)?;
        Ok(Some(DigestHa1 { realm: self.realm.clone(), md5: md5.to_owned(), sha256: sha256.to_owned() }))
    }
}

/// A row of the registrar outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrarEntry {
    /// The latest change for its user and realm.
    pub change: RegistrarChange,
    /// Increasing with every change queued: the outbox is drained in this order.
    pub seq: u64,
    /// Every registrar has accepted this change.
    pub pushed: bool,
}

impl Credentials {
    /// The realm registrar changes are queued for, if any (see
    /// [`Credentials::with_registrar_realm`]).
    pub fn registrar_realm(&self) -> Option<&str> {
        self.registrar_realm.as_deref()
    }

    /// Seals every HA1 kept for the registrars again under the current key, `batch` rows read
    /// at a time (part of [`Credentials::reseal_all`]); returns how many. A row that changes
    /// meanwhile keeps its newer change.
    pub(crate) fn reseal_registrar(&self, batch: usize) -> Result<usize, CredentialsError> {
        let keyring = self.keyring()?;
        let (mut count, mut after) = (0, None);
        loop {
            let page = self.store.registrar_entries(after, batch.max(1))?;
            let Some(last) = page.last() else { return Ok(count) };
            after = Some((last.change.realm.clone(), last.change.user.clone()));
            for entry in &page {
                let Some(resealed) = entry.change.resealed(&keyring)? else { continue };
                let change = &entry.change;
                count += usize::from(self.store.registrar_reseal(&change.realm, &change.user, entry.seq, resealed)?);
            }
        }
    }

    /// Up to `limit` changes no registrar has been told of yet, oldest first.
    pub fn registrar_pending(&self, limit: usize) -> Result<Vec<RegistrarEntry>, CredentialsError> {
        Ok(self.store.registrar_pending(limit)?)
    }

    /// A change's HA1 values, opened; `None` for a deletion.
    pub fn registrar_ha1(&self, change: &RegistrarChange) -> Result<Option<DigestHa1>, CredentialsError> {
        Ok(change.open(&*self.keyring()?)?)
    }

    /// Records that `registrars` (by name) all accepted `entry`: it leaves the queue, with a
    /// `registrar-pushed` event. Returns `false` if a later change of the same account replaced
    /// it meanwhile (that one is pushed next).
    pub fn registrar_pushed(&self, entry: &RegistrarEntry, registrars: &[&str]) -> Result<bool, CredentialsError> {
        let change = &entry.change;
        let detail = format!(
            "user={} realm={} change={} registrars={}",
            quote(&change.user),
            quote(&change.realm),
            if change.ha1.is_some() { "set" } else { "delete" },
            quote(&registrars.join(","))
        );
        let event = AuditEvent::new(self.clock.now(), change.mac, AuditKind::RegistrarPushed, detail);
        Ok(self.store.registrar_pushed(&change.realm, &change.user, entry.seq, vec![event])?)
    }

    /// Records that `registrar` was rebuilt by a sync: `set` HA1 values written, `deleted`
    /// users removed.
    pub fn registrar_synced(&self, registrar: &str, set: usize, deleted: usize) -> Result<(), CredentialsError> {
        let detail = format!("sync=yes registrar={} set={set} deleted={deleted}", quote(registrar));
        let event = AuditEvent::without_device(self.clock.now(), AuditKind::RegistrarPushed, detail);
        Ok(self.store.append_audit(vec![event])?)
    }

    /// Records that `registrar` did not take `entry` (it stays queued), with a
    /// `registrar-failed` event naming `reason`.
    pub fn registrar_failed(
        &self,
        entry: &RegistrarEntry,
        registrar: &str,
        reason: &str,
    ) -> Result<(), CredentialsError> {
        let change = &entry.change;
        let detail = format!(
            "user={} realm={} registrar={} reason={}",
            quote(&change.user),
            quote(&change.realm),
            quote(registrar),
            quote(reason)
        );
        let event = AuditEvent::new(self.clock.now(), change.mac, AuditKind::RegistrarFailed, detail);
        Ok(self.store.append_audit(vec![event])?)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn the_sealed_ha1_opens_for_its_device_and_line_only() {
        let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
        let mac: Mac = "00:15:65:00:00:01".parse().unwrap();
        let password = Password::from_string("Circle Of Life".into());
        let change = RegistrarChange::set(&keyring, mac, 2, "Mufasa", "testrealm@host.com", &password).unwrap();
        let ha1 = change.open(&keyring).unwrap().unwrap();
        assert_eq!(ha1.md5, "939e7578ed9e3c518a452acee763bce9", "RFC 2617's example");
        assert_eq!(ha1, DigestHa1::compute("Mufasa", "testrealm@host.com", &password));
        let moved = RegistrarChange { line: 1, ..change.clone() };
        assert!(moved.open(&keyring).is_err(), "sealed for line 2");
        let other = RegistrarChange { mac: "00:15:65:00:00:02".parse().unwrap(), ..change };
        assert!(other.open(&keyring).is_err(), "sealed for its device");
        assert_eq!(RegistrarChange::delete(mac, 1, "u", "r").open(&keyring).unwrap(), None);
    }
}
