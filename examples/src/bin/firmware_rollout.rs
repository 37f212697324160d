//! Put a fleet's firmware under central control with `sipprov-fleet` alone: register an image,
//! stage its roll-out to 10 % of a model, see which phones a config would point at it, and read
//! the compliance report from the phones' User-Agents.
//!
//! The store is sipprov's SQLite store (any `sipprov_credentials::Store` works); the phones'
//! fetches are played by the credential service, as the phone listener would record them.
//!
//! ```text
//! cargo run -p sipprov-examples --bin firmware_rollout
//! ```
#![allow(clippy::print_stdout)]

use std::sync::Arc;

use sipprov_credentials::{
    Account, Clock, Credentials, DeviceProfile, FetchKind, FetchRequest, Keyring, Lifecycle, Store, SystemClock,
};
use sipprov_fleet::report::firmware_report;
use sipprov_fleet::{DeviceKey, Fleet, ImageFiles, ImageInfo, Rollout, Scope, Target, read_facts};
use sipprov_identity::Mac;
use sipprov_store_sqlite::SqliteStore;

const PHONES: u16 = 200;

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path().join("fleet.db"))?);
    let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
    let credentials = Credentials::new(Arc::clone(&store), Lifecycle::default(), Some(keyring), Arc::new(SystemClock));
    let images = ImageFiles::new(dir.path().join("firmware"), 64 << 20);
    let fleet = Fleet::open(Arc::clone(&store), Arc::new(SystemClock), Some(images))?;

    // 200 Yealink T54W phones, all running 96.85.0.5, each polling once.
    let macs: Vec<Mac> =
        (1..=PHONES).map(|n| Mac::from_bytes([0x00, 0x15, 0x65, 0x01, (n >> 8) as u8, n as u8])).collect();
    for mac in &macs {
        let profile =
            DeviceProfile { vendor: Some("yealink".into()), model: Some("T54W".into()), ..DeviceProfile::default() };
        let account = Account::new(1, "1001", format!("sp-{mac}"), "Desk");
        credentials.enrol_with_profile(*mac, vec![account], profile, Vec::new(), "example")?;
        poll(&credentials, *mac, "96.85.0.5")?;
    }
    credentials.flush_sightings(read_facts)?;

    // Register the new image (streamed and hashed), then stage it: 10 % first.
    let mut upload = fleet.upload()?;
    upload.write(b"the T54W firmware image, version 96.86.0.100")?;
    let info = ImageInfo {
        vendor: "yealink".into(),
        models: vec!["T54W".into()],
        version: "96.86.0.100".into(),
        name: "T54W-96.86.0.100.rom".into(),
    };
    let (image, _) = fleet.register(upload, info, "example")?;
    println!("registered {} {} as sha256 {}", image.vendor, image.version, &image.sha256[..16]);
    let mut target = Target {
        vendor: "yealink".into(),
        model: "T54W".into(),
        scope: Scope::Everywhere,
        version: "96.86.0.100".into(),
        rollout: Rollout::Percent(10),
        set_at: 0,
    };
    fleet.set_target(target.clone(), "example")?;
    let reached = |fleet: &Fleet| {
        let policy = fleet.policy();
        macs.iter()
            .filter(|&&mac| {
                let device = DeviceKey { mac, vendor: "yealink", model: Some("T54W"), site: None };
                policy.resolve(device).and_then(|resolved| resolved.image).is_some()
            })
            .count()
    };
    println!("10 % roll-out: {} of {PHONES} configs name the image", reached(&fleet));
    let report = firmware_report(&*store, &fleet.policy(), SystemClock.now(), None, 1_000)?;
    println!("behind their target: {} (only those the roll-out reached)", report.behind);

    // The first wave upgrades: their next polls report the new version.
    let policy = fleet.policy();
    for &mac in &macs {
        let device = DeviceKey { mac, vendor: "yealink", model: Some("T54W"), site: None };
        if policy.resolve(device).is_some() {
            poll(&credentials, mac, "96.86.0.100")?;
        }
    }
    credentials.flush_sightings(read_facts)?;
    let report = firmware_report(&*store, &fleet.policy(), SystemClock.now(), None, 1_000)?;
    println!("after the first wave: compliant {}, behind {}", report.compliant, report.behind);

    // Then everyone.
    target.rollout = Rollout::Everyone;
    fleet.set_target(target, "example")?;
    println!("everyone: {} of {PHONES} configs name the image", reached(&fleet));
    let report = firmware_report(&*store, &fleet.policy(), SystemClock.now(), None, 1_000)?;
    println!("behind their target: {}", report.behind);
    Ok(())
}

/// One poll of the device's config with the User-Agent of `version`, as the phone listener
/// records it (decided, committed; its client facts kept for the next flush).
fn poll(credentials: &Credentials, mac: Mac, version: &str) -> anyhow::Result<()> {
    let pairs: Vec<String> = mac.bytes().iter().map(|b| format!("{b:02x}")).collect();
    let request = FetchRequest {
        spki_sha256: [7; 32],
        peer: "192.0.2.10".into(),
        user_agent: Some(format!("Yealink SIP-T54W {version} {}", pairs.join(":"))),
        certificate_vendor: Some("yealink"),
        rating: 5,
    };
    let decision = credentials.decide(&mac, request, FetchKind::Deliver)?;
    credentials.commit(decision)?;
    Ok(())
}
