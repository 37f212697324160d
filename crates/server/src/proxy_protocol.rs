//! PROXY protocol version 2: the real client address, from a TCP load balancer in front.
//!
//! A load balancer in TCP pass-through mode keeps mutual TLS end to end, but every connection
//! then comes from the balancer's address: rate limits, bans, logs and the audit trail would all
//! see one client. With PROXY v2 the balancer prefixes each connection with a binary header
//! naming the client. sipprov reads it only from the sources listed in `phones.proxy_from`; from
//! any other source a connection that starts with the header is closed, so a client cannot
//! claim another's address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::TcpStream;

/// The 12 bytes every v2 header starts with.
pub(crate) const SIGNATURE: [u8; 12] = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

/// The longest address block accepted (addresses plus TLVs); balancers send a few dozen bytes.
const MAX_BLOCK: usize = 512;

/// Why a header was refused; the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ProxyError {
    #[error("no PROXY v2 signature")]
    Signature,
    #[error("PROXY version {0} is not 2")]
    Version(u8),
    #[error("unknown PROXY command {0}")]
    Command(u8),
    #[error("PROXY address block of {0} bytes is too long or too short for its family")]
    Length(usize),
    #[error("the connection ended inside the PROXY header")]
    Truncated,
}

/// Reads one v2 header from `stream`: the client's address for a proxied connection (`PROXY`
/// over TCP/IPv4 or IPv6), or `None` for the balancer's own health checks (`LOCAL`) and
/// families that carry no address (the connection's own peer address then stands).
pub(crate) async fn read_header(stream: &mut (impl AsyncRead + Unpin)) -> Result<Option<SocketAddr>, ProxyError> {
    let mut fixed = [0u8; 16];
    stream.read_exact(&mut fixed).await.map_err(|_| ProxyError::Truncated)?;
    if fixed[..12] != SIGNATURE {
        return Err(ProxyError::Signature);
    }
    let (version, command) = (fixed[12] >> 4, fixed[12] & 0x0f);
    if version != 2 {
        return Err(ProxyError::Version(version));
    }
    let length = usize::from(u16::from_be_bytes([fixed[14], fixed[15]]));
    if length > MAX_BLOCK {
        return Err(ProxyError::Length(length));
    }
    let mut block = vec![0u8; length];
    stream.read_exact(&mut block).await.map_err(|_| ProxyError::Truncated)?;
    match command {
        0x0 => return Ok(None), // LOCAL: the balancer speaking for itself
        0x1 => {}
        other => return Err(ProxyError::Command(other)),
    }
    let address = |bytes: &[u8], port: &[u8]| SocketAddr::new(ip_of(bytes), u16::from_be_bytes([port[0], port[1]]));
    // The family/protocol byte: TCP over IPv4 (0x11) or IPv6 (0x21); anything else (UDP, UNIX,
    // UNSPEC) names no TCP client, and the balancer's address stands.
    match fixed[13] {
        0x11 if length >= 12 => Ok(Some(address(&block[0..4], &block[8..10]))),
        0x21 if length >= 36 => Ok(Some(address(&block[0..16], &block[32..34]))),
        0x11 | 0x21 => Err(ProxyError::Length(length)),
        _ => Ok(None),
    }
}

fn ip_of(bytes: &[u8]) -> IpAddr {
    match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        _ => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&bytes[..16]);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    }
}

/// Whether `stream` starts with a PROXY v2 signature, without consuming anything; waits for
/// the first bytes until `deadline` at most.
pub(crate) async fn starts_with_header(stream: &TcpStream, deadline: tokio::time::Instant) -> bool {
    let mut first = [0u8; 12];
    let peeked = tokio::time::timeout_at(deadline, async {
        loop {
            match stream.peek(&mut first).await {
                Ok(n) if n >= 12 || n == 0 => return n,
                Ok(n) if first[..n] != SIGNATURE[..n] => return n,
                Ok(_) => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                Err(_) => return 0,
            }
        }
    })
    .await;
    matches!(peeked, Ok(12)) && first == SIGNATURE
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    fn header(command: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend([0x20 | command, family]);
        bytes.extend(u16::try_from(block.len()).unwrap().to_be_bytes());
        bytes.extend(block);
        bytes
    }

    async fn read(bytes: &[u8]) -> Result<Option<SocketAddr>, ProxyError> {
        read_header(&mut &bytes[..]).await
    }

    #[tokio::test]
    async fn a_proxied_ipv4_or_ipv6_client_is_read_with_its_port() {
        let v4 = [192, 0, 2, 7, 10, 0, 0, 1, 0x1f, 0x90, 0x20, 0xfb];
        assert_eq!(read(&header(1, 0x11, &v4)).await, Ok(Some("192.0.2.7:8080".parse().unwrap())));
        let mut v6 = [0u8; 36];
        v6[..16].copy_from_slice(&"2001:db8::7".parse::<Ipv6Addr>().unwrap().octets());
        v6[32..34].copy_from_slice(&5060u16.to_be_bytes());
        assert_eq!(read(&header(1, 0x21, &v6)).await, Ok(Some("[2001:db8::7]:5060".parse().unwrap())));
        // TLVs after the addresses are skipped.
        let with_tlv = [&v4[..], &[0x04, 0x00, 0x01, 0xff]].concat();
        assert_eq!(read(&header(1, 0x11, &with_tlv)).await, Ok(Some("192.0.2.7:8080".parse().unwrap())));
    }

    #[tokio::test]
    async fn local_and_addressless_headers_leave_the_peer_address() {
        assert_eq!(read(&header(0, 0x00, &[])).await, Ok(None));
        assert_eq!(read(&header(1, 0x00, &[])).await, Ok(None), "UNSPEC");
        assert_eq!(read(&header(1, 0x12, &[0; 12])).await, Ok(None), "UDP names no TCP client");
    }

    #[tokio::test]
    async fn malformed_headers_are_refused() {
        assert_eq!(read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await, Err(ProxyError::Signature));
        let mut v1 = header(1, 0x11, &[0; 12]);
        v1[12] = 0x11;
        assert_eq!(read(&v1).await, Err(ProxyError::Version(1)));
        assert_eq!(read(&header(2, 0x11, &[0; 12])).await, Err(ProxyError::Command(2)));
        assert_eq!(read(&header(1, 0x11, &[0; 8])).await, Err(ProxyError::Length(8)));
        assert_eq!(read(&header(1, 0x11, &[0; 600])).await, Err(ProxyError::Length(600)));
        assert_eq!(read(&header(1, 0x11, &[0; 12])[..20]).await, Err(ProxyError::Truncated));
    }
}
