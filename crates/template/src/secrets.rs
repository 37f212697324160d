//! The secrets a device file may carry, kept apart from settings.

use std::fmt;

/// What the renderer may write into one device file, decided by the credential lifecycle.
///
/// `sip_password: None` means the password may not be sent (delivered and past its grace
/// window, dormant, purged): the templates then leave the password key out entirely, never
/// write it empty, because Yealink, Polycom, Cisco, Snom, Gigaset and Linphone keep the stored
/// value of a key a file does not mention. The admin password of the phone's own web UI and
/// menus is per device and random, and follows the same rule: delivered with the SIP password,
/// left out once it may no longer be sent (the phone keeps the one it was given). An engineer
/// who needs it rotates or re-arms the device, which issues a fresh one: a one-time password.
#[derive(Clone, Copy)]
pub struct Secrets<'a> {
    /// The SIP password, when it may be included.
    pub sip_password: Option<&'a str>,
    /// The phone's per-device admin password, when it may be included.
    pub admin_password: Option<&'a str>,
}

impl fmt::Debug for Secrets<'_> {
    /// Never shows a secret, only whether the SIP password is included.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("sip_password", &self.sip_password.map(|_| "<redacted>"))
            .field("admin_password", &self.admin_password.map(|_| "<redacted>"))
            .finish()
    }
}
