//! The audit log: paged queries, and the suspicious-activity summary for log review.

use std::collections::BTreeMap;
use std::sync::Arc;

use hyper::StatusCode;
use serde::Serialize;
use sipprov_credentials::{AuditKind, AuditQuery, StoredAuditEvent, detail_value};
use sipprov_identity::Mac;
use sipprov_ratelimit::IpPrefix;

use super::body::{AdminResponse, error, json};
use super::call::{AdminContext, Call, blocking};
use super::model::AuditView;
use super::routes::parse_limit;
use super::time;

pub(super) async fn query(context: &AdminContext, call: Call) -> AdminResponse {
    let query = match audit_query(&call) {
        Ok(query) => query,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let credentials = Arc::clone(&context.state.credentials);
    let (limit, newest_first) = (query.limit, query.newest_first);
    match blocking(move || Ok(credentials.store().audit(&query)?)).await {
        Ok(events) => {
            // The cursor for the next page: `after` oldest first, `before` newest first.
            let next = (events.len() == limit).then(|| events.last().map(|e| e.id)).flatten();
            let views: Vec<AuditView> = events.iter().map(AuditView::from).collect();
            let cursor = if newest_first { "next_before" } else { "next_after" };
            json(StatusCode::OK, &serde_json::json!({ "events": views, cursor: next }))
        }
        Err(response) => response,
    }
}

fn audit_query(call: &Call) -> Result<AuditQuery, String> {
    let now = time::now();
    let mut query = AuditQuery::default();
    for (name, value) in &call.query {
        match name.as_str() {
            "mac" => query.mac = Some(Mac::parse(value).map_err(|e| format!("mac: {}", e.reason()))?),
            "kind" => query.kind = Some(value.parse::<AuditKind>()?),
            "since" => query.since = Some(time::parse(value, now)?),
            "until" => query.until = Some(time::parse(value, now)?),
            "after" => query.after_id = Some(value.parse().map_err(|_| format!("after {value:?} is not an event id"))?),
            "before" => {
                query.before_id = Some(value.parse().map_err(|_| format!("before {value:?} is not an event id"))?);
            }
            "order" => {
                query.newest_first = match value.as_str() {
                    "oldest" => false,
                    "newest" => true,
                    other => return Err(format!("order {other:?} is not oldest or newest")),
                };
            }
            "limit" => query.limit = parse_limit(value)?,
            other => return Err(format!("unknown query parameter {other:?}")),
        }
    }
    Ok(query)
}

/// Events read for one summary at most; a longer period is summarised from its first events.
const SUMMARY_EVENTS: usize = 200_000;
/// Entries per top list.
const TOP: usize = 10;

/// What a reviewer looks at first.
#[derive(Debug, Default, Serialize)]
struct Suspicious {
    since: String,
    events_read: usize,
    truncated: bool,
    /// Banned sources (an IPv4 address, an IPv6 /64) with how often and the last reason.
    top_scanning_addresses: Vec<Counted>,
    /// Banned networks (an IPv4 /24, an IPv6 /48, or wider).
    top_scanning_networks: Vec<Counted>,
    /// Alerts: a certificate with another key claimed a pinned device.
    key_pin_alerts: Vec<Counted>,
    /// Alerts: devices that asked for other devices' files, with the last file asked for.
    mac_mismatches: Vec<Counted>,
    /// Enrolled devices refused (disabled, dormant).
    refused_devices: Vec<Counted>,
    /// Addresses presenting valid certificates of devices not in the inventory.
    unknown_device_sources: Vec<Counted>,
    /// Softphone portal alerts (a password asked again after its reveal, a used link presented
    /// again, a lockout), by device, user or address, with the last kind.
    portal_alerts: Vec<Counted>,
    bans_lifted: u64,
    /// Counters of this process since it started (not in the audit log: they would let an
    /// attacker fill it).
    since_start: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
struct Counted {
    subject: String,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_reason: Option<String>,
}

pub(super) async fn suspicious(context: &AdminContext, call: Call) -> AdminResponse {
    let since = match time::parse(call.param("since").unwrap_or("24h"), time::now()) {
        Ok(since) => since,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let credentials = Arc::clone(&context.state.credentials);
    let events = blocking(move || {
        let mut events = Vec::new();
        let mut after_id = None;
        loop {
            let query = AuditQuery { since: Some(since), after_id, limit: 1000, ..AuditQuery::default() };
            let page = credentials.store().audit(&query)?;
            let Some(last) = page.last().map(|e| e.id) else { break };
            events.extend(page);
            if events.len() >= SUMMARY_EVENTS {
                break;
            }
            after_id = Some(last);
        }
        Ok(events)
    })
    .await;
    let events = match events {
        Ok(events) => events,
        Err(response) => return response,
    };
    let mut summary = summarise(&events);
    summary.since = time::format(since);
    summary.truncated = events.len() >= SUMMARY_EVENTS;
    let metrics = &context.state.metrics;
    for outcome in
        ["mac_mismatch", "unknown_path", "no_identity", "not_enrolled", "rate_limited", "refused_key_mismatch"]
    {
        summary.since_start.insert(outcome, metrics.requests(outcome));
    }
    use std::sync::atomic::Ordering::Relaxed;
    summary.since_start.insert("handshakes_refused", metrics.handshakes_refused.load(Relaxed));
    summary.since_start.insert("connections_refused", metrics.connections_refused.load(Relaxed));
    summary.since_start.insert("bans", metrics.bans.load(Relaxed));
    json(StatusCode::OK, &summary)
}

fn summarise(events: &[StoredAuditEvent]) -> Suspicious {
    let mut addresses = Tally::default();
    let mut networks = Tally::default();
    let mut key_pins = Tally::default();
    let mut mismatches = Tally::default();
    let mut refused = Tally::default();
    let mut unknown = Tally::default();
    let mut portal = Tally::default();
    let mut summary = Suspicious { events_read: events.len(), ..Suspicious::default() };
    for stored in events {
        let event = &stored.event;
        let mac = || event.mac.map(|mac| mac.to_string()).unwrap_or_default();
        match event.kind {
            AuditKind::Banned => {
                let source = detail_value(&event.detail, "source").unwrap_or_default();
                let reason = detail_value(&event.detail, "reason");
                let tally = if is_network(&source) { &mut networks } else { &mut addresses };
                tally.add(source, reason);
            }
            AuditKind::Unbanned => summary.bans_lifted += 1,
            AuditKind::KeyMismatch => key_pins.add(mac(), None),
            AuditKind::MacMismatch => mismatches.add(mac(), detail_value(&event.detail, "asked")),
            AuditKind::Refused => refused.add(mac(), detail_value(&event.detail, "reason")),
            AuditKind::PendingSeen => unknown.add(detail_value(&event.detail, "peer").unwrap_or_default(), None),
            AuditKind::RevealRepeated | AuditKind::LinkReplayed | AuditKind::LockedOut => {
                let subject = event.mac.map(|mac| mac.to_string()).or_else(|| {
                    detail_value(&event.detail, "user")
                        .or_else(|| detail_value(&event.detail, "source"))
                        .or_else(|| detail_value(&event.detail, "peer"))
                });
                portal.add(subject.unwrap_or_default(), Some(event.kind.name().to_owned()));
            }
            _ => {}
        }
    }
    summary.top_scanning_addresses = addresses.top();
    summary.top_scanning_networks = networks.top();
    summary.key_pin_alerts = key_pins.top();
    summary.mac_mismatches = mismatches.top();
    summary.refused_devices = refused.top();
    summary.unknown_device_sources = unknown.top();
    summary.portal_alerts = portal.top();
    summary
}

/// Whether a ban key is a network rather than one source (an IPv4 address, an IPv6 /64: one
/// LAN, where a host picks its own address).
fn is_network(key: &str) -> bool {
    match key.parse::<IpPrefix>() {
        Ok(prefix) if prefix.network().is_ipv4() => prefix.prefix_len() < 32,
        Ok(prefix) => prefix.prefix_len() < 64,
        Err(_) => false,
    }
}

#[derive(Default)]
struct Tally(BTreeMap<String, (u64, Option<String>)>);

impl Tally {
    fn add(&mut self, subject: String, reason: Option<String>) {
        let entry = self.0.entry(subject).or_default();
        entry.0 += 1;
        if reason.is_some() {
            entry.1 = reason;
        }
    }

    fn top(self) -> Vec<Counted> {
        let mut counted: Vec<Counted> =
            self.0.into_iter().map(|(subject, (count, last_reason))| Counted { subject, count, last_reason }).collect();
        counted.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.subject.cmp(&b.subject)));
        counted.truncate(TOP);
        counted
    }
}

#[cfg(test)]
mod tests {
    use sipprov_credentials::{AuditEvent, Timestamp};

    use super::*;

    fn stored(id: u64, event: AuditEvent) -> StoredAuditEvent {
        StoredAuditEvent { id, event }
    }

    #[test]
    fn the_summary_ranks_what_needs_looking_at() {
        let at = Timestamp::from_unix(1_000);
        let mac: Mac = "001565000001".parse().unwrap_or_else(|_| Mac::from_bytes([0; 6]));
        let ban = |source: &str| {
            AuditEvent::without_device(at, AuditKind::Banned, format!("source=\"{source}\" reason=\"mac-mismatch\""))
        };
        let events = vec![
            stored(1, ban("192.0.2.7")),
            stored(2, ban("192.0.2.7")),
            stored(3, ban("192.0.2.9")),
            stored(4, ban("198.51.100.0/24")),
            stored(8, ban("2001:db8:1:2::/64")),
            stored(9, ban("2001:db8::/48")),
            stored(5, AuditEvent::new(at, mac, AuditKind::KeyMismatch, "peer=\"203.0.113.5\"")),
            stored(6, AuditEvent::new(at, mac, AuditKind::Delivered, "secrets=yes")),
            stored(7, AuditEvent::without_device(at, AuditKind::Unbanned, "source=\"192.0.2.9\"")),
        ];
        let summary = summarise(&events);
        assert_eq!(summary.events_read, 9);
        let addresses: Vec<_> = summary.top_scanning_addresses.iter().map(|c| (c.subject.as_str(), c.count)).collect();
        assert_eq!(addresses, [("192.0.2.7", 2), ("192.0.2.9", 1), ("2001:db8:1:2::/64", 1)]);
        let networks: Vec<_> = summary.top_scanning_networks.iter().map(|c| c.subject.as_str()).collect();
        assert_eq!(networks, ["198.51.100.0/24", "2001:db8::/48"]);
        assert_eq!(summary.top_scanning_addresses[0].last_reason.as_deref(), Some("mac-mismatch"));
        assert_eq!(summary.top_scanning_networks[0].subject, "198.51.100.0/24");
        assert_eq!(summary.key_pin_alerts[0].subject, "001565000001");
        assert_eq!(summary.bans_lifted, 1);
    }
}
