//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never in a release build):
//! the phone plane's parsers of outside input, each asserting what must hold of whatever it
//! accepts.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use super::digest_auth::{DigestAuth, Presented, Unusable};
use super::proxy_protocol::{SIGNATURE, read_header};

/// Bytes at the start of a connection from a listed load balancer, read as a PROXY v2 header.
/// A client address comes only from a well-formed `PROXY` command (`0x21`) over TCP.
pub fn proxy_header(bytes: &[u8]) {
    let mut stream = bytes;
    let mut read = pin!(read_header(&mut stream));
    // Reading from a slice never waits: the first poll decides.
    let Poll::Ready(result) = read.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("reading a PROXY header from memory waited");
    };
    if let Ok(Some(_)) = result {
        assert!(bytes.starts_with(&SIGNATURE));
        assert_eq!(bytes[12], 0x21);
        assert!(matches!(bytes[13], 0x11 | 0x21));
    }
}

/// An `Authorization` header on the Digest listener, for `uri`. Nothing this node never issued
/// a nonce for is a usable Digest response; Basic credentials are read as sent.
pub fn authorization(header: &[u8], uri: &str) {
    const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    let auth = DigestAuth::new("prov.example.net".to_owned());
    match auth.read(Some(header), uri, CLIENT) {
        Ok(Presented::Digest(_)) => panic!("a Digest response without an issued nonce was accepted"),
        Ok(presented @ Presented::Basic { .. }) => {
            assert!(header.len() <= 2048);
            // A MAC, when the user name is one, is canonical.
            if let Some(mac) = presented.mac() {
                assert_eq!(mac.to_string().parse().ok(), Some(mac));
            }
        }
        Err(Unusable::Absent) => panic!("a header that is there was read as absent"),
        Err(_) => {}
    }
    // A header that passed once with a fresh nonce cannot pass again: replayed or stale.
    let [challenge, _] = auth.challenge(CLIENT);
    let nonce = challenge.split("nonce=\"").nth(1).map(|n| n.trim_end_matches('"')).unwrap_or_default();
    let text = String::from_utf8_lossy(header).replace("NONCE", nonce);
    if let Ok(Presented::Digest(_)) = auth.read(Some(text.as_bytes()), uri, CLIENT) {
        assert!(auth.read(Some(text.as_bytes()), uri, CLIENT).is_err(), "a Digest header passed twice");
    }
}
