//! Softphone configs for one-time provisioning links: the phone plane's side of
//! [`SoftphoneConfigs`], which the portal calls when a softphone presents a link it issued.
//!
//! The config is the device's own file in its vendor's format (or the softphone account format
//! the link's path names: `LinkFormat`), layered and rendered exactly as for a phone's fetch, with the device-layer setting `one_time_link` so the template tells the
//! client not to come back to the link (Linphone: `misc.transient_provisioning`). It is
//! delivered only with the password (a config without it would leave the softphone without its
//! account) and only where the device's rating policy accepts 4.

use std::sync::Arc;

use sipprov_credentials::{
    AuditEvent, AuditKind, Clock, DeliverError, Delivery, DeviceProfile, FetchKind, FetchRequest, SystemClock, quote,
};
use sipprov_identity::{DeviceIdentity, Mac};
use sipprov_serving::{LinkClient, SoftphoneConfig, SoftphoneConfigs};
use sipprov_template::{LinkFormat, ProfileFile, Vendor};

use crate::connection::ConnectionContext;
use crate::live::snapshot;
use crate::routes::DeviceToRender;

/// ITSPA's rating of a fetch through a one-time link: HTTPS and a per-device secret.
const RATING_LINK: u8 = 4;

/// The setting a config delivered through a one-time link is rendered with.
pub const ONE_TIME_LINK_SETTING: &str = "one_time_link";

/// Delivers softphone configs over the phone server's state.
pub(crate) struct LinkConfigs {
    pub(crate) context: Arc<ConnectionContext>,
}

impl SoftphoneConfigs for LinkConfigs {
    fn formats(&self) -> Vec<&'static str> {
        LinkFormat::ALL.into_iter().map(LinkFormat::file_name).collect()
    }

    fn deliver(&self, mac: &Mac, client: &LinkClient, file: Option<&str>) -> Result<Option<SoftphoneConfig>, String> {
        let requested = match file {
            Some(name) => match LinkFormat::from_file_name(name) {
                Some(format) => Some(format.file()),
                None => return Ok(None),
            },
            None => None,
        };
        let routes = &self.context.routes;
        let credentials = &routes.credentials;
        let fetch = FetchRequest {
            spki_sha256: [0; 32],
            peer: client.peer.clone(),
            user_agent: client.user_agent.clone(),
            certificate_vendor: None,
            rating: RATING_LINK,
        };
        let renderer = snapshot(&self.context.live).renderer.clone();
        let policy = routes.fleet.policy();
        // Decided on the device as the delivery reads it: no read of its own.
        let delivered = credentials.deliver(mac, fetch, FetchKind::Deliver, |accounts, profile, secrets| {
            let minimum = routes.rating_policy.get().map_or(RATING_LINK, |policy| policy.minimum(profile));
            if minimum > RATING_LINK {
                return Err(NotDelivered::BelowMinimum(minimum));
            }
            let Some(file) = requested.or_else(|| own_file(profile)) else {
                return Err(NotDelivered::NoFile);
            };
            if secrets.is_none() {
                return Err(NotDelivered::NoPassword);
            }
            let identity = DeviceIdentity::without_certificate(*mac, file.vendor.name(), profile.model.clone());
            let mut profile = profile.clone();
            profile.settings.insert(ONE_TIME_LINK_SETTING.to_owned(), "true".to_owned());
            let device = DeviceToRender {
                accounts,
                profile: &profile,
                secrets,
                user_agent: client.user_agent.as_deref(),
                firmware: &policy,
                provisioning_url: None,
            };
            let body = routes.config.render(&renderer, &identity, file, device).map_err(NotDelivered::Render)?;
            Ok(SoftphoneConfig { body, content_type: file.format.content_type() })
        });
        match delivered {
            Ok(Delivery::Config { body, .. }) => Ok(Some(body)),
            Ok(Delivery::Refused(refusal)) => {
                tracing::info!(%mac, ?refusal, "link for a device refused delivery");
                Ok(None)
            }
            Ok(Delivery::NotEnrolled) => {
                tracing::info!(%mac, "link for a device no longer enrolled");
                Ok(None)
            }
            Err(DeliverError::Render(NotDelivered::BelowMinimum(minimum))) => {
                let detail = format!("rating={RATING_LINK} minimum={minimum} via=link peer={}", quote(&client.peer));
                let event = AuditEvent::new(SystemClock.now(), *mac, AuditKind::BelowMinimumRating, detail);
                credentials.store().append_audit(vec![event]).map_err(|e| e.to_string())?;
                Ok(None)
            }
            Err(DeliverError::Render(NotDelivered::NoFile)) => {
                tracing::warn!(%mac, "link for a device whose vendor sipprov renders no file for");
                Ok(None)
            }
            Err(DeliverError::Render(NotDelivered::NoPassword)) => {
                tracing::info!(%mac, "link for a device whose password was delivered and purged; nothing delivered");
                Ok(None)
            }
            Err(DeliverError::Render(NotDelivered::Render(e))) => Err(format!("the config cannot be rendered: {e}")),
            Err(DeliverError::Credentials(e)) => Err(e.to_string()),
        }
    }
}

/// A device's own file: its vendor's device file, or the account file of a softphone that has
/// only one (an `acrobits` or `zoiper` device).
fn own_file(profile: &DeviceProfile) -> Option<&'static ProfileFile> {
    let vendor = profile.vendor.as_deref().and_then(|vendor| vendor.parse::<Vendor>().ok());
    let own = vendor.and_then(Vendor::profile).and_then(|profile| profile.device_file());
    own.or_else(|| LinkFormat::ALL.into_iter().map(LinkFormat::file).find(|file| Some(file.vendor) == vendor))
}

/// Why a link's render gave up; nothing is recorded.
enum NotDelivered {
    /// The device's rating policy wants more than a link's 4 (audited).
    BelowMinimum(u8),
    /// Its vendor has no file sipprov renders.
    NoFile,
    /// The password was delivered and purged: a config without it is of no use to a softphone.
    NoPassword,
    /// The template failed.
    Render(String),
}
