//! What a phone request's log line says about its connection: the TLS version, and the serial
//! number of the certificate the client presented, so an auditor can tie the line to one
//! certificate (and to `openssl x509 -serial`).

use rustls::ProtocolVersion;

/// The TLS facts of one connection, read once after its handshake.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsFacts {
    /// `TLSv1.3` or `TLSv1.2`.
    pub(crate) version: &'static str,
    /// The leaf certificate's serial number in hex, if the client presented one.
    pub(crate) certificate_serial: Option<String>,
}

impl TlsFacts {
    /// The facts of a connection at `version` whose client presented a leaf with
    /// `certificate_serial` (as its verifier read it).
    pub(crate) fn of(version: Option<ProtocolVersion>, certificate_serial: Option<String>) -> Self {
        let version = match version {
            Some(ProtocolVersion::TLSv1_3) => "TLSv1.3",
            Some(ProtocolVersion::TLSv1_2) => "TLSv1.2",
            _ => "-",
        };
        Self { version, certificate_serial }
    }
}
