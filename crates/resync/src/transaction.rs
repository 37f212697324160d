//! One NOTIFY as a non-INVITE client transaction (RFC 3261 17.1.2): sent, retransmitted over
//! UDP (Timer E: T1 doubling to T2, T2 once a provisional response came), given up after
//! Timer F (64 x T1). Only responses with the transaction's branch count.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::message::{MAX_MESSAGE, Notify, Response, frame, parse_response};
use crate::{Proxy, Transport};

/// The transaction timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// T1, the round-trip estimate: 500 ms.
    pub t1: Duration,
    /// T2, the longest retransmission interval: 4 s.
    pub t2: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self { t1: Duration::from_millis(500), t2: Duration::from_secs(4) }
    }
}

impl Timers {
    /// Timer F: how long a transaction waits for its final response.
    pub fn timer_f(&self) -> Duration {
        self.t1 * 64
    }
}

/// A transaction ended without a final response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    /// Timer F fired.
    #[error("no final response within {0:?}")]
    Timeout(Duration),
    /// The proxy could not be reached, or the connection failed.
    #[error("{0}")]
    Transport(String),
}

/// Sends `notify` to `proxy` and waits for its final response.
pub fn send(proxy: &Proxy, notify: &Notify, timers: Timers) -> Result<Response, TransactionError> {
    let deadline = Instant::now() + timers.timer_f();
    let address = (proxy.host.as_str(), proxy.port)
        .to_socket_addrs()
        .map_err(|e| transport(format!("cannot resolve {}: {e}", proxy.address())))?
        .next()
        .ok_or_else(|| transport(format!("{} resolves to no address", proxy.address())))?;
    match proxy.transport {
        Transport::Udp => {
            let unspecified = if address.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
            let socket = UdpSocket::bind(unspecified).map_err(io)?;
            // Connected: datagrams from anyone but the proxy are not even read.
            socket.connect(address).map_err(io)?;
            let local = socket.local_addr().map_err(io)?;
            over_udp(&socket, &notify.to_bytes(&local.to_string()), &notify.branch, timers, deadline)
        }
        Transport::Tcp | Transport::Tls => {
            let left = deadline.saturating_duration_since(Instant::now());
            let tcp =
                TcpStream::connect_timeout(&address, left).map_err(|e| transport(format!("cannot connect: {e}")))?;
            let local = tcp.local_addr().map_err(io)?;
            let bytes = notify.to_bytes(&local.to_string());
            match (&proxy.transport, &proxy.tls) {
                (Transport::Tls, Some(config)) => {
                    let name = rustls_pki_types::ServerName::try_from(proxy.host.clone())
                        .map_err(|e| transport(format!("{}: {e}", proxy.host)))?;
                    let connection = rustls::ClientConnection::new(Arc::clone(config), name).map_err(io)?;
                    let mut stream = rustls::StreamOwned::new(connection, tcp);
                    over_stream(&mut stream, &bytes, &notify.branch, timers, deadline, |stream, timeout| {
                        stream.sock.set_read_timeout(Some(timeout))
                    })
                }
                (Transport::Tls, None) => Err(transport("TLS without a client configuration".into())),
                _ => {
                    let mut stream = tcp;
                    over_stream(&mut stream, &bytes, &notify.branch, timers, deadline, |stream, timeout| {
                        stream.set_read_timeout(Some(timeout))
                    })
                }
            }
        }
    }
}

fn over_udp(
    socket: &UdpSocket,
    request: &[u8],
    branch: &str,
    timers: Timers,
    deadline: Instant,
) -> Result<Response, TransactionError> {
    let (mut interval, mut proceeding) = (timers.t1, false);
    let mut buffer = vec![0u8; MAX_MESSAGE];
    loop {
        socket.send(request).map_err(io)?;
        let retransmit_at = Instant::now() + interval;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Err(TransactionError::Timeout(timers.timer_f()));
            }
            if now >= retransmit_at {
                break;
            }
            socket.set_read_timeout(Some(retransmit_at.min(deadline) - now)).map_err(io)?;
            match socket.recv(&mut buffer) {
                Ok(n) => match parse_response(&buffer[..n]).filter(|response| ours(response, branch)) {
                    Some(response) if response.status >= 200 => return Ok(response),
                    Some(_) => proceeding = true,
                    None => {}
                },
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                // An ICMP unreachable shows as a refused connection: keep trying until Timer F.
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Err(e) => return Err(io(e)),
            }
        }
        interval = if proceeding { timers.t2 } else { (interval * 2).min(timers.t2) };
    }
}

fn over_stream<S: Read + Write>(
    stream: &mut S,
    request: &[u8],
    branch: &str,
    timers: Timers,
    deadline: Instant,
    set_timeout: impl Fn(&mut S, Duration) -> std::io::Result<()>,
) -> Result<Response, TransactionError> {
    stream.write_all(request).and_then(|()| stream.flush()).map_err(io)?;
    let mut received: Vec<u8> = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        // Every complete message received so far.
        while let Some((head, body)) = frame(&received).map_err(transport)? {
            if received.len() < head + body {
                break;
            }
            let message: Vec<u8> = received.drain(..head + body).collect();
            if let Some(response) = parse_response(&message).filter(|response| ours(response, branch))
                && response.status >= 200
            {
                return Ok(response);
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(TransactionError::Timeout(timers.timer_f()));
        }
        set_timeout(stream, left).map_err(io)?;
        match stream.read(&mut buffer) {
            Ok(0) => return Err(transport("the proxy closed the connection".into())),
            Ok(n) => received.extend_from_slice(&buffer[..n]),
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(e) => return Err(io(e)),
        }
    }
}

fn ours(response: &Response, branch: &str) -> bool {
    response.branch.as_deref() == Some(branch) && response.method.as_deref() == Some("NOTIFY")
}

fn io(e: impl std::fmt::Display) -> TransactionError {
    TransactionError::Transport(e.to_string())
}

fn transport(reason: String) -> TransactionError {
    TransactionError::Transport(reason)
}
