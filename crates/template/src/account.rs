//! The settings of one SIP account, as every vendor's template needs them.

/// One SIP account's settings, without its secret.
///
/// The password is passed to renderers separately, so that whether it may be delivered is
/// decided by the credential lifecycle, never by the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSettings {
    /// The SIP user part the phone registers as (the "user name" / "user ID").
    pub user_name: String,
    /// The digest authentication user name, decoupled from any login.
    pub auth_name: String,
    /// The name shown on the phone's screen.
    pub display_name: String,
    /// The registrar (SIP server) host, optionally with `:port`.
    pub registrar: String,
}
