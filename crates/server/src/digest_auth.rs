//! HTTP Digest (RFC 7616: SHA-256 and MD5, `qop=auth`) and Basic authentication of phones
//! that have no usable certificate, by the enrolment secret the operator gave them. Over TLS
//! only (the `[digest]` listener); ITSPA rating 4.
//!
//! Nonces are random, issued by this node, bound to the address they were issued to and short
//! lived; each remembers the highest nonce count used with it, so a captured `Authorization`
//! header cannot be replayed. They are kept in bounded memory: a flood of challenges evicts old
//! nonces (their phones are challenged again), never grows the table.
//!
//! The header parser is written here: the maintained digest crates are clients (they read
//! challenges and write `Authorization`), not servers.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use md5::Md5;
use sha2::{Digest as _, Sha256};
use sipprov_identity::Mac;
use sipprov_ratelimit::BoundedMap;

/// How long a nonce may be used.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);
/// How many nonces are remembered.
const NONCES: usize = 65_536;
/// The longest `Authorization` header read.
const MAX_HEADER: usize = 2048;

/// A nonce as issued: to whom, when, and the highest count used with it so far.
#[derive(Debug, Clone, Copy)]
struct Issued {
    to: IpAddr,
    at: Instant,
    highest_count: u32,
}

/// The hash of a Digest exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha256,
    Md5,
}

impl Algorithm {
    fn hash(self, text: &str) -> String {
        match self {
            Algorithm::Sha256 => hex::encode(Sha256::digest(text.as_bytes())),
            Algorithm::Md5 => hex::encode(Md5::digest(text.as_bytes())),
        }
    }
}

/// Credentials as a client presented them, parsed but not yet checked against a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Presented {
    /// `Authorization: Digest ...` with a nonce this node issued to this client, unused at
    /// this count.
    Digest(DigestResponse),
    /// `Authorization: Basic ...` (the credentials in a provisioning URL's userinfo).
    Basic { username: String, password: String },
}

impl Presented {
    /// The device the credentials claim to be.
    pub(crate) fn mac(&self) -> Option<Mac> {
        let username = match self {
            Presented::Digest(response) => &response.username,
            Presented::Basic { username, .. } => username,
        };
        Mac::parse(username).ok()
    }

    /// Whether the credentials prove knowledge of `secret` for a request with `method`.
    /// Takes the same time whether they do or not.
    pub(crate) fn proves(&self, secret: &str, realm: &str, method: &str) -> bool {
        match self {
            Presented::Basic { password, .. } => constant_time_eq(password.as_bytes(), secret.as_bytes()),
            Presented::Digest(response) => {
                let hash = |text: &str| response.algorithm.hash(text);
                let ha1 = hash(&format!("{}:{realm}:{secret}", response.username));
                let ha2 = hash(&format!("{method}:{}", response.uri));
                let expected =
                    hash(&format!("{ha1}:{}:{:08x}:{}:auth:{ha2}", response.nonce, response.count, response.cnonce));
                constant_time_eq(expected.as_bytes(), response.response.to_ascii_lowercase().as_bytes())
            }
        }
    }
}

/// The fields of a Digest `Authorization` header sipprov checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DigestResponse {
    username: String,
    nonce: String,
    uri: String,
    algorithm: Algorithm,
    count: u32,
    cnonce: String,
    response: String,
}

/// Why presented credentials were not even worth checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    /// No `Authorization` header: the first request of every exchange.
    Absent,
    /// A header that is not well-formed Digest or Basic, or for another realm or URI.
    Malformed,
    /// A nonce this node did not issue to this client, or too old: challenged again.
    Stale,
    /// A nonce count already used: a replayed header.
    Replayed,
}

/// The authenticator of one listener: its realm and the nonces it issued.
pub(crate) struct DigestAuth {
    realm: String,
    nonces: Mutex<BoundedMap<String, Issued>>,
}

impl DigestAuth {
    pub(crate) fn new(realm: String) -> Self {
        Self { realm, nonces: Mutex::new(BoundedMap::new(NONCES)) }
    }

    pub(crate) fn realm(&self) -> &str {
        &self.realm
    }

    /// A fresh challenge for `client`: the `WWW-Authenticate` values, SHA-256 first (RFC 7616
    /// asks servers to offer the strongest first), then MD5 for the many phones that only
    /// speak it, both with one new nonce.
    pub(crate) fn challenge(&self, client: IpAddr) -> [String; 2] {
        let mut bytes = [0u8; 16];
        // Without randomness there is no nonce worth issuing; an empty one is never accepted.
        let nonce = getrandom::fill(&mut bytes).map(|()| hex::encode(bytes)).unwrap_or_default();
        if !nonce.is_empty() {
            let issued = Issued { to: client, at: Instant::now(), highest_count: 0 };
            self.lock().insert(nonce.clone(), issued);
        }
        let realm = &self.realm;
        ["SHA-256", "MD5"]
            .map(|algorithm| format!(r#"Digest realm="{realm}", qop="auth", algorithm={algorithm}, nonce="{nonce}""#))
    }

    /// Reads the `Authorization` header of a request for `uri` from `client`. A Digest
    /// response's nonce must be one issued to `client`, fresh, and its count higher than any
    /// used with it before: the count is taken now, so the same header never passes twice.
    pub(crate) fn read(&self, header: Option<&[u8]>, uri: &str, client: IpAddr) -> Result<Presented, Unusable> {
        let Some(header) = header else { return Err(Unusable::Absent) };
        if header.len() > MAX_HEADER {
            return Err(Unusable::Malformed);
        }
        let header = std::str::from_utf8(header).map_err(|_| Unusable::Malformed)?;
        let (scheme, rest) = header.trim().split_once(' ').ok_or(Unusable::Malformed)?;
        if scheme.eq_ignore_ascii_case("basic") {
            return read_basic(rest.trim());
        }
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(Unusable::Malformed);
        }
        let response = read_digest(rest, &self.realm, uri)?;
        let mut nonces = self.lock();
        let issued = nonces.get_mut(&response.nonce).ok_or(Unusable::Stale)?;
        if issued.to != client || issued.at.elapsed() > NONCE_LIFETIME {
            return Err(Unusable::Stale);
        }
        if response.count <= issued.highest_count {
            return Err(Unusable::Replayed);
        }
        issued.highest_count = response.count;
        Ok(Presented::Digest(response))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoundedMap<String, Issued>> {
        // Only whole entries are inserted or changed: a poisoned map is still consistent.
        self.nonces.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn read_basic(encoded: &str) -> Result<Presented, Unusable> {
    use base64::Engine as _;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).map_err(|_| Unusable::Malformed)?;
    let text = String::from_utf8(decoded).map_err(|_| Unusable::Malformed)?;
    let (username, password) = text.split_once(':').ok_or(Unusable::Malformed)?;
    Ok(Presented::Basic { username: username.to_owned(), password: password.to_owned() })
}

/// Parses `key=value, key="quoted value", ...` strictly: every field once, known escapes only.
fn read_digest(fields: &str, realm: &str, uri: &str) -> Result<DigestResponse, Unusable> {
    let mut found: Vec<(String, String)> = Vec::new();
    let mut rest = fields.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').ok_or(Unusable::Malformed)?;
        let key = key.trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, after) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err(Unusable::Malformed),
                    Some((_, '\\')) => value.push(chars.next().ok_or(Unusable::Malformed)?.1),
                    Some((at, '"')) => break at + 1,
                    Some((_, c)) => value.push(c),
                }
            };
            (value, &quoted[end..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_owned(), &after[end..])
        };
        if found.iter().any(|(known, _)| *known == key) {
            return Err(Unusable::Malformed);
        }
        found.push((key, value));
        rest = after.trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    let field = |name: &str| found.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    let required = |name: &str| field(name).filter(|value| !value.is_empty()).ok_or(Unusable::Malformed);
    let algorithm = match field("algorithm").map(str::to_ascii_uppercase).as_deref() {
        None | Some("MD5") => Algorithm::Md5,
        Some("SHA-256") => Algorithm::Sha256,
        Some(_) => return Err(Unusable::Malformed),
    };
    if required("realm")? != realm || required("uri")? != uri || required("qop")? != "auth" {
        return Err(Unusable::Malformed);
    }
    let count = required("nc")?;
    if count.len() != 8 {
        return Err(Unusable::Malformed);
    }
    Ok(DigestResponse {
        username: required("username")?.to_owned(),
        nonce: required("nonce")?.to_owned(),
        uri: uri.to_owned(),
        algorithm,
        count: u32::from_str_radix(count, 16).map_err(|_| Unusable::Malformed)?,
        cnonce: required("cnonce")?.to_owned(),
        response: required("response")?.to_owned(),
    })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)] // test code: failing loudly is the point

    use super::*;

    const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    fn nonce_of(challenge: &str) -> String {
        challenge.split("nonce=\"").nth(1).unwrap().trim_end_matches('"').to_owned()
    }

    /// What a client computes (RFC 7616 section 3.4.1), here for the tests.
    fn answer(algorithm: Algorithm, nonce: &str, count: u32, secret: &str, uri: &str) -> String {
        let hash = |text: &str| algorithm.hash(text);
        let ha1 = hash(&format!("001565000001:sipprov:{secret}"));
        let ha2 = hash(&format!("GET:{uri}"));
        let response = hash(&format!("{ha1}:{nonce}:{count:08x}:0a4f113b:auth:{ha2}"));
        let name = if algorithm == Algorithm::Sha256 { "SHA-256" } else { "MD5" };
        format!(
            r#"Digest username="001565000001", realm="sipprov", nonce="{nonce}", uri="{uri}", algorithm={name}, qop=auth, nc={count:08x}, cnonce="0a4f113b", response="{response}""#
        )
    }

    #[test]
    fn a_response_proves_the_secret_once_per_count_and_only_to_its_client() {
        let auth = DigestAuth::new("sipprov".into());
        for algorithm in [Algorithm::Sha256, Algorithm::Md5] {
            let [sha256, md5] = auth.challenge(CLIENT);
            assert!(sha256.contains("algorithm=SHA-256") && md5.contains("algorithm=MD5"));
            let nonce = nonce_of(&sha256);
            assert_eq!(nonce, nonce_of(&md5));
            let header = answer(algorithm, &nonce, 1, "s3cret", "/001565000001.cfg");
            let presented = auth.read(Some(header.as_bytes()), "/001565000001.cfg", CLIENT).unwrap();
            assert_eq!(presented.mac(), "001565000001".parse().ok());
            assert!(presented.proves("s3cret", "sipprov", "GET"));
            assert!(!presented.proves("wrong", "sipprov", "GET"));
            // The same header again: a replay.
            assert_eq!(auth.read(Some(header.as_bytes()), "/001565000001.cfg", CLIENT), Err(Unusable::Replayed));
            // The next count is fine.
            let next = answer(algorithm, &nonce, 2, "s3cret", "/001565000001.cfg");
            assert!(
                auth.read(Some(next.as_bytes()), "/001565000001.cfg", CLIENT)
                    .unwrap()
                    .proves("s3cret", "sipprov", "GET")
            );
            // From another address, or for another URI, or a nonce never issued: not usable.
            let elsewhere: IpAddr = "192.0.2.8".parse().unwrap();
            let third = answer(algorithm, &nonce, 3, "s3cret", "/001565000001.cfg");
            assert_eq!(auth.read(Some(third.as_bytes()), "/001565000001.cfg", elsewhere), Err(Unusable::Stale));
            assert_eq!(auth.read(Some(third.as_bytes()), "/other.cfg", CLIENT), Err(Unusable::Malformed));
            let forged = answer(algorithm, "00112233445566778899aabbccddeeff", 1, "s3cret", "/x.cfg");
            assert_eq!(auth.read(Some(forged.as_bytes()), "/x.cfg", CLIENT), Err(Unusable::Stale));
        }
    }

    #[test]
    fn basic_credentials_and_malformed_headers() {
        let auth = DigestAuth::new("sipprov".into());
        assert_eq!(auth.read(None, "/", CLIENT), Err(Unusable::Absent));
        let basic = format!("Basic {}", {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode("00:15:65:00:00:01:s3cret")
        });
        let presented = auth.read(Some(basic.as_bytes()), "/", CLIENT).unwrap();
        assert_eq!(presented.mac(), None, "the first colon ends the username: this one is no MAC");
        let basic = format!("Basic {}", {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode("001565000001:s3:cret")
        });
        let presented = auth.read(Some(basic.as_bytes()), "/", CLIENT).unwrap();
        assert!(presented.proves("s3:cret", "sipprov", "GET") && !presented.proves("s3", "sipprov", "GET"));
        for bad in [
            "Bearer x",
            "Digest",
            r#"Digest username="a", username="b""#,
            r#"Digest username="001565000001", realm="sipprov", nonce="n", uri="/", qop=auth, nc=1, cnonce="c", response="r""#,
            r#"Digest username="001565000001", realm="other", nonce="n", uri="/", qop=auth, nc=00000001, cnonce="c", response="r""#,
            r#"Digest username="001565000001", realm="sipprov", nonce="n", uri="/", algorithm=SHA-512-256, qop=auth, nc=00000001, cnonce="c", response="r""#,
            r#"Digest username="unclosed"#,
        ] {
            assert_eq!(auth.read(Some(bad.as_bytes()), "/", CLIENT), Err(Unusable::Malformed), "{bad}");
        }
        assert_eq!(auth.read(Some(&[b'x'; MAX_HEADER + 1]), "/", CLIENT), Err(Unusable::Malformed));
    }
}
