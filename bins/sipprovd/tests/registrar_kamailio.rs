//! The registrar learns only HA1, end to end with real components: sipprovd writes Kamailio's
//! `subscriber` table (PostgreSQL), a phone (curl) fetches its password, and `sipp` registers
//! with it at a real Kamailio running `examples/kamailio/kamailio.cfg`. Rotation, deletion,
//! `registrar sync`, and a registrar database outage across a sipprovd restart.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::path::Path;

use serde_json::Value;
use sipprov_store_postgres::Proxy;
use support::kamailio::{self, Kamailio, register};
use support::{Daemon, json_of, wait_until};

const MAC: &str = "00:15:65:00:00:01";
const FILE_MAC: &str = "001565000001";
const REALM: &str = "sip.example.net";

/// A demo daemon telling Kamailio's database at `url` (`[[registrar]]`, kind kamailio-postgres).
fn daemon_for(dir: &Path, url: &str) -> Daemon {
    Daemon::start_with(dir, |dir| append_registrar(dir, url))
}

fn append_registrar(dir: &Path, url: &str) {
    let path = dir.join("sipprov.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push_str(&format!("\n[[registrar]]\nname = \"kamailio\"\nkind = \"kamailio-postgres\"\nurl = \"{url}\"\n"));
    std::fs::write(path, config).unwrap();
}

/// The SIP password in the demo phone's freshly fetched config.
fn fetch_password(daemon: &Daemon) -> String {
    let (status, body) = daemon.fetch_as_phone(FILE_MAC);
    assert_eq!(status, Some(200), "{body}");
    let line = body.lines().find(|line| line.starts_with("account.1.password = ")).expect("a password in the config");
    line.trim_start_matches("account.1.password = ").trim().to_owned()
}

/// The HA1 (MD5) the admin API returned for the first account, and its digest user.
fn issued(output: &std::process::Output) -> (String, String) {
    let issued = json_of(output);
    let registrar = &issued["registrars"][0];
    (registrar["user"].as_str().unwrap().to_owned(), registrar["ha1_md5"].as_str().unwrap().to_owned())
}

fn wait_for_ha1(kamailio: &Kamailio, user: &str, ha1: &str) {
    wait_until(&format!("Kamailio's subscriber row of {user} holds the new HA1"), || {
        kamailio.subscriber(user, REALM).is_some_and(|(_, stored, _)| stored == ha1)
    });
}

#[test]
fn kamailio_learns_only_ha1_and_the_phone_registers_through_rotation_and_deletion() {
    let test = "kamailio_learns_only_ha1_and_the_phone_registers_through_rotation_and_deletion";
    if !kamailio::available(test) || !support::have_tools() {
        return;
    }
    let Some(kamailio) = Kamailio::start(test) else { return };
    // A schema with a column for the SHA-256 HA1, named in the configuration.
    kamailio::psql(kamailio.db.url(), "ALTER TABLE subscriber ADD COLUMN ha1_sha256 VARCHAR(128) DEFAULT '' NOT NULL");
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        append_registrar(dir, kamailio.db.url());
        let path = dir.join("sipprov.toml");
        let config = std::fs::read_to_string(&path).unwrap() + "sha256_column = \"ha1_sha256\"\n";
        std::fs::write(path, config).unwrap();
    });

    // Enrolled: the subscriber row appears with HA1 and no password.
    let added = json_of(&daemon.cli(&daemon.admin_token, &["device", "add", MAC, "--user", "1001", "--json"]));
    let (user, ha1) = (
        added["registrars"][0]["user"].as_str().unwrap().to_owned(),
        added["registrars"][0]["ha1_md5"].as_str().unwrap().to_owned(),
    );
    wait_for_ha1(&kamailio, &user, &ha1);
    let (password_column, stored, stored_b) = kamailio.subscriber(&user, REALM).unwrap();
    assert_eq!((password_column.as_str(), stored_b.as_str()), ("", stored.as_str()), "no password; ha1b = ha1");
    let sha256 =
        kamailio::psql(kamailio.db.url(), &format!("SELECT ha1_sha256 FROM subscriber WHERE username = '{user}'"));
    assert_eq!(sha256.trim(), added["registrars"][0]["ha1_sha256"].as_str().unwrap());

    // The phone fetches its password and registers with it.
    let password = fetch_password(&daemon);
    assert!(!kamailio.log().contains(&password) && !daemon.all_output().contains(&password));
    let first = register(&kamailio, &user, &password);
    assert!(first.registered, "registered with the delivered password: {first:?}\n{}", kamailio.log());
    assert_eq!(first.statuses, [401, 200]);

    // Rotated: the old password is refused, the new one (fetched again) registers.
    let (_, rotated) = issued(&daemon.cli(&daemon.admin_token, &["device", "rotate", MAC, "--json"]));
    assert_ne!(rotated, ha1);
    wait_for_ha1(&kamailio, &user, &rotated);
    let old = register(&kamailio, &user, &password);
    assert!(!old.registered && old.statuses.iter().skip(1).all(|status| matches!(status, 401 | 403)), "{old:?}");
    let new_password = fetch_password(&daemon);
    assert_ne!(new_password, password);
    assert!(register(&kamailio, &user, &new_password).registered, "the rotated password registers");

    // The registrar lost its data, and holds a user sipprov never made: a dry run only reports,
    // a sync restores, and prunes only when asked.
    kamailio::psql(kamailio.db.url(), "DELETE FROM subscriber");
    kamailio::psql(
        kamailio.db.url(),
        &format!("INSERT INTO subscriber (username, domain, ha1, ha1b) VALUES ('trunk', '{REALM}', 'x', 'x')"),
    );
    let dry = json_of(&daemon.cli(&daemon.admin_token, &["registrar", "sync", "--dry-run", "--json"]));
    assert_eq!(dry["registrars"][0]["set"], 1);
    assert_eq!(dry["registrars"][0]["unknown"], serde_json::json!(["trunk"]));
    assert_eq!(kamailio.users(), ["trunk"], "a dry run writes nothing");
    let synced = json_of(&daemon.cli(&daemon.admin_token, &["registrar", "sync", "--json"]));
    assert_eq!(synced["registrars"][0]["deleted"], serde_json::json!([]), "no prune: unknown users stay");
    assert_eq!(kamailio.users(), [user.clone(), "trunk".to_owned()]);
    json_of(&daemon.cli(&daemon.admin_token, &["registrar", "sync", "--prune", "--json"]));
    assert_eq!(kamailio.users(), std::slice::from_ref(&user));
    assert!(register(&kamailio, &user, &new_password).registered, "restored by sync");

    // Deleted: the row goes.
    let deleted = daemon.cli(&daemon.admin_token, &["device", "delete", MAC]);
    assert!(deleted.status.success(), "{}", String::from_utf8_lossy(&deleted.stderr));
    wait_until("the subscriber row is deleted", || kamailio.subscriber(&user, REALM).is_none());
    assert!(!register(&kamailio, &user, &new_password).registered);

    // Each push audited; nothing waits.
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "registrar-pushed", "--json"]));
    let changes: Vec<&str> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["detail"].as_str())
        .filter_map(|detail| detail.split("change=").nth(1)?.split(' ').next())
        .rev()
        .collect();
    assert_eq!(changes, ["set", "set", "delete"], "enrolment, rotation, deletion (and two syncs): {audit}");
    let status = json_of(&daemon.cli(&daemon.auditor_token, &["registrar", "status", "--json"]));
    assert_eq!((status["pending"].as_u64(), status["registrars"].clone()), (Some(0), serde_json::json!(["kamailio"])));
    assert!(!daemon.all_output().contains(&new_password), "no password in sipprovd's logs");
}

#[test]
fn a_rotation_during_a_registrar_outage_lands_after_a_sipprovd_restart() {
    let test = "a_rotation_during_a_registrar_outage_lands_after_a_sipprovd_restart";
    if !kamailio::available(test) || !support::have_tools() {
        return;
    }
    let Some(kamailio) = Kamailio::start(test) else { return };
    let proxy = Proxy::in_front_of(kamailio.db.url());
    let dir = tempfile::tempdir().unwrap();
    let mut daemon = daemon_for(dir.path(), proxy.url());
    let (user, ha1) = issued(&daemon.cli(&daemon.admin_token, &["device", "add", MAC, "--user", "1001", "--json"]));
    wait_for_ha1(&kamailio, &user, &ha1);
    let before = fetch_password(&daemon);

    // Kamailio's database goes away; the rotation is acknowledged and waits in the outbox.
    proxy.cut();
    let (_, rotated) = issued(&daemon.cli(&daemon.admin_token, &["device", "rotate", MAC, "--json"]));
    wait_until("the failed push is audited", || {
        let failed = daemon.cli(&daemon.auditor_token, &["audit", "--kind", "registrar-failed", "--json"]);
        json_of(&failed)["events"].as_array().is_some_and(|events| !events.is_empty())
    });
    let status = json_of(&daemon.cli(&daemon.auditor_token, &["registrar", "status", "--json"]));
    assert_eq!(status["pending"], 1);
    assert_eq!(status["oldest_pending"]["user"].as_str(), Some(user.as_str()));
    assert_eq!(kamailio.subscriber(&user, REALM).unwrap().1, ha1, "the registrar still has the old HA1");

    // sipprovd is killed; the database comes back; a new sipprovd delivers the queued change.
    let (admin_token, auditor_token) = (daemon.admin_token.clone(), daemon.auditor_token.clone());
    daemon.child.kill().unwrap();
    daemon.child.wait().unwrap();
    proxy.restore();
    let daemon = Daemon::run(dir.path(), admin_token, auditor_token);
    wait_for_ha1(&kamailio, &user, &rotated);
    let after = fetch_password(&daemon);
    assert_ne!(after, before);
    assert!(register(&kamailio, &user, &after).registered, "the rotated password registers");
    assert!(!register(&kamailio, &user, &before).registered, "the old one no longer does");
    let pushed = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "registrar-pushed", "--json"]));
    assert_eq!(pushed["events"].as_array().map(Vec::len), Some(2), "{pushed}");
    let status: Value = json_of(&daemon.cli(&daemon.auditor_token, &["registrar", "status", "--json"]));
    assert_eq!(status["pending"], 0);
}
