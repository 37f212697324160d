//! The settings of one SIP account, as every vendor's template needs them.

/// One SIP account's settings, without its secret: a line of a phone, a port of an ATA, a
/// handset of a DECT base.
///
/// The password is passed to renderers separately, so that whether it may be delivered is
/// decided by the credential lifecycle, never by the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// Which of the device's lines it is, from 1: the `N` of `account.N.*`, `reg.N.*`, `_N_`.
    pub line: u16,
    /// The SIP user part the phone registers as (the "user name" / "user ID").
    pub user_name: String,
    /// The digest authentication user name, decoupled from any login.
    pub auth_name: String,
    /// The name shown on the phone's screen.
    pub display_name: String,
    /// The registrar (SIP server) host, optionally with `:port`.
    pub registrar: String,
    /// An outbound proxy host (optionally with `:port`) the phone sends everything through.
    pub outbound_proxy: Option<String>,
    /// How the signalling travels; `None` leaves it to the template (the phone's default, or
    /// TLS for softphones).
    pub transport: Option<Transport>,
    /// Whether the media is encrypted, where the vendor has the setting; `None` leaves it as
    /// the phone has it.
    pub srtp: Option<Srtp>,
}

impl AccountSettings {
    /// Line 1 with `user_name`, `auth_name`, `display_name` and `registrar`; no outbound proxy,
    /// transport and SRTP as the template has them.
    pub fn new(
        user_name: impl Into<String>,
        auth_name: impl Into<String>,
        display_name: impl Into<String>,
        registrar: impl Into<String>,
    ) -> Self {
        Self {
            line: 1,
            user_name: user_name.into(),
            auth_name: auth_name.into(),
            display_name: display_name.into(),
            registrar: registrar.into(),
            outbound_proxy: None,
            transport: None,
            srtp: None,
        }
    }
}

/// How an account's signalling travels; templates see `udp`, `tcp` or `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS.
    Tls,
}

impl Transport {
    /// The name templates compare with: `udp`, `tcp`, `tls`.
    pub const fn name(self) -> &'static str {
        match self {
            Transport::Udp => "udp",
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
        }
    }
}

/// Whether an account's media is encrypted; templates see `off`, `optional` or `required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Srtp {
    /// Plain RTP.
    Off,
    /// SRTP offered, plain RTP accepted.
    Optional,
    /// SRTP or no call.
    Required,
}

impl Srtp {
    /// The name templates compare with: `off`, `optional`, `required`.
    pub const fn name(self) -> &'static str {
        match self {
            Srtp::Off => "off",
            Srtp::Optional => "optional",
            Srtp::Required => "required",
        }
    }
}
