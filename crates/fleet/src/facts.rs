//! What a phone's User-Agent says, read into fleet facts, and where it contradicts the
//! certificate.

use sipprov_credentials::{FleetFacts, Sighting};
use sipprov_template::UserAgent;

/// Reads a sighting's User-Agent into the facts fleet reports use: the vendor (the certificate's,
/// else the User-Agent's), model and firmware (claims), and a contradiction of the certificate: a vendor other than the one the
/// certificate names, or a MAC other than the certificate's. Hand it to
/// [`Credentials::flush_sightings`](sipprov_credentials::Credentials::flush_sightings).
///
/// ```
/// use sipprov_credentials::{FleetFacts, LastSeen, Sighting, Timestamp};
///
/// let mac = "00:15:65:4a:a9:37".parse()?;
/// let seen = |ua: &str| LastSeen { at: Timestamp::from_unix(0), peer: "192.0.2.1".into(), user_agent: Some(ua.into()) };
/// let sighting = |ua| Sighting { mac, seen: seen(ua), certificate_vendor: Some("yealink"), facts: FleetFacts::default() };
///
/// let facts = sipprov_fleet::read_facts(&sighting("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37"));
/// assert_eq!((facts.model.as_deref(), facts.firmware.as_deref()), (Some("T46G"), Some("28.72.0.1")));
/// assert_eq!(facts.mismatch, None);
///
/// let forged = sipprov_fleet::read_facts(&sighting("Yealink SIP-T46G 28.72.0.1 00:15:65:00:00:01"));
/// assert_eq!(forged.mismatch.as_deref(), Some("ua_mac=001565000001 certificate_mac=0015654aa937"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_facts(sighting: &Sighting) -> FleetFacts {
    let Some(user_agent) = sighting.seen.user_agent.as_deref() else { return FleetFacts::default() };
    let ua = UserAgent::parse(user_agent);
    let mut contradictions = Vec::new();
    if let (Some(claimed), Some(certified)) = (ua.vendor, sighting.certificate_vendor)
        && claimed.name() != certified
    {
        contradictions.push(format!("ua_vendor={} certificate_vendor={certified}", claimed.name()));
    }
    if let Some(claimed) = ua.mac
        && claimed != sighting.mac
    {
        contradictions.push(format!("ua_mac={claimed} certificate_mac={}", sighting.mac));
    }
    FleetFacts {
        rating: None,
        // The certificate's word over the User-Agent's: reports pick targets by it, as configs do.
        vendor: sighting.certificate_vendor.map(str::to_owned).or_else(|| ua.vendor.map(|v| v.name().to_owned())),
        model: ua.model,
        firmware: ua.firmware,
        mismatch: (!contradictions.is_empty()).then(|| contradictions.join(" ")),
    }
}
