//! Re-sync end to end: `sipprov device resync` makes sipprovd send each phone its vendor's
//! NOTIFY through a real Kamailio (the phones' registrar), to phones played by `sipp` that
//! registered there with the passwords sipprovd delivered. Accepted, not supported (489), not
//! registered (404 from the proxy), each reported and audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::path::Path;

use serde_json::Value;
use support::kamailio::{self, Kamailio, RegisteredPhone};
use support::{Daemon, json_of, wait_until};

/// A demo daemon writing Kamailio's subscriber table and sending NOTIFYs through it.
fn daemon_for(dir: &Path, kamailio: &Kamailio) -> Daemon {
    Daemon::start_with(dir, |dir| {
        let path = dir.join("sipprov.toml");
        let mut config = std::fs::read_to_string(&path).unwrap();
        config.push_str(&format!(
            "\n[[registrar]]\nname = \"kamailio\"\nkind = \"kamailio-postgres\"\nurl = \"{}\"\n\
             \n[resync]\nproxy = \"127.0.0.1:{}\"\ntransport = \"udp\"\nafter_update = true\n",
            kamailio.db.url(),
            kamailio.port
        ));
        std::fs::write(path, config).unwrap();
    })
}

/// Enrols demo phone `n` as a Yealink with SIP user `user`, waits until Kamailio has its HA1,
/// and returns the password the phone fetched.
fn provisioned(daemon: &Daemon, kamailio: &Kamailio, n: u8, user: &str) -> String {
    let mac = format!("00:15:65:00:00:0{n}");
    let added = json_of(
        &daemon.cli(&daemon.admin_token, &["device", "add", &mac, "--user", user, "--vendor", "yealink", "--json"]),
    );
    let ha1 = added["registrars"][0]["ha1_md5"].as_str().unwrap().to_owned();
    wait_until("Kamailio has the HA1", || kamailio.subscriber(user, "sip.example.net").is_some_and(|row| row.1 == ha1));
    let (status, body) = daemon.fetch_as_phone(&format!("00156500000{n}"));
    assert_eq!(status, Some(200), "{body}");
    let line = body.lines().find(|line| line.starts_with("account.1.password = ")).unwrap();
    line.trim_start_matches("account.1.password = ").trim().to_owned()
}

/// The result row of `mac` (as the API writes MACs: 12 hex digits).
fn result_of<'a>(answer: &'a Value, mac: &str) -> &'a Value {
    let rows = answer["results"].as_array().unwrap();
    rows.iter().find(|row| row["mac"] == mac).unwrap_or_else(|| panic!("no result for {mac}: {answer}"))
}

#[test]
fn phones_registered_at_kamailio_get_their_vendors_notify_and_each_outcome_is_reported() {
    let test = "phones_registered_at_kamailio_get_their_vendors_notify_and_each_outcome_is_reported";
    if !kamailio::available(test) || !support::have_tools() {
        return;
    }
    let Some(kamailio) = Kamailio::start(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let daemon = daemon_for(dir.path(), &kamailio);
    let first = provisioned(&daemon, &kamailio, 1, "1001");
    let second = provisioned(&daemon, &kamailio, 2, "1002");
    provisioned(&daemon, &kamailio, 3, "1003"); // provisioned, never registered

    // A phone that re-syncs, and one that does not know the event.
    let accepting = RegisteredPhone::start(&kamailio, "1001", &first, "200 OK");
    let answer = json_of(&daemon.cli(&daemon.admin_token, &["device", "resync", "00:15:65:00:00:01", "--json"]));
    let row = result_of(&answer, "001565000001");
    assert_eq!((row["outcome"].as_str(), row["status"].as_u64()), (Some("accepted"), Some(200)), "{answer}");
    assert_eq!(row["event"], "check-sync;reboot=false");
    assert_eq!(row["aor"], "sip:1001@sip.example.net");
    assert_eq!(accepting.notify_events(), ["check-sync;reboot=false"], "the Yealink event, through Kamailio");

    // With after_update, a change through the API re-syncs the device by itself; no change, no NOTIFY.
    let patch = serde_json::json!({"display_name": "Reception"});
    assert_eq!(daemon.admin("PATCH", "/v1/devices/00:15:65:00:00:01", &patch).0, 200);
    wait_until("the changed phone gets a NOTIFY", || accepting.notify_events().len() == 2);
    assert_eq!(daemon.admin("PATCH", "/v1/devices/00:15:65:00:00:01", &patch).0, 200);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(accepting.notify_events().len(), 2, "an unchanged device is not asked");

    let refusing = RegisteredPhone::start(&kamailio, "1002", &second, "489 Bad Event");
    let answer = json_of(&daemon.cli(
        &daemon.admin_token,
        &["device", "resync", "00:15:65:00:00:02", "00:15:65:00:00:03", "--reboot", "--json"],
    ));
    let not_supported = result_of(&answer, "001565000002");
    assert_eq!(
        (not_supported["outcome"].as_str(), not_supported["status"].as_u64()),
        (Some("not-supported"), Some(489))
    );
    let unregistered = result_of(&answer, "001565000003");
    assert_eq!(
        (unregistered["outcome"].as_str(), unregistered["status"].as_u64()),
        (Some("not-registered"), Some(404))
    );
    assert_eq!(refusing.notify_events(), ["check-sync;reboot=true"], "the rebooting event");

    // Devices named one way, and only real MACs; an unknown one is reported as such.
    let (status, both) =
        daemon.admin("POST", "/v1/resync", &serde_json::json!({"macs": ["001565000001"], "all": true}));
    assert_eq!(status, 400, "{both}");
    let (status, bad) = daemon.admin("POST", "/v1/resync", &serde_json::json!({"macs": ["00:15:65:zz"]}));
    assert!(status == 400 && bad["error"].as_str().unwrap().contains("00:15:65:zz"), "{bad}");
    let many: Vec<String> = (0..5_001u32).map(|n| format!("00:15:65:{:02x}:{:02x}:00", n >> 8, n & 0xff)).collect();
    let (status, too_many) = daemon.admin("POST", "/v1/resync", &serde_json::json!({"macs": many}));
    assert!(status == 400 && too_many["error"].as_str().unwrap().contains("at most 5000"), "{too_many}");
    let (status, unknown) = daemon.admin("POST", "/v1/resync", &serde_json::json!({"macs": ["00:15:65:00:00:99"]}));
    assert_eq!((status, result_of(&unknown, "001565000099")["outcome"].as_str()), (200, Some("not-enrolled")));

    // The table for people, and every outcome audited.
    let table = daemon.cli(&daemon.admin_token, &["device", "resync", "--site", "nowhere"]);
    assert!(table.status.success() && String::from_utf8_lossy(&table.stdout).starts_with("MAC"));
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "resync", "--json"]));
    let mut outcomes: Vec<String> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| format!("{} {}", event["mac"].as_str().unwrap(), event["detail"].as_str().unwrap()))
        .collect();
    outcomes.sort();
    assert_eq!(outcomes.len(), 4, "{audit}");
    assert!(outcomes[0].starts_with("001565000001 event=\"check-sync;reboot=false\" outcome=accepted status=200"));
    assert!(outcomes[1].starts_with("001565000001 event=\"check-sync;reboot=false\" outcome=accepted status=200"));
    assert!(outcomes[2].contains("outcome=not-supported status=489"));
    assert!(outcomes[3].contains("outcome=not-registered status=404"));
}
