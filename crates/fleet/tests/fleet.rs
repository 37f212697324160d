//! The fleet service over a store: the catalogue, targets, image files and reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: failing loudly is the point

use std::sync::Arc;

use sipprov_credentials::{
    Account, AuditKind, AuditQuery, Clock, Credentials, DeviceProfile, FetchKind, FetchRequest, Keyring, Lifecycle,
    ManualClock, MemoryStore, Store, Timestamp,
};
use sipprov_fleet::report::{firmware_report, mismatch_report, stale_report, summary};
use sipprov_fleet::{Fleet, FleetError, ImageFiles, ImageInfo, Rollout, Scope, Target, read_facts};
use sipprov_identity::Mac;

struct World {
    store: Arc<MemoryStore>,
    clock: Arc<ManualClock>,
    credentials: Credentials,
    fleet: Fleet,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let store = Arc::new(MemoryStore::default());
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_000)));
    let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
    let lifecycle = Lifecycle::new(std::time::Duration::from_secs(300), std::time::Duration::from_secs(14 * 86_400));
    let credentials = Credentials::new(store.clone(), lifecycle, Some(keyring), clock.clone());
    let dir = tempfile::tempdir().unwrap();
    let fleet = Fleet::open(store.clone(), clock.clone(), Some(ImageFiles::new(dir.path(), 1 << 20))).unwrap();
    World { store, clock, credentials, fleet, _dir: dir }
}

fn mac(n: u16) -> Mac {
    let [high, low] = n.to_be_bytes();
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, high, low])
}

fn info(version: &str) -> ImageInfo {
    ImageInfo {
        vendor: "yealink".into(),
        models: vec!["T54W".into()],
        version: version.into(),
        name: format!("T54W-{version}.rom"),
    }
}

fn add(world: &World, version: &str, bytes: &[u8]) -> String {
    let mut upload = world.fleet.upload().unwrap();
    upload.write(bytes).unwrap();
    world.fleet.register(upload, info(version), "token:ops").unwrap().0.sha256
}

fn target(version: &str, scope: Scope, rollout: Rollout) -> Target {
    Target { vendor: "yealink".into(), model: "T54W".into(), scope, version: version.into(), rollout, set_at: 0 }
}

impl World {
    fn enrol(&self, n: u16, site: Option<&str>) {
        let profile = DeviceProfile {
            vendor: Some("yealink".into()),
            model: Some("T54W".into()),
            site: site.map(str::to_owned),
            ..DeviceProfile::default()
        };
        self.credentials
            .enrol_with_profile(mac(n), vec![Account::new(1, "1001", "sp-1001", "Desk")], profile, Vec::new(), "test")
            .unwrap();
    }

    /// A fetch of the device's config with this User-Agent, flushed as the server does.
    fn poll(&self, n: u16, user_agent: &str) {
        let request = FetchRequest {
            spki_sha256: [n as u8; 32],
            peer: "192.0.2.7".into(),
            user_agent: Some(user_agent.into()),
            certificate_vendor: Some("yealink"),
            rating: 5,
        };
        let decision = self.credentials.decide(&mac(n), request, FetchKind::Deliver).unwrap();
        self.credentials.commit(decision).unwrap();
        self.credentials.flush_sightings(read_facts).unwrap();
    }

    fn kinds(&self) -> Vec<AuditKind> {
        let query = AuditQuery { limit: usize::MAX, ..AuditQuery::default() };
        self.store.audit(&query).unwrap().into_iter().map(|e| e.event.kind).collect()
    }
}

#[test]
fn the_compliance_report_lists_exactly_the_laggards_until_they_upgrade() {
    let world = world();
    add(&world, "96.85.0.5", b"old image");
    add(&world, "96.86.0.100", b"new image");
    world.fleet.set_target(target("96.86.0.100", Scope::Everywhere, Rollout::Everyone), "token:ops").unwrap();
    for n in 1..=4 {
        world.enrol(n, None);
    }
    world.poll(1, "Yealink SIP-T54W 96.85.0.5 00:15:65:00:00:01");
    world.poll(2, "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:02");
    world.poll(3, "Yealink SIP-T54W 96.85.0.5 00:15:65:00:00:03");
    world.clock.advance(std::time::Duration::from_secs(3_600));
    let policy = world.fleet.policy();
    let report = firmware_report(&*world.store, &policy, world.clock.now(), None, 100).unwrap();
    let laggards: Vec<&str> = report.laggards.iter().map(|l| l.mac.as_str()).collect();
    assert_eq!(laggards, ["001565000001", "001565000003"]);
    assert_eq!((report.compliant, report.behind, report.unreported), (1, 2, 1), "device 4 never reported");
    assert_eq!(report.behind_groups.len(), 1);
    let group = &report.behind_groups[0];
    assert_eq!(
        (group.model.as_str(), group.version.as_str(), group.target.as_str(), group.devices),
        ("T54W", "96.85.0.5", "96.86.0.100", 2)
    );
    assert_eq!(group.longest_behind_seconds, 3_600);

    let page = firmware_report(&*world.store, &policy, world.clock.now(), None, 1).unwrap();
    assert_eq!((page.laggards.len(), page.next_after.as_deref()), (1, Some("001565000001")));
    let rest = firmware_report(&*world.store, &policy, world.clock.now(), Some(mac(1)), 1).unwrap();
    assert_eq!((rest.laggards[0].mac.as_str(), rest.next_after), ("001565000003", None));

    world.poll(1, "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:01");
    let report = firmware_report(&*world.store, &policy, world.clock.now(), None, 100).unwrap();
    assert_eq!(report.laggards.iter().map(|l| l.mac.as_str()).collect::<Vec<_>>(), ["001565000003"]);

    let old = policy.images.iter().find(|i| i.version == "96.85.0.5").unwrap().sha256.clone();
    world.fleet.flag(&old, Some("CVE-2099-0001".into()), "token:ops").unwrap();
    let report = firmware_report(&*world.store, &world.fleet.policy(), world.clock.now(), None, 100).unwrap();
    assert_eq!(report.on_flagged.len(), 1);
    assert_eq!(
        (report.on_flagged[0].version.as_str(), report.on_flagged[0].reason.as_str(), report.on_flagged[0].devices),
        ("96.85.0.5", "CVE-2099-0001", 1)
    );
    let figures = summary(&*world.store, &world.fleet.policy(), world.clock.now(), 7).unwrap();
    assert_eq!((figures.devices, figures.compliant, figures.behind, figures.on_flagged), (4, 2, 1, 1));
    assert_eq!((figures.never_seen, figures.ratings.get(&5).copied()), (1, Some(3)));
}

#[test]
fn a_device_beats_its_site_which_beats_everywhere_and_a_staged_rollout_falls_through() {
    let world = world();
    for version in ["1.0", "2.0", "3.0"] {
        add(&world, version, version.as_bytes());
    }
    world.fleet.set_target(target("1.0", Scope::Everywhere, Rollout::Everyone), "t").unwrap();
    world.fleet.set_target(target("2.0", Scope::Site("hq".into()), Rollout::Everyone), "t").unwrap();
    world.fleet.set_target(target("3.0", Scope::Device("00-15-65-00-00-07".into()), Rollout::Everyone), "t").unwrap();
    let policy = world.fleet.policy();
    let version = |n, site| {
        let key = sipprov_fleet::DeviceKey { mac: mac(n), vendor: "yealink", model: Some("t54w"), site };
        policy.resolve(key).map(|r| r.target.version.clone())
    };
    assert_eq!(version(1, None).as_deref(), Some("1.0"));
    assert_eq!(version(1, Some("hq")).as_deref(), Some("2.0"));
    assert_eq!(version(7, Some("hq")).as_deref(), Some("3.0"), "the MAC was stored canonical");

    world
        .fleet
        .set_target(target("3.0", Scope::Site("hq".into()), Rollout::Devices(vec!["001565000002".into()])), "t")
        .unwrap();
    let policy = world.fleet.policy();
    let version = |n| {
        let key = sipprov_fleet::DeviceKey { mac: mac(n), vendor: "yealink", model: Some("T54W"), site: Some("hq") };
        policy.resolve(key).map(|r| r.target.version.clone())
    };
    assert_eq!(version(2).as_deref(), Some("3.0"));
    assert_eq!(version(3).as_deref(), Some("1.0"), "not reached yet: the next target applies");
    let targets = &policy.targets;
    assert_eq!(targets.len(), 3, "a target replaces the one of its vendor, model and scope: {targets:?}");
}

#[test]
fn the_catalogue_refuses_what_would_break_it_and_changes_are_audited() {
    let world = world();
    let sha = add(&world, "1.0", b"one");
    let unknown = world.fleet.set_target(target("9.9", Scope::Everywhere, Rollout::Everyone), "t");
    assert!(matches!(unknown, Err(FleetError::Invalid(_))), "{unknown:?}");
    let share = world.fleet.set_target(target("1.0", Scope::Everywhere, Rollout::Percent(100)), "t");
    assert!(matches!(share, Err(FleetError::Invalid(_))), "{share:?}");
    world.fleet.set_target(target("1.0", Scope::Everywhere, Rollout::Everyone), "t").unwrap();
    assert!(matches!(world.fleet.remove(&sha, "t"), Err(FleetError::Conflict(_))), "a targeted image stays");

    let mut other = world.fleet.upload().unwrap();
    other.write(b"other bytes, same version").unwrap();
    assert!(matches!(world.fleet.register(other, info("1.0"), "t"), Err(FleetError::Conflict(_))));
    let mut again = world.fleet.upload().unwrap();
    again.write(b"one").unwrap();
    let (image, added) = world.fleet.register(again, info("1.0"), "t").unwrap();
    assert_eq!((image.sha256.as_str(), added), (sha.as_str(), false), "the same image again changes nothing");
    let files = std::fs::read_dir(world._dir.path().join("sha256")).unwrap().count();
    assert_eq!(files, 1, "the refused upload left no file");
    let incoming = std::fs::read_dir(world._dir.path().join(".incoming")).unwrap().count();
    assert_eq!(incoming, 0);

    let mut big = world.fleet.upload().unwrap();
    assert!(matches!(big.write(&vec![0; (1 << 20) + 1]), Err(FleetError::TooLarge(_))));
    drop(big);
    assert_eq!(std::fs::read_dir(world._dir.path().join(".incoming")).unwrap().count(), 0, "nothing of it stays");

    world.fleet.clear_target("yealink", "T54W", &Scope::Everywhere, "t").unwrap();
    world.fleet.remove(&sha, "t").unwrap();
    assert!(!world._dir.path().join("sha256").join(&sha).exists(), "its file is gone");
    assert_eq!(
        world.kinds(),
        [AuditKind::FirmwareAdded, AuditKind::FirmwareTarget, AuditKind::FirmwareTarget, AuditKind::FirmwareRemoved]
    );
}

#[test]
fn an_image_changed_on_disk_is_refused_and_alerted_once() {
    let world = world();
    let sha = add(&world, "1.0", b"genuine image");
    let image = world.fleet.policy().image(&sha).cloned().unwrap();
    let (mut file, size) = world.fleet.open_image(&image).unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut file, &mut bytes).unwrap();
    assert_eq!((bytes.as_slice(), size), (&b"genuine image"[..], 13));

    let path = world._dir.path().join("sha256").join(&sha);
    std::fs::write(&path, b"evil!! image").unwrap();
    assert!(world.fleet.open_image(&image).is_none());
    assert!(world.fleet.open_image(&image).is_none());
    assert_eq!(world.kinds().iter().filter(|k| **k == AuditKind::FirmwareAltered).count(), 1, "one alert per change");
    assert!(AuditKind::FirmwareAltered.is_alert());

    std::fs::write(&path, b"genuine image").unwrap();
    assert!(world.fleet.open_image(&image).is_some(), "the restored file is served again");
    world.fleet.flag(&sha, Some("CVE".into()), "t").unwrap();
    let flagged = world.fleet.policy().image(&sha).cloned().unwrap();
    assert!(world.fleet.open_image(&flagged).is_none(), "a flagged image is not served");
}

#[test]
fn two_nodes_on_one_store_never_overwrite_each_other() {
    let world = world();
    let dir = tempfile::tempdir().unwrap();
    let other =
        Fleet::open(world.store.clone(), world.clock.clone(), Some(ImageFiles::new(dir.path(), 1 << 20))).unwrap();
    add(&world, "1.0", b"one");
    let mut upload = other.upload().unwrap();
    upload.write(b"two").unwrap();
    other.register(upload, info("2.0"), "t").unwrap();
    let versions: Vec<String> = other.policy().images.iter().map(|i| i.version.clone()).collect();
    assert_eq!(versions, ["1.0", "2.0"], "the second node read the first's change before writing its own");
    assert_eq!(world.fleet.policy().images.len(), 1, "until it refreshes, a node serves what it read");
    world.fleet.refresh().unwrap();
    assert_eq!(world.fleet.policy().images.len(), 2);
}

#[test]
fn stale_and_contradicting_devices_are_listed() {
    let world = world();
    for n in 1..=3 {
        world.enrol(n, None);
    }
    world.poll(1, "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:01");
    world.poll(2, "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:99");
    world.clock.advance(std::time::Duration::from_secs(10 * 86_400));
    world.poll(1, "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:01");
    let stale = stale_report(&*world.store, world.clock.now(), 7, None, 100).unwrap();
    assert_eq!(stale.devices.iter().map(|d| d.mac.as_str()).collect::<Vec<_>>(), ["001565000002", "001565000003"]);
    assert_eq!((stale.stale, stale.never_seen, stale.dormant), (2, 1, 0));
    let mismatched = mismatch_report(&*world.store, None, 100).unwrap();
    assert_eq!(mismatched.devices.len(), 1);
    assert_eq!(mismatched.devices[0].mismatch.as_deref(), Some("ua_mac=001565000099 certificate_mac=001565000002"));
    assert!(world.kinds().contains(&AuditKind::UaMismatch));
}

#[test]
fn a_ten_percent_rollout_reaches_a_stable_tenth_of_a_thousand_devices() {
    let world = world();
    add(&world, "96.86.0.100", b"new image");
    for n in 1..=1000 {
        world.enrol(n, None);
    }
    for n in 1..=1000u16 {
        let [high, low] = n.to_be_bytes();
        world.poll(n, &format!("Yealink SIP-T54W 96.85.0.5 00:15:65:00:{high:02x}:{low:02x}"));
    }
    world.fleet.set_target(target("96.86.0.100", Scope::Everywhere, Rollout::Percent(10)), "t").unwrap();
    let reached = |world: &World| {
        let report = firmware_report(&*world.store, &world.fleet.policy(), world.clock.now(), None, 1000).unwrap();
        report.laggards.iter().map(|l| l.mac.clone()).collect::<Vec<_>>()
    };
    let first = reached(&world);
    assert!((70..=130).contains(&first.len()), "10 % of 1,000 reached {}", first.len());
    assert_eq!(reached(&world), first, "the same devices every time");
    let other = Fleet::open(world.store.clone(), world.clock.clone(), None).unwrap();
    let from_another_node =
        firmware_report(&*world.store, &other.policy(), world.clock.now(), None, 1000).unwrap().laggards.len();
    assert_eq!(from_another_node, first.len(), "and on every node");
    world.fleet.set_target(target("96.86.0.100", Scope::Everywhere, Rollout::Percent(20)), "t").unwrap();
    let wider = reached(&world);
    assert!(first.iter().all(|mac| wider.contains(mac)), "a wider share keeps the first wave");
    assert!((160..=240).contains(&wider.len()), "20 % reached {}", wider.len());
}
