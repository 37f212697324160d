//! Drive the credential lifecycle with your own store, using `sipprov-credentials` alone.
//!
//! `Lifecycle` is a pure state machine over a `DeviceRecord`: an ITSP with its own inventory
//! database calls it inside its own transaction, persists the record, and appends the audit
//! events it returns in that same transaction. Here the "database" is a map and a journal, and
//! secrets are sealed with a `Keyring` before they are kept.
//!
//! ```text
//! cargo run -p sipprov-examples --bin lifecycle_with_own_store
//! ```
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::time::Duration;

use sipprov_credentials::{
    Account, AuditEvent, CredentialState, DeviceProfile, DeviceRecord, DeviceSecrets, FetchRequest, Keyring, Lifecycle,
    Password, SecretKind, Serve, Timestamp,
};
use sipprov_identity::Mac;

/// The ITSP's own storage: records by MAC, and an append-only journal of audit events.
#[derive(Default)]
struct OwnDatabase {
    devices: BTreeMap<Mac, DeviceRecord>,
    journal: Vec<AuditEvent>,
}

impl OwnDatabase {
    /// One "transaction": change a record and append its events together.
    fn transact<T>(&mut self, mac: &Mac, change: impl FnOnce(&mut DeviceRecord) -> (T, Vec<AuditEvent>)) -> Option<T> {
        let device = self.devices.get_mut(mac)?;
        let (result, events) = change(device);
        self.journal.extend(events);
        Some(result)
    }
}

fn main() -> anyhow::Result<()> {
    let keyring = Keyring::parse(&Keyring::generate_file(1, None)?)?;
    let lifecycle = Lifecycle::new(Duration::from_secs(300), Duration::from_secs(14 * 86_400));
    let mac: Mac = "00:15:65:00:00:01".parse()?;
    let mut now = Timestamp::from_unix(1_800_000_000);

    let sip_password = Password::generate()?;
    let secrets = DeviceSecrets {
        sip_passwords: vec![(1, keyring.seal(&sip_password, &mac, SecretKind::SipPassword(1))?)],
        admin_password: Some(keyring.seal(&Password::generate()?, &mac, SecretKind::AdminPassword)?),
    };
    let mut database = OwnDatabase::default();
    database.devices.insert(
        mac,
        DeviceRecord {
            mac,
            accounts: vec![Account::new(1, "1001", "sp-001565000001", "Reception")],
            state: CredentialState::Issued { since: now },
            secrets: Some(secrets),
            pinned_spki: None,
            enrolment_secret: None,
            disabled: false,
            enrolled_at: now,
            last_seen: None,
            profile: DeviceProfile::default(),
        },
    );

    let phone = FetchRequest {
        spki_sha256: [0x42; 32],
        peer: "192.0.2.10".into(),
        user_agent: None,
        certificate_vendor: None,
        rating: 5,
    };
    // The last poll changes nothing and returns no event: the ITSP's store need not write.
    let fetches =
        [("first fetch", 0), ("retry after 60 s", 60), ("fetch after the grace", 300), ("poll a day later", 86_400)];
    for (label, wait) in fetches {
        now = now.saturating_add(Duration::from_secs(wait));
        let (from, serve, to) = database
            .transact(&mac, |device| {
                let from = device.state.name();
                let (serve, events) = lifecycle.fetch(device, &phone, now);
                ((from, serve, device.state.name()), events)
            })
            .ok_or_else(|| anyhow::anyhow!("not enrolled"))?;
        let served = match serve {
            Serve::Config { secrets: Some(sealed) } => {
                let line_1 = sealed.sip_password(1).ok_or_else(|| anyhow::anyhow!("no password for line 1"))?;
                let opened = keyring.open(line_1, &mac, SecretKind::SipPassword(1))?;
                anyhow::ensure!(opened == sip_password, "the sealed password did not round-trip");
                "password served"
            }
            Serve::Config { secrets: None } => "no password",
            Serve::Nothing(refusal) => anyhow::bail!("refused: {refusal:?}"),
        };
        println!("{label}: {from} -> {to}, {served}");
    }
    println!("journal:");
    for event in &database.journal {
        let subject = event.mac.map_or_else(|| "-".to_owned(), |mac| mac.to_string());
        println!("  {subject} {}", event.kind);
    }
    Ok(())
}
