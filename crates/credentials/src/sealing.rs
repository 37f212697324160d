//! Sealing secrets at rest: AES-256-GCM under a key kept outside the database.
//!
//! A stolen database or backup holds only ciphertext. Each ciphertext names the key that sealed
//! it (a key id), so keys can be rotated: add a new key as the first line of the key file, reseal
//! every device ([`crate::Credentials::reseal_all`]), then drop the old key. The associated data
//! binds each ciphertext to its device and purpose, so a ciphertext copied onto another device
//! row, or from the SIP to the admin field, does not open.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use sipprov_identity::Mac;
use zeroize::Zeroizing;

use crate::Password;
use crate::secret::random;

const FORMAT: &[u8; 2] = b"s1";
const KEY_LEN: usize = 32;

/// What a sealed secret is for: part of the associated data, with the device's MAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// The SIP digest password of the account on this line: a password sealed for one line
    /// does not open as another's.
    SipPassword(u16),
    /// The phone's web-UI admin password.
    AdminPassword,
    /// The secret a phone without a usable certificate authenticates its fetches with.
    EnrolmentSecret,
    /// The digest HA1 values of the account on this line, kept for the registrar.
    RegistrarHa1(u16),
    /// A softphone portal user's TOTP key (sealed for the user's name, not a MAC).
    PortalTotp,
}

impl SecretKind {
    fn label(self) -> String {
        match self {
            // Line 1 keeps the label of the one-account schema, so its secrets still open.
            SecretKind::SipPassword(1) => "sip-password".into(),
            SecretKind::SipPassword(line) => format!("sip-password-{line}"),
            SecretKind::AdminPassword => "admin-password".into(),
            SecretKind::EnrolmentSecret => "enrolment-secret".into(),
            SecretKind::RegistrarHa1(line) => format!("registrar-ha1-{line}"),
            SecretKind::PortalTotp => "portal-totp".into(),
        }
    }
}

/// A sealed secret as stored: format tag, key id, nonce, ciphertext and tag.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed(Vec<u8>);

impl Sealed {
    /// Wraps stored bytes (validated when opened).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The id of the key that sealed this, if the bytes are well-formed.
    pub fn key_id(&self) -> Option<u32> {
        let id = self.0.get(2..6)?;
        (self.0.starts_with(FORMAT)).then(|| u32::from_be_bytes([id[0], id[1], id[2], id[3]]))
    }
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed(key {:?}, {} bytes)", self.key_id(), self.0.len())
    }
}

struct SealingKey {
    id: u32,
    key: LessSafeKey,
}

/// The sealing keys: the first seals, all of them open.
pub struct Keyring {
    keys: Vec<SealingKey>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u32> = self.keys.iter().map(|k| k.id).collect();
        write!(f, "Keyring(key ids {ids:?}, current {})", self.current_id())
    }
}

impl Keyring {
    /// Reads a key file: lines `key <id> <64 hex digits>`; `#` comments and blank lines ignored.
    /// The first key seals; the others only open what they sealed earlier.
    pub fn parse(text: &str) -> Result<Self, SealingError> {
        let mut keys: Vec<SealingKey> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &'static str| SealingError::KeyFile { line: line_no, reason };
            let mut words = line.split_whitespace();
            if words.next() != Some("key") {
                return Err(bad("expected `key <id> <64 hex digits>`"));
            }
            let id: u32 =
                words.next().and_then(|w| w.parse().ok()).ok_or_else(|| bad("the key id must be a number"))?;
            let hex = words.next().ok_or_else(|| bad("missing key material"))?;
            if words.next().is_some() {
                return Err(bad("unexpected text after the key"));
            }
            let material = decode_hex(hex).ok_or_else(|| bad("the key must be 64 hex digits (32 bytes)"))?;
            if keys.iter().any(|k| k.id == id) {
                return Err(bad("duplicate key id"));
            }
            keys.push(SealingKey { id, key: aes_key(&material)? });
        }
        if keys.is_empty() {
            return Err(SealingError::KeyFile { line: 0, reason: "no key in the file" });
        }
        Ok(Self { keys })
    }

    /// A new key file's text holding one fresh random key with `id`, followed by the keys of
    /// `previous` (so what they sealed still opens). Write it with mode 0600, outside the
    /// database's directory and backups.
    pub fn generate_file(id: u32, previous: Option<&str>) -> Result<String, SealingError> {
        let mut material = Zeroizing::new([0u8; KEY_LEN]);
        random(&mut material[..]).map_err(|e| SealingError::Rng(e.to_string()))?;
        let hex = Zeroizing::new(hex::encode(&material[..]));
        let mut text = String::from(
            "# sipprov sealing keys. Keep this file outside the database and its backups (mode 0600).\n\
             # The first key seals new secrets; later keys only open what they sealed before.\n",
        );
        text.push_str(&format!("key {id} {}\n", hex.as_str()));
        if let Some(previous) = previous {
            let old = Self::parse(previous)?;
            if old.keys.iter().any(|k| k.id == id) {
                return Err(SealingError::KeyFile { line: 0, reason: "the new key id is already in use" });
            }
            text.extend(previous.lines().filter(|l| l.trim_start().starts_with("key ")).map(|l| format!("{l}\n")));
        }
        Ok(text)
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> u32 {
        self.keys.first().map_or(0, |k| k.id)
    }

    /// Seals `secret` for device `mac`.
    pub fn seal(&self, secret: &Password, mac: &Mac, kind: SecretKind) -> Result<Sealed, SealingError> {
        self.seal_bound(secret, aad(mac, kind))
    }

    /// Seals a secret that belongs to a named subject (a portal user) rather than a device: it
    /// opens only with [`Keyring::open_for`] for the same name and kind.
    pub fn seal_for(&self, secret: &Password, name: &str, kind: SecretKind) -> Result<Sealed, SealingError> {
        self.seal_bound(secret, named_aad(name, kind))
    }

    /// Opens what [`Keyring::seal_for`] sealed for the same name and kind.
    pub fn open_for(&self, sealed: &Sealed, name: &str, kind: SecretKind) -> Result<Password, SealingError> {
        self.open_bound(sealed, named_aad(name, kind))
    }

    fn seal_bound(&self, secret: &Password, aad: Vec<u8>) -> Result<Sealed, SealingError> {
        let key = self.keys.first().ok_or(SealingError::KeyFile { line: 0, reason: "no key in the file" })?;
        let mut nonce = [0u8; NONCE_LEN];
        random(&mut nonce).map_err(|e| SealingError::Rng(e.to_string()))?;
        let mut in_out = secret.expose().as_bytes().to_vec();
        key.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| SealingError::Crypto)?;
        let mut out = Vec::with_capacity(2 + 4 + NONCE_LEN + in_out.len());
        out.extend_from_slice(FORMAT);
        out.extend_from_slice(&key.id.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&in_out);
        Ok(Sealed(out))
    }

    /// Opens what [`Keyring::seal`] sealed for the same device and kind.
    pub fn open(&self, sealed: &Sealed, mac: &Mac, kind: SecretKind) -> Result<Password, SealingError> {
        self.open_bound(sealed, aad(mac, kind))
    }

    fn open_bound(&self, sealed: &Sealed, aad: Vec<u8>) -> Result<Password, SealingError> {
        let id = sealed.key_id().ok_or(SealingError::Malformed)?;
        let key = self.keys.iter().find(|k| k.id == id).ok_or(SealingError::UnknownKey(id))?;
        let nonce: [u8; NONCE_LEN] =
            sealed.0.get(6..6 + NONCE_LEN).and_then(|n| n.try_into().ok()).ok_or(SealingError::Malformed)?;
        let mut in_out = Zeroizing::new(sealed.0[6 + NONCE_LEN..].to_vec());
        let plaintext = key
            .key
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), &mut in_out)
            .map_err(|_| SealingError::Tampered)?;
        let text = std::str::from_utf8(plaintext).map_err(|_| SealingError::Malformed)?;
        Ok(Password::from_string(text.to_owned()))
    }
}

fn aad(mac: &Mac, kind: SecretKind) -> Vec<u8> {
    format!("sipprov/v1/{}/{mac}", kind.label()).into_bytes()
}

/// A MAC is 12 hex digits, so `user:` keeps a name from ever meaning a device.
fn named_aad(name: &str, kind: SecretKind) -> Vec<u8> {
    format!("sipprov/v1/{}/user:{name}", kind.label()).into_bytes()
}

fn aes_key(material: &[u8]) -> Result<LessSafeKey, SealingError> {
    Ok(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, material).map_err(|_| SealingError::Crypto)?))
}

fn decode_hex(hex: &str) -> Option<Zeroizing<Vec<u8>>> {
    let bytes = Zeroizing::new(hex::decode(hex).ok()?);
    (bytes.len() == KEY_LEN).then_some(bytes)
}

/// Sealing or opening failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealingError {
    /// The key file is unusable.
    #[error("sealing key file, line {line}: {reason}")]
    KeyFile {
        /// The 1-based line, or 0 for the file as a whole.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A ciphertext names a key the key file does not hold.
    #[error("sealed with key {0}, which the key file does not hold")]
    UnknownKey(u32),
    /// The ciphertext does not open: wrong key, another device's secret, or altered bytes.
    #[error("sealed secret does not open: altered, or sealed for another device")]
    Tampered,
    /// The stored bytes are not a sealed secret.
    #[error("stored secret is not in the sealed format")]
    Malformed,
    /// The crypto library refused an operation.
    #[error("the AEAD operation failed")]
    Crypto,
    /// The RNG failed.
    #[error("the operating system RNG failed: {0}")]
    Rng(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(n: u8) -> Mac {
        Mac::from_bytes([0, 0x15, 0x65, 0, 0, n])
    }

    fn keyring(id: u32) -> Keyring {
        Keyring::parse(&Keyring::generate_file(id, None).unwrap()).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_for_their_device_and_kind() {
        let keys = keyring(1);
        let secret = Password::from_string("Zx9w4LqT2mNvB8rKcY3hJ6".into());
        let sealed = keys.seal(&secret, &mac(1), SecretKind::SipPassword(1)).unwrap();
        assert_eq!(sealed.key_id(), Some(1));
        assert!(!sealed.as_bytes().windows(secret.expose().len()).any(|w| w == secret.expose().as_bytes()));
        assert_eq!(keys.open(&sealed, &mac(1), SecretKind::SipPassword(1)).unwrap(), secret);
        assert_eq!(keys.open(&sealed, &mac(2), SecretKind::SipPassword(1)), Err(SealingError::Tampered));
        assert_eq!(keys.open(&sealed, &mac(1), SecretKind::AdminPassword), Err(SealingError::Tampered));
        assert_eq!(keys.open(&sealed, &mac(1), SecretKind::SipPassword(2)), Err(SealingError::Tampered));
        let line_2 = keys.seal(&secret, &mac(1), SecretKind::SipPassword(2)).unwrap();
        assert_eq!(keys.open(&line_2, &mac(1), SecretKind::SipPassword(2)).unwrap(), secret);
        assert_eq!(keys.open(&line_2, &mac(1), SecretKind::SipPassword(1)), Err(SealingError::Tampered));
        let mut altered = sealed.as_bytes().to_vec();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(
            keys.open(&Sealed::from_bytes(altered), &mac(1), SecretKind::SipPassword(1)),
            Err(SealingError::Tampered)
        );
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let keys = keyring(1);
        let secret = Password::from_string("same".into());
        let a = keys.seal(&secret, &mac(1), SecretKind::SipPassword(1)).unwrap();
        let b = keys.seal(&secret, &mac(1), SecretKind::SipPassword(1)).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rotation_keeps_old_ciphertexts_readable_and_seals_with_the_new_key() {
        let old_text = Keyring::generate_file(1, None).unwrap();
        let old = Keyring::parse(&old_text).unwrap();
        let secret = Password::from_string("rotate-me".into());
        let sealed_old = old.seal(&secret, &mac(1), SecretKind::SipPassword(1)).unwrap();
        let new = Keyring::parse(&Keyring::generate_file(2, Some(&old_text)).unwrap()).unwrap();
        assert_eq!(new.current_id(), 2);
        assert_eq!(new.open(&sealed_old, &mac(1), SecretKind::SipPassword(1)).unwrap(), secret);
        let sealed_new = new.seal(&secret, &mac(1), SecretKind::SipPassword(1)).unwrap();
        assert_eq!(sealed_new.key_id(), Some(2));
        assert_eq!(old.open(&sealed_new, &mac(1), SecretKind::SipPassword(1)), Err(SealingError::UnknownKey(2)));
        assert!(Keyring::generate_file(1, Some(&old_text)).is_err(), "id reuse refused");
    }

    #[test]
    fn bad_key_files_name_the_line() {
        let hex = "00".repeat(32);
        for (text, line, reason) in [
            ("", 0, "no key in the file"),
            ("# only a comment\n", 0, "no key in the file"),
            ("secret 1 abc", 1, "expected `key <id> <64 hex digits>`"),
            ("\nkey x 00", 2, "the key id must be a number"),
            ("key 1 abcd", 1, "the key must be 64 hex digits (32 bytes)"),
            (&format!("key 1 {hex}\nkey 1 {hex}"), 2, "duplicate key id"),
            (&format!("key 1 {hex} extra"), 1, "unexpected text after the key"),
        ] {
            assert_eq!(Keyring::parse(text).unwrap_err(), SealingError::KeyFile { line, reason }, "{text:?}");
        }
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let text = Keyring::generate_file(7, None).unwrap();
        let keys = Keyring::parse(&text).unwrap();
        let hex = text.lines().find(|l| l.starts_with("key ")).unwrap().split(' ').nth(2).unwrap();
        assert!(!format!("{keys:?}").contains(hex));
        assert_eq!(format!("{keys:?}"), "Keyring(key ids [7], current 7)");
    }
}
