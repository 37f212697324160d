//! How the portal plane has a softphone's config delivered by the phone plane without either
//! importing the other: the phone plane implements [`SoftphoneConfigs`], the portal calls it.

use sipprov_identity::Mac;

/// Who presented a one-time provisioning link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClient {
    /// The client's address, for the audit trail.
    pub peer: String,
    /// Its User-Agent, if it sent one (a hint, never authorization).
    pub user_agent: Option<String>,
}

/// A softphone's config, rendered for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoftphoneConfig {
    /// The file.
    pub body: String,
    /// Its `Content-Type`.
    pub content_type: &'static str,
}

/// Renders and delivers softphone configs for one-time provisioning links.
pub trait SoftphoneConfigs: Send + Sync {
    /// Delivers `mac`'s config, with its password, to a client that presented a valid
    /// one-time link (ITSPA rating 4: HTTPS and a per-device secret), recorded as a delivery
    /// before it is returned: in the device's own vendor format, or in the softphone account
    /// format the link's path named (`file`, e.g. `zoiper.xml`; see
    /// [`SoftphoneConfigs::formats`]). `Ok(None)`: nothing may be delivered (not enrolled,
    /// disabled, dormant, below its minimum rating, or no password left to deliver), said in
    /// the log and the audit trail. Blocking: call it off the async workers.
    fn deliver(&self, mac: &Mac, client: &LinkClient, file: Option<&str>) -> Result<Option<SoftphoneConfig>, String>;

    /// The file names a link's path may end in to ask for another softphone's account format
    /// (`acrobits.xml`, `zoiper.xml`); none by default.
    fn formats(&self) -> Vec<&'static str> {
        Vec::new()
    }
}
