//! The secrets a device file may carry, kept apart from settings.

use std::fmt;

/// What the renderer may write into one device file, decided by the credential lifecycle.
///
/// An account whose SIP password is not among `sip_passwords` (delivered and past its grace
/// window, dormant, purged, or another account rotated alone) gets no password key at all,
/// never an empty one, because Yealink, Polycom, Cisco, Snom, Gigaset and Linphone keep the
/// stored value of a key a file does not mention. The admin password of the phone's own web UI
/// and menus is per device and random, and follows the same rule: delivered with the SIP
/// passwords, left out once it may no longer be sent (the phone keeps the one it was given).
/// An engineer who needs it rotates or re-arms the device, which issues a fresh one: a
/// one-time password.
#[derive(Clone, Copy, Default)]
pub struct Secrets<'a> {
    /// The SIP passwords that may be included, by account line.
    pub sip_passwords: &'a [(u16, &'a str)],
    /// The phone's per-device admin password, when it may be included.
    pub admin_password: Option<&'a str>,
}

impl<'a> Secrets<'a> {
    /// The SIP password of `line`, if it may be included.
    pub fn sip_password(&self, line: u16) -> Option<&'a str> {
        self.sip_passwords.iter().find(|(l, _)| *l == line).map(|(_, password)| *password)
    }
}

impl fmt::Debug for Secrets<'_> {
    /// Never shows a secret, only which lines' passwords are included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<u16> = self.sip_passwords.iter().map(|(line, _)| *line).collect();
        f.debug_struct("Secrets")
            .field("sip_passwords_for_lines", &lines)
            .field("admin_password", &self.admin_password.map(|_| "<redacted>"))
            .finish()
    }
}
