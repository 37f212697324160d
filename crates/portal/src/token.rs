//! Random tokens for cookies and forms: 256 bits from the operating system, URL-safe base64,
//! kept server-side only as a SHA-256.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A fresh token, or `None` if the operating system's RNG failed.
pub(crate) fn fresh() -> Option<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).ok()?;
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What a token is kept under.
pub(crate) fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Whether two tokens are equal, in time that does not depend on where they differ.
pub(crate) fn same(a: &str, b: &str) -> bool {
    let (a, b) = (hash(a), hash(b));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
