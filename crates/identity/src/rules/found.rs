//! What a rule reads from a certificate's subject.

/// What a rule reads from the subject; [`IdentityRule::identify`] adds vendor and key.
pub(super) struct Found {
    pub(super) mac: crate::Mac,
    pub(super) serial: Option<String>,
    pub(super) model: Option<String>,
}

impl Found {
    pub(super) fn mac(mac: crate::Mac) -> Self {
        Self { mac, serial: None, model: None }
    }
}
