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
    AuditEvent, AuditKind, Clock, DeliverError, Delivery, FetchKind, FetchRequest, SystemClock, quote,
};
use sipprov_identity::{DeviceIdentity, Mac};
use sipprov_serving::{LinkClient, SoftphoneConfig, SoftphoneConfigs};
use sipprov_template::{LinkFormat, Vendor};

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
        let routes = &self.context.routes;
        let credentials = &routes.credentials;
        let Some(device) = credentials.store().device(mac).map_err(|e| e.to_string())? else {
            tracing::info!(%mac, "link for a device no longer enrolled");
            return Ok(None);
        };
        let file = match file {
            Some(name) => match LinkFormat::from_file_name(name) {
                Some(format) => format.file(),
                None => return Ok(None),
            },
            // The device's own: its vendor's device file, or the account file of a softphone
            // that has only one (an `acrobits` or `zoiper` device).
            None => {
                let vendor = device.profile.vendor.as_deref().and_then(|vendor| vendor.parse::<Vendor>().ok());
                let own = vendor.and_then(Vendor::profile).and_then(|profile| profile.device_file());
                let account =
                    || LinkFormat::ALL.into_iter().map(LinkFormat::file).find(|file| Some(file.vendor) == vendor);
                let Some(file) = own.or_else(account) else {
                    tracing::warn!(%mac, "link for a device whose vendor sipprov renders no file for");
                    return Ok(None);
                };
                file
            }
        };
        let minimum = routes.rating_policy.get().map_or(RATING_LINK, |policy| policy.minimum(&device.profile));
        if minimum > RATING_LINK {
            let detail = format!("rating={RATING_LINK} minimum={minimum} via=link peer={}", quote(&client.peer));
            let event = AuditEvent::new(SystemClock.now(), *mac, AuditKind::BelowMinimumRating, detail);
            credentials.store().append_audit(vec![event]).map_err(|e| e.to_string())?;
            return Ok(None);
        }
        let fetch = FetchRequest {
            spki_sha256: [0; 32],
            peer: client.peer.clone(),
            user_agent: client.user_agent.clone(),
            certificate_vendor: None,
            rating: RATING_LINK,
        };
        let identity = DeviceIdentity::without_certificate(*mac, file.vendor.name(), device.profile.model.clone());
        let renderer = snapshot(&self.context.live).renderer.clone();
        let policy = routes.fleet.policy();
        let delivered = credentials.deliver(mac, fetch, FetchKind::Deliver, |accounts, profile, secrets| {
            if secrets.is_none() {
                return Err(NotDelivered::NoPassword);
            }
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
            routes.config.render(&renderer, &identity, file, device).map_err(NotDelivered::Render)
        });
        match delivered {
            Ok(Delivery::Config { body, .. }) => {
                Ok(Some(SoftphoneConfig { body, content_type: file.format.content_type() }))
            }
            Ok(Delivery::Refused(refusal)) => {
                tracing::info!(%mac, ?refusal, "link for a device refused delivery");
                Ok(None)
            }
            Ok(Delivery::NotEnrolled) => Ok(None),
            Err(DeliverError::Render(NotDelivered::NoPassword)) => {
                tracing::info!(%mac, "link for a device whose password was delivered and purged; nothing delivered");
                Ok(None)
            }
            Err(DeliverError::Render(NotDelivered::Render(e))) => Err(format!("the config cannot be rendered: {e}")),
            Err(DeliverError::Credentials(e)) => Err(e.to_string()),
        }
    }
}

/// Why a link's render gave up; nothing is recorded.
enum NotDelivered {
    /// The password was delivered and purged: a config without it is of no use to a softphone.
    NoPassword,
    /// The template failed.
    Render(String),
}
