//! What a SIP registrar needs to check a phone's digest authentication, without the password:
//! HA1 = H(username ":" realm ":" password) (RFC 2617 for MD5, RFC 8760 for SHA-256).

use md5::Md5;
use sha2::{Digest, Sha256};

use crate::Password;

/// The digest HA1 values of one account, lowercase hex, for loading into a registrar
/// (Kamailio `subscriber.ha1`, Asterisk `md5_cred`, FreeSWITCH `a1-hash`).
///
/// An HA1 is as good as the password at the registrar, for its realm: `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct DigestHa1 {
    /// The realm the hashes are bound to: they verify only challenges for this realm.
    pub realm: String,
    /// HA1 with MD5, the algorithm every registrar and phone supports.
    pub md5: String,
    /// HA1 with SHA-256 (RFC 8760), for registrars that offer it.
    pub sha256: String,
}

impl DigestHa1 {
    /// Computes both HA1 values of `user` in `realm` with `password`.
    pub fn compute(user: &str, realm: &str, password: &Password) -> Self {
        let input = format!("{user}:{realm}:{}", password.expose());
        let ha1 = Self {
            realm: realm.to_owned(),
            md5: hex::encode(Md5::digest(input.as_bytes())),
            sha256: hex::encode(Sha256::digest(input.as_bytes())),
        };
        zeroize::Zeroize::zeroize(&mut input.into_bytes());
        ha1
    }
}

impl std::fmt::Debug for DigestHa1 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestHa1").field("realm", &self.realm).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_2617_example_and_an_independent_sha256() {
        // RFC 2617 section 3.5: Mufasa / testrealm@host.com / Circle Of Life.
        let ha1 =
            DigestHa1::compute("Mufasa", "testrealm@host.com", &Password::from_string("Circle Of Life".to_owned()));
        assert_eq!(ha1.md5, "939e7578ed9e3c518a452acee763bce9");
        // printf 'Mufasa:testrealm@host.com:Circle Of Life' | sha256sum
        assert_eq!(ha1.sha256, "3ba6cd94661c5ef34598040c868f13b8775df29109986be50ad35ae537dd3aa4");
        assert_eq!(ha1.realm, "testrealm@host.com");
        assert!(!format!("{ha1:?}").contains(&ha1.md5), "Debug hides the HA1");
    }
}
