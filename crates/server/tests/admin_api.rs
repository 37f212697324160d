//! The admin API against a real in-process server on loopback: tokens and roles, device
//! lifecycle with the registrar's HA1 hand-off, imports, audit, metrics, bans, and what the
//! phone listener says about admin paths.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use md5::{Digest, Md5};
use serde_json::Value;
use sipprov_credentials::{AuditEvent, AuditKind, Ban, Clock, Role, Store, SystemClock, Timestamp};
use sipprov_server::Timeouts;
use support::{Harness, OTHER, OWN, REALM, ca, yealink_phone, yealink_trust};

struct Tokens {
    auditor: String,
    operator: String,
    admin: String,
}

fn tokens(harness: &Harness) -> Tokens {
    let make = |role| harness.credentials.create_api_token("test", role, "test").unwrap().expose().to_owned();
    Tokens { auditor: make(Role::Auditor), operator: make(Role::Operator), admin: make(Role::Admin) }
}

fn password_in(config: &str) -> &str {
    config.lines().find_map(|line| line.strip_prefix("account.1.password = ")).expect("a password line")
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn every_call_but_health_needs_a_token_and_roles_limit_what_it_may_do() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    assert_eq!(harness.admin(None, "GET", "/v1/health", "").await.0, 200);

    let missing = harness.admin(None, "GET", "/v1/devices", "").await;
    let unknown = harness.admin(Some("not-a-token"), "GET", "/v1/devices", "").await;
    assert_eq!(missing.0, 401);
    assert_eq!(missing, unknown, "a missing and an unknown token get the same answer");
    assert_eq!(harness.admin(Some(&tokens.auditor), "GET", "/metrics", "").await.0, 200);

    let device = format!(r#"{{"mac": "{OWN}", "user_name": "1001"}}"#);
    let refused = harness.admin(Some(&tokens.auditor), "POST", "/v1/devices", &device).await;
    assert_eq!(refused.0, 403, "{}", refused.1);
    assert!(harness.credentials.store().device(&OWN.parse().unwrap()).unwrap().is_none(), "nothing was enrolled");
    for (method, path) in [("POST", "/v1/import?format=csv"), ("DELETE", "/v1/bans/192.0.2.7"), ("POST", "/v1/tokens")]
    {
        assert_eq!(harness.admin(Some(&tokens.auditor), method, path, "").await.0, 403, "{method} {path}");
    }
    let new_token = r#"{"name": "billing", "role": "operator"}"#;
    assert_eq!(harness.admin(Some(&tokens.operator), "POST", "/v1/tokens", new_token).await.0, 403);
    let created = harness.admin_json(&tokens.admin, "POST", "/v1/tokens", new_token, 201).await;
    let billing = created["token"].as_str().unwrap();
    harness.admin_json(billing, "POST", "/v1/devices", &device, 201).await;

    assert_eq!(harness.admin(Some(&tokens.admin), "GET", "/v1/nothing", "").await.0, 404);
    assert_eq!(harness.admin(Some(&tokens.admin), "PUT", "/v1/devices", "").await.0, 405);
}

#[tokio::test]
async fn registrar_and_resync_calls_say_when_they_are_not_configured_and_need_an_operator() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let status = harness.admin(Some(&tokens.auditor), "GET", "/v1/registrar", "").await;
    assert_eq!(status.0, 404);
    assert!(status.1.contains("no registrar is configured"), "{}", status.1);
    let resync = format!(r#"{{"macs": ["{OWN}"]}}"#);
    for (method, path, body) in [("POST", "/v1/registrar/sync", "{}"), ("POST", "/v1/resync", resync.as_str())] {
        assert_eq!(harness.admin(Some(&tokens.auditor), method, path, body).await.0, 403, "{path}");
        let answer = harness.admin(Some(&tokens.operator), method, path, body).await;
        assert_eq!(answer.0, 404, "{path}: {}", answer.1);
        assert!(answer.1.contains("configur"), "{path}: {}", answer.1);
    }
}

#[tokio::test]
async fn the_registrar_gets_the_ha1_of_the_password_the_phone_receives() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let body = format!(
        r#"{{"mac": "00:15:65:00:00:62", "user_name": "1001", "auth_name": "sp-{OWN}", "site": "leeds",
            "settings": {{"ntp_server": "ntp.leeds.example"}}}}"#
    );
    let issued = harness.admin_json(&tokens.operator, "POST", "/v1/devices", &body, 201).await;
    assert_eq!(issued["device"]["mac"], OWN);
    assert_eq!(issued["device"]["site"], "leeds");
    let registrar = &issued["registrar"];
    assert!(registrar.get("password").is_none(), "no plaintext unless asked: {registrar}");
    assert_eq!(registrar["realm"], REALM);
    assert_eq!(registrar["user"], format!("sp-{OWN}"));

    let phone = yealink_phone(&vendor_ca, OWN);
    let config = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(config.contains("local_time.ntp_server1 = ntp.leeds.example"), "device settings rendered: {config}");
    let password = password_in(&config);
    assert_eq!(registrar["ha1_md5"], md5_hex(&format!("sp-{OWN}:{REALM}:{password}")));
    assert_eq!(registrar["ha1_sha256"].as_str().unwrap().len(), 64);

    // Re-issuing with the plaintext asked for: it is the one the phone then receives.
    let path = format!("/v1/devices/{OWN}/rotate?reveal_password=true");
    let rotated = harness.admin_json(&tokens.operator, "POST", &path, "", 200).await;
    let config = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert_eq!(rotated["registrar"]["password"], password_in(&config));
    assert_ne!(password_in(&config), password);
    // Rotating to the operator's own password (from its OSS/BSS): the phone gets that one.
    let own = r#"{"password": "Rotated-by-OSS-42"}"#;
    let rotated = harness.admin_json(&tokens.operator, "POST", &format!("/v1/devices/{OWN}/rotate"), own, 200).await;
    assert_eq!(rotated["registrar"]["ha1_md5"], md5_hex(&format!("sp-{OWN}:{REALM}:Rotated-by-OSS-42")));
    assert!(rotated["registrar"].get("password").is_none());
    assert_eq!(password_in(&harness.get(&phone, &format!("/{OWN}.cfg")).await), "Rotated-by-OSS-42");
    let short = r#"{"password": "short"}"#;
    let (status, _) = harness.admin(Some(&tokens.operator), "POST", &format!("/v1/devices/{OWN}/rearm"), short).await;
    assert_eq!(status, 422);
    let audit = harness.admin_json(&tokens.auditor, "GET", "/v1/audit?kind=rotated", "", 200).await;
    assert!(audit["events"][0]["detail"].as_str().unwrap().ends_with("by=\"token:test\""), "{audit}");

    // An operator's own password is used as given.
    let own = format!(r#"{{"mac": "{OTHER}", "user_name": "1002", "password": "From-the-OSS-123"}}"#);
    let issued = harness.admin_json(&tokens.operator, "POST", "/v1/devices", &own, 201).await;
    assert_eq!(issued["registrar"]["ha1_md5"], md5_hex(&format!("1002:{REALM}:From-the-OSS-123")));
    assert_eq!(harness.admin(Some(&tokens.operator), "POST", "/v1/devices", &own).await.0, 409);
}

#[tokio::test]
async fn an_import_reports_each_row_and_running_it_again_changes_nothing() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let csv = "mac,user_name,display_name,site,setting.language\n\
               00:15:65:00:01:01,2001,\"Desk, \"\"A\"\"\",leeds,Deutsch\n\
               00:15:65:00:01:02,2002,,york,\n\
               not-a-mac,2003,,york,\n\
               00:15:65:00:01:04,,,york,\n\
               00:15:65:00:01:05,2005,Reception\n";
    let import = |body: String| {
        let harness = &harness;
        let token = tokens.operator.clone();
        async move {
            let (status, text) = harness.admin(Some(&token), "POST", "/v1/import?format=csv", &body).await;
            assert_eq!(status, 200, "{text}");
            text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()).collect::<Vec<_>>()
        }
    };
    let rows = import(csv.to_owned()).await;
    let results: Vec<_> = rows.iter().filter_map(|r| r["result"].as_str()).collect();
    assert_eq!(results, ["created", "created", "error", "error", "error"]);
    assert_eq!(rows[2]["line"], 4);
    assert!(rows[2]["error"].as_str().unwrap().contains("not-a-mac"));
    assert!(rows[3]["error"].as_str().unwrap().contains("user_name is required"));
    assert!(rows[4]["error"].as_str().unwrap().contains("3 fields, but the header has 5"));
    assert_eq!(rows[0]["registrar"]["ha1_md5"].as_str().unwrap().len(), 32);
    assert_eq!(rows[5]["summary"]["created"], 2);
    assert_eq!(rows[5]["summary"]["errors"], 3);

    let device = harness.admin_json(&tokens.auditor, "GET", "/v1/devices/001565000101", "", 200).await;
    assert_eq!(device["display_name"], "Desk, \"A\"");
    assert_eq!(device["settings"]["language"], "Deutsch");

    let again = import(csv.to_owned()).await;
    assert_eq!(again.last().unwrap()["summary"]["unchanged"], 2);
    assert!(again.iter().all(|row| row.get("registrar").is_none()), "no secret is re-issued");
    let changed = import(csv.replace("2002,,york", "2002,,leeds")).await;
    assert_eq!(changed[1]["result"], "updated");

    // A row for an enrolled device changes only what it gives; its settings are merged.
    let partial = import("mac,user_name,setting.ntp_server\n00:15:65:00:01:01,2001,ntp.example\n".to_owned()).await;
    assert_eq!(partial[0]["result"], "updated");
    let device = harness.admin_json(&tokens.auditor, "GET", "/v1/devices/001565000101", "", 200).await;
    assert_eq!(device["display_name"], "Desk, \"A\"");
    assert_eq!(device["settings"]["language"], "Deutsch");
    assert_eq!(device["settings"]["ntp_server"], "ntp.example");

    let leeds = harness.admin_json(&tokens.auditor, "GET", "/v1/devices?site=leeds", "", 200).await;
    assert_eq!(leeds["devices"].as_array().unwrap().len(), 2);
    let jsonl = "{\"mac\": \"001565000110\", \"user_name\": \"2010\"}\n{\"mac\": 5}\n";
    let (status, text) = harness.admin(Some(&tokens.operator), "POST", "/v1/import?format=jsonl", jsonl).await;
    assert_eq!(status, 200);
    assert!(text.contains("\"created\":1") && text.contains("\"errors\":1"), "{text}");
    assert_eq!(harness.admin(Some(&tokens.operator), "POST", "/v1/import", csv).await.0, 400);
}

#[tokio::test]
async fn an_excel_csv_imports_and_a_dry_run_changes_nothing() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let import = |path: &'static str, body: String| {
        let (harness, token) = (&harness, tokens.operator.clone());
        async move {
            let (status, text) = harness.admin(Some(&token), "POST", path, &body).await;
            assert_eq!(status, 200, "{text}");
            text.lines().map(|line| serde_json::from_str::<Value>(line).unwrap()).collect::<Vec<_>>()
        }
    };
    // What Excel's "CSV UTF-8" writes in a German locale: a byte order mark, `;`, CRLF, quoted
    // cells, one with a line break in it (a value phones cannot show: that row is refused, and
    // the rows after it are still read as rows).
    let excel = "\u{feff}MAC;user_name;display_name;site\r\n\
                 00:15:65:00:03:01;3001;\"Empfang; vorne\";köln\r\n\
                 00:15:65:00:03:02;3002;Büro;köln\r\n\
                 00:15:65:00:03:03;3003;\"Lager\r\nhinten\";köln\r\n";
    let dry = import("/v1/import?format=csv&dry_run=true", excel.to_owned()).await;
    let results = |rows: &[Value]| rows.iter().filter_map(|r| r["result"].as_str()).collect::<Vec<_>>().join(",");
    assert_eq!(results(&dry), "created,created,error");
    assert_eq!(dry[2]["line"], 4);
    assert!(dry[2]["error"].as_str().unwrap().contains("control character"), "{dry:?}");
    assert!(dry.iter().all(|row| row.get("registrar").is_none()), "a dry run issues no secret");
    assert_eq!(dry[3]["summary"]["dry_run"], true);
    let devices = harness.admin_json(&tokens.auditor, "GET", "/v1/devices", "", 200).await;
    assert!(devices["devices"].as_array().unwrap().is_empty(), "a dry run enrols nothing");

    let rows = import("/v1/import?format=csv", excel.to_owned()).await;
    assert_eq!(results(&rows), "created,created,error");
    assert!(rows[3]["summary"].get("dry_run").is_none());
    let device = harness.admin_json(&tokens.auditor, "GET", "/v1/devices/001565000301", "", 200).await;
    assert_eq!(device["display_name"], "Empfang; vorne");
    assert_eq!(device["site"], "köln");

    let moved = excel.replace("3002;Büro;köln", "3002;Büro;bonn");
    let dry = import("/v1/import?format=csv&dry_run=1", moved).await;
    assert_eq!(results(&dry), "unchanged,updated,error");
    let device = harness.admin_json(&tokens.auditor, "GET", "/v1/devices/001565000302", "", 200).await;
    assert_eq!(device["site"], "köln", "a dry run changes nothing");
}

#[tokio::test]
async fn a_phone_without_a_certificate_gets_an_enrolment_secret_once_sealed_and_rotatable() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let body = |vendor: &str| format!(r#"{{"mac": "{OWN}", "user_name": "1001", "auth": "digest"{vendor}}}"#);
    let (status, text) = harness.admin(Some(&tokens.operator), "POST", "/v1/devices", &body("")).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("vendor is required with auth=digest"), "{text}");
    let issued =
        harness.admin_json(&tokens.operator, "POST", "/v1/devices", &body(r#", "vendor": "grandstream""#), 201).await;
    let first = issued["enrolment_secret"].as_str().unwrap().to_owned();
    assert_eq!(first.len(), 22);
    assert_eq!(issued["device"]["auth"], "digest");
    let record = harness.store.device(&OWN.parse().unwrap()).unwrap().unwrap();
    assert_eq!(harness.credentials.enrolment_secret(&record).unwrap().unwrap().expose(), first, "sealed, and opens");
    let shown = harness.admin_json(&tokens.auditor, "GET", &format!("/v1/devices/{OWN}"), "", 200).await;
    assert_eq!(shown["auth"], "digest");
    assert!(!shown.to_string().contains(&first), "never shown again");

    let path = format!("/v1/devices/{OWN}/enrolment-secret");
    assert_eq!(harness.admin(Some(&tokens.auditor), "POST", &path, "").await.0, 403);
    let rotated = harness.admin_json(&tokens.operator, "POST", &path, "", 200).await;
    let second = rotated["enrolment_secret"].as_str().unwrap();
    assert_ne!(second, first);
    assert_eq!(rotated["username"], OWN);
    harness.admin_json(&tokens.operator, "DELETE", &path, "", 204).await;
    assert_eq!(harness.admin(Some(&tokens.operator), "DELETE", &path, "").await.0, 404);
    let shown = harness.admin_json(&tokens.auditor, "GET", &format!("/v1/devices/{OWN}"), "", 200).await;
    assert_eq!(shown["auth"], "certificate");
    let audit = harness.admin_json(&tokens.auditor, "GET", "/v1/audit?mac=001565000062", "", 200).await;
    let kinds: Vec<&str> = audit["events"].as_array().unwrap().iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in ["enrolment-secret-issued", "enrolment-secret-removed"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert!(!audit.to_string().contains(&first) && !audit.to_string().contains(second), "no secret in the audit log");

    // An import row with auth=digest: created with its secret, shown once.
    let csv = "mac,user_name,vendor,auth\n00:15:65:00:02:01,2001,fanvil,digest\n";
    let (_, text) = harness.admin(Some(&tokens.operator), "POST", "/v1/import?format=csv", csv).await;
    let row: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(
        (row["result"].as_str(), row["enrolment_secret"].as_str().map(str::len)),
        (Some("created"), Some(22)),
        "{text}"
    );
    let (_, again) = harness.admin(Some(&tokens.operator), "POST", "/v1/import?format=csv", csv).await;
    assert!(again.contains("\"unchanged\"") && !again.contains("enrolment_secret"), "{again}");
}

#[tokio::test]
async fn a_delivery_shows_in_the_audit_log_and_the_metrics() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let tokens = tokens(&harness);
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    assert!(harness.get(&phone, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 200"));
    assert!(harness.get(&phone, &format!("/{OTHER}.cfg")).await.starts_with("HTTP/1.1 404"));

    let path = "/v1/audit?mac=00:15:65:00:00:62&kind=delivered&since=1h";
    let audit = harness.admin_json(&tokens.auditor, "GET", path, "", 200).await;
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert!(events[0]["detail"].as_str().unwrap().contains("secrets=yes"), "{audit}");

    let (status, metrics) = harness.admin(Some(&tokens.auditor), "GET", "/metrics", "").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"served_with_secrets\"} 1\n"), "{metrics}");
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"mac_mismatch\"} 1\n"), "{metrics}");

    // Asking for another device's file is audited against the asking device (threat 2).
    let mismatch = harness.admin_json(&tokens.auditor, "GET", "/v1/audit?kind=mac-mismatch", "", 200).await;
    assert_eq!(mismatch["events"][0]["mac"], OWN, "{mismatch}");
    assert!(mismatch["events"][0]["detail"].as_str().unwrap().contains(OTHER), "{mismatch}");
    let summary = harness.admin_json(&tokens.auditor, "GET", "/v1/audit/suspicious", "", 200).await;
    assert_eq!(summary["mac_mismatches"][0]["subject"], OWN, "{summary}");

    let device = harness.admin_json(&tokens.auditor, "GET", &format!("/v1/devices/{OWN}"), "", 200).await;
    assert_eq!(device["state"], "delivered");
    assert_eq!(device["key_pinned"], true);
    let (status, _) = harness.admin(Some(&tokens.auditor), "GET", "/v1/audit?kind=nonsense", "").await;
    assert_eq!(status, 400);

    // Newest first, paging backwards.
    let newest = harness.admin_json(&tokens.auditor, "GET", "/v1/audit?order=newest&limit=2", "", 200).await;
    let ids: Vec<u64> = newest["events"].as_array().unwrap().iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(ids.len() == 2 && ids[0] > ids[1], "{newest}");
    let before = newest["next_before"].as_u64().unwrap();
    let path = format!("/v1/audit?order=newest&before={before}&limit=1");
    let older = harness.admin_json(&tokens.auditor, "GET", &path, "", 200).await;
    assert_eq!(older["events"][0]["id"].as_u64().unwrap(), before - 1, "{older}");
}

#[tokio::test]
async fn admin_paths_on_the_phone_listener_get_the_uniform_404() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let uniform = harness.get(&phone, "/nothing-here").await;
    for path in ["/v1/health", "/v1/devices", "/metrics", &format!("/v1/devices/{OWN}")] {
        assert_eq!(harness.get(&phone, path).await, uniform, "{path}");
    }
}

#[tokio::test]
async fn bans_are_listed_and_lifting_one_is_audited() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let until = Timestamp::from_unix(SystemClock.now().unix() + 600);
    let ban = Ban { key: "198.51.100.0/24".into(), reason: "slow scan".into(), until };
    let event = AuditEvent::without_device(SystemClock.now(), AuditKind::Banned, "source=\"198.51.100.0/24\"");
    harness.store.put_ban(&ban, event).unwrap();

    let bans = harness.admin_json(&tokens.auditor, "GET", "/v1/bans", "", 200).await;
    assert_eq!(bans["bans"][0]["key"], "198.51.100.0/24");
    assert_eq!(bans["bans"][0]["reason"], "slow scan");
    assert_eq!(harness.admin(Some(&tokens.operator), "DELETE", "/v1/bans/not-an-address", "").await.0, 400);
    harness.admin_json(&tokens.operator, "DELETE", "/v1/bans/198.51.100.0%2F24", "", 204).await;
    assert_eq!(harness.admin(Some(&tokens.operator), "DELETE", "/v1/bans/198.51.100.0%2F24", "").await.0, 404);
    let bans = harness.admin_json(&tokens.auditor, "GET", "/v1/bans", "", 200).await;
    assert!(bans["bans"].as_array().unwrap().is_empty());
    let lifted = harness.admin_json(&tokens.auditor, "GET", "/v1/audit?kind=unbanned", "", 200).await;
    assert!(lifted["events"][0]["detail"].as_str().unwrap().contains("by=\"token:test\""), "{lifted}");
    let summary = harness.admin_json(&tokens.auditor, "GET", "/v1/audit/suspicious?since=1h", "", 200).await;
    assert_eq!(summary["top_scanning_networks"][0]["subject"], "198.51.100.0/24");
    assert_eq!(summary["bans_lifted"], 1);
}

#[tokio::test]
async fn disabling_stops_delivery_and_pending_devices_can_be_enrolled() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let phone = yealink_phone(&vendor_ca, OWN);
    assert!(harness.get(&phone, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 404"));
    let pending = harness.admin_json(&tokens.auditor, "GET", "/v1/pending", "", 200).await;
    assert_eq!(pending["pending"][0]["mac"], OWN);
    let enrol = r#"{"user_name": "1001"}"#;
    let path = format!("/v1/pending/{OWN}/enrol");
    harness.admin_json(&tokens.operator, "POST", &path, enrol, 201).await;
    assert!(
        harness.admin_json(&tokens.auditor, "GET", "/v1/pending", "", 200).await["pending"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        harness.admin(Some(&tokens.operator), "POST", &format!("/v1/pending/{OTHER}/enrol"), enrol).await.0,
        404
    );

    harness.admin_json(&tokens.operator, "POST", &format!("/v1/devices/{OWN}/disable"), "", 200).await;
    assert!(harness.get(&phone, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 404"));
    harness.admin_json(&tokens.operator, "POST", &format!("/v1/devices/{OWN}/enable"), "", 200).await;
    assert!(harness.get(&phone, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 200"));

    let patch = r#"{"display_name": "Reception", "site": "york"}"#;
    let updated = harness.admin_json(&tokens.operator, "PATCH", &format!("/v1/devices/{OWN}"), patch, 200).await;
    assert_eq!((updated["display_name"].as_str(), updated["site"].as_str()), (Some("Reception"), Some("york")));
    harness.admin_json(&tokens.operator, "DELETE", &format!("/v1/devices/{OWN}"), "", 204).await;
    assert_eq!(harness.admin(Some(&tokens.auditor), "GET", &format!("/v1/devices/{OWN}"), "").await.0, 404);
}

#[tokio::test]
async fn an_import_that_meets_a_store_failure_stops_there_and_says_so() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    harness.store.fail_audit_writes(true);
    let csv = "mac,user_name\n001565000201,1\n001565000202,2\n";
    let (status, text) = harness.admin(Some(&tokens.operator), "POST", "/v1/import?format=csv", csv).await;
    assert_eq!(status, 200, "{text}");
    let summary: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(summary["summary"]["stopped"].as_str().unwrap().starts_with("line 2:"), "{summary}");
    assert_eq!(summary["summary"]["created"], 0);
    harness.store.fail_audit_writes(false);
    let devices = harness.admin_json(&tokens.auditor, "GET", "/v1/devices", "", 200).await;
    assert!(devices["devices"].as_array().unwrap().is_empty(), "nothing was enrolled without its audit event");
}

#[tokio::test]
async fn tokens_are_listed_without_their_secret_and_a_revoked_one_stops_working() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let listed = harness.admin_json(&tokens.admin, "GET", "/v1/tokens", "", 200).await;
    let listed = listed["tokens"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 3);
    let text = serde_json::to_string(&listed).unwrap();
    for secret in [&tokens.auditor, &tokens.operator, &tokens.admin] {
        assert!(!text.contains(secret.as_str()));
    }
    assert_eq!(harness.admin(Some(&tokens.operator), "GET", "/v1/tokens", "").await.0, 403);
    let auditor = listed.iter().find(|t| t["role"] == "auditor").unwrap();
    let id = auditor["id"].as_str().unwrap();
    assert_eq!(harness.admin(Some(&tokens.admin), "DELETE", "/v1/tokens/abc", "").await.0, 400);
    harness.admin_json(&tokens.admin, "DELETE", &format!("/v1/tokens/{}", &id[..8]), "", 204).await;
    assert_eq!(harness.admin(Some(&tokens.auditor), "GET", "/v1/devices", "").await.0, 401, "revoked at once");
    assert_eq!(harness.admin(Some(&tokens.admin), "DELETE", &format!("/v1/tokens/{id}"), "").await.0, 404);
    let audit = harness.admin_json(&tokens.admin, "GET", "/v1/audit?kind=token-revoked", "", 200).await;
    assert!(audit["events"][0]["detail"].as_str().unwrap().contains(id), "{audit}");
}

#[tokio::test]
async fn no_layer_can_send_phones_to_a_plain_http_provisioning_server() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let body = format!(
        r#"{{"mac": "{OWN}", "user_name": "1001", "settings": {{"provisioning_url": "http://evil.example"}}}}"#
    );
    let (status, text) = harness.admin(Some(&tokens.operator), "POST", "/v1/devices", &body).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("must be an https:// URL"), "{text}");
    let csv = format!("mac,user_name,setting.language\n{OWN},1001,\"a\u{7}b\"\n");
    let (_, text) = harness.admin(Some(&tokens.operator), "POST", "/v1/import?format=csv", &csv).await;
    assert!(text.contains("control character U+0007"), "{text}");
    assert!(harness.credentials.store().device(&OWN.parse().unwrap()).unwrap().is_none());
}

#[tokio::test]
async fn nodes_sharing_a_store_see_each_others_bans_and_lifts() {
    let vendor_ca = ca("Yealink CA");
    let first = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let second = Harness::start_sharing(yealink_trust(&vendor_ca), &first).await;
    let tokens = tokens(&first);
    let phone = yealink_phone(&vendor_ca, OWN);
    assert!(second.tls(Some(&phone)).await.is_ok());

    // The first node bans loopback (as its scan detector would); the second picks it up.
    let until = Timestamp::from_unix(SystemClock.now().unix() + 600);
    let ban = Ban { key: "127.0.0.1".into(), reason: "scan".into(), until };
    let event = AuditEvent::without_device(SystemClock.now(), AuditKind::Banned, "source=\"127.0.0.1\"");
    first.store.put_ban(&ban, event).unwrap();
    second.admin_state.refresh_bans().unwrap();
    assert!(second.tls(Some(&phone)).await.is_err(), "banned on the second node: no TLS");

    // Lifted through the first node's API: the second node lifts it at its next refresh.
    first.admin_json(&tokens.operator, "DELETE", "/v1/bans/127.0.0.1", "", 204).await;
    second.admin_state.refresh_bans().unwrap();
    assert!(second.tls(Some(&phone)).await.is_ok(), "admitted again");
}

/// Threat 24: hostile text in admin fields is stored verbatim and rendered as text.
#[tokio::test]
async fn hostile_admin_input_is_stored_verbatim_and_rendered_as_text() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let tokens = tokens(&harness);
    let hostile = r#"Desk "A" <&> = # %s '; DROP TABLE devices; --"#;
    let body = serde_json::json!({
        "mac": OWN,
        "user_name": "1001",
        "display_name": hostile,
        "site": hostile,
        "settings": { "ntp_server": hostile },
    });
    harness.admin_json(&tokens.operator, "POST", "/v1/devices", &body.to_string(), 201).await;
    let device = harness.admin_json(&tokens.auditor, "GET", &format!("/v1/devices/{OWN}"), "", 200).await;
    assert_eq!((device["display_name"].as_str(), device["site"].as_str()), (Some(hostile), Some(hostile)));
    let listed = harness.admin_json(&tokens.auditor, "GET", "/v1/devices?site=%22A%22", "", 200).await;
    assert!(listed["devices"].as_array().unwrap().is_empty(), "a filter value is a value, not SQL");

    let config = harness.get(&yealink_phone(&vendor_ca, OWN), &format!("/{OWN}.cfg")).await;
    let line = |key: &str| format!("{key} = {hostile}");
    for key in ["account.1.display_name", "local_time.ntp_server1"] {
        assert!(config.lines().any(|l| l == line(key)), "{key}, verbatim on one line: {config}");
    }
    let spaced = serde_json::json!({ "settings": { "ntp_server": " padded " } });
    let (status, text) =
        harness.admin(Some(&tokens.operator), "PATCH", &format!("/v1/devices/{OWN}"), &spaced.to_string()).await;
    assert_eq!(status, 422, "{text}");
}
