//! The one-time delivery against the real listener: a secret counts as delivered only when it
//! leaves in a rendered config, to the certificate the operator approved, in a URI that cannot
//! be rewritten, over a certificate meant for client authentication.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use sipprov_credentials::{Account, AuditKind, AuditQuery, CredentialState, Role, Store};
use sipprov_identity::Mac;
use sipprov_server::Timeouts;
use support::*;

fn operator(harness: &Harness) -> String {
    harness.credentials.create_api_token("ops", Role::Operator, "test").unwrap().expose().to_owned()
}

fn kinds(harness: &Harness, mac: &str) -> Vec<AuditKind> {
    let query = AuditQuery { mac: Some(mac.parse().unwrap()), limit: usize::MAX, ..AuditQuery::default() };
    harness.store.audit(&query).unwrap().into_iter().map(|e| e.event.kind).collect()
}

fn state(harness: &Harness, mac: &str) -> CredentialState {
    harness.store.device(&mac.parse().unwrap()).unwrap().unwrap().state
}

/// Item 1: a HEAD of the phone's own file is answered like a GET but delivers nothing.
#[tokio::test]
async fn head_never_consumes_the_delivery_nor_carries_a_secret() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let head = harness.request(Some(&phone), "HEAD", &format!("/{OWN}.cfg")).await.unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{head}");
    assert!(!head.contains("account.1.password"), "a HEAD carries no body, let alone a secret: {head}");
    assert!(matches!(state(&harness, OWN), CredentialState::Issued { .. }), "not delivered");
    assert_eq!(harness.store.device(&OWN.parse().unwrap()).unwrap().unwrap().pinned_spki, None, "no key pinned");
    assert_eq!(kinds(&harness, OWN), [AuditKind::Enrolled], "no delivery audited");
    // The GET that follows gets the password, and is the delivery.
    let get = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(get.contains("account.1.password = "), "{get}");
    assert!(matches!(state(&harness, OWN), CredentialState::Delivered { .. }));
    // A HEAD for another device's file is the uniform 404, like a GET.
    let other = harness.request(Some(&phone), "HEAD", &format!("/{OTHER}.cfg")).await.unwrap();
    assert!(other.starts_with("HTTP/1.1 404 Not Found\n"), "{other}");
}

/// Item 2: a config that cannot be rendered answers 503 and consumes nothing; the API refuses
/// the values that caused it.
#[tokio::test]
async fn a_render_failure_consumes_nothing_and_the_api_refuses_unrenderable_values() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    // Enrolled by a library caller, past the API's checks: a name Yealink's format cannot carry.
    let account = Account::new(1, "1001", "a-1001", "Desk ");
    harness.credentials.enrol(OWN.parse::<Mac>().unwrap(), vec![account], Vec::new()).unwrap().unwrap();
    let phone = yealink_phone(&vendor_ca, OWN);
    let failed = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(failed.starts_with("HTTP/1.1 503"), "{failed}");
    assert!(matches!(state(&harness, OWN), CredentialState::Issued { .. }), "the password never left");
    assert_eq!(kinds(&harness, OWN), [AuditKind::Enrolled], "nothing delivered, nothing pinned");
    // The operator fixes the name; the next fetch delivers the password.
    let token = operator(&harness);
    let fix = r#"{"display_name": "Desk"}"#;
    harness.admin_json(&token, "PATCH", &format!("/v1/devices/{OWN}"), fix, 200).await;
    let served = harness.get(&phone, &format!("/{OWN}.cfg")).await;
    assert!(served.contains("account.1.password = "), "{served}");

    // What the admin API and the import accept, every vendor's format can carry.
    for (body, field) in [
        (r#"{"mac": "001565000070", "user_name": "1002", "display_name": "A\uffffB"}"#, "display_name"),
        (r#"{"mac": "001565000070", "user_name": "1002", "password": " padded-password "}"#, "password"),
        (r#"{"mac": "001565000070", "user_name": "1002", "settings": {"ntp_server": "x\ufffe"}}"#, "ntp_server"),
    ] {
        let (status, text) = harness.admin(Some(&token), "POST", "/v1/devices", body).await;
        assert_eq!(status, 422, "{body}: {text}");
        assert!(text.contains(field), "the error names {field}: {text}");
    }
    let csv = "mac,user_name,display_name\n001565000071,1003,\"A\u{ffff}\"\n";
    let (status, text) = harness.admin(Some(&token), "POST", "/v1/import?format=csv", csv).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("\"result\":\"error\"") && text.contains("display_name"), "{text}");
    assert!(harness.store.device(&"001565000071".parse().unwrap()).unwrap().is_none());
}

/// Item 3: enrolling a pending device pins the key the operator saw in `pending list`.
#[tokio::test]
async fn enrolling_a_pending_device_pins_the_fingerprint_the_operator_approved() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let token = operator(&harness);
    let (real, forged) = (yealink_phone(&vendor_ca, OWN), yealink_phone(&vendor_ca, OWN));
    assert!(harness.get(&real, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 404"));
    let listed = harness.admin_json(&token, "GET", "/v1/pending", "", 200).await;
    let approved = listed["pending"][0]["spki_sha256"].as_str().unwrap().to_owned();
    assert_eq!(approved.len(), 64, "the key fingerprint is shown: {listed}");
    // Another certificate claims the same MAC before the operator acts: both are listed.
    assert!(harness.get(&forged, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 404"));
    let listed = harness.admin_json(&token, "GET", "/v1/pending", "", 200).await;
    let keys: Vec<&str> =
        listed["pending"].as_array().unwrap().iter().map(|p| p["spki_sha256"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 2, "{listed}");
    assert!(keys.contains(&approved.as_str()));
    let path = format!("/v1/pending/{OWN}/enrol");
    let (status, text) = harness.admin(Some(&token), "POST", &path, r#"{"user_name": "1001"}"#).await;
    assert_eq!(status, 409, "two keys: the operator must say which: {text}");
    let unseen = format!(r#"{{"user_name": "1001", "spki_sha256": "{}"}}"#, "ab".repeat(32));
    assert_eq!(harness.admin(Some(&token), "POST", &path, &unseen).await.0, 409);
    let body = format!(r#"{{"user_name": "1001", "spki_sha256": "{approved}"}}"#);
    let enrolled = harness.admin_json(&token, "POST", &path, &body, 201).await;
    assert_eq!(enrolled["device"]["key_pinned"], Value::Bool(true));
    // The other certificate gets the uniform 404 and an alert; the approved one gets the secret.
    assert!(harness.get(&forged, &format!("/{OWN}.cfg")).await.starts_with("HTTP/1.1 404"));
    assert_eq!(kinds(&harness, OWN).last(), Some(&AuditKind::KeyMismatch));
    assert!(harness.get(&real, &format!("/{OWN}.cfg")).await.contains("account.1.password = "));
}

/// Item 4: a user name that would rewrite a SIP URI is refused wherever it is accepted.
#[tokio::test]
async fn a_sip_user_name_that_would_rewrite_the_uri_is_refused_everywhere() {
    let harness = Harness::start(yealink_trust(&ca("Yealink CA")), Timeouts::default()).await;
    let token = operator(&harness);
    for user in ["1001@evil.example", "1001>", "a;b?c@d", "1 001", "<sip:x@y>"] {
        let body = serde_json::json!({ "mac": OWN, "user_name": user }).to_string();
        let (status, text) = harness.admin(Some(&token), "POST", "/v1/devices", &body).await;
        assert_eq!(status, 422, "{user}: {text}");
        assert!(text.contains("user_name"), "{text}");
        let csv = format!("mac,user_name\n{OWN},\"{user}\"\n");
        let (_, imported) = harness.admin(Some(&token), "POST", "/v1/import?format=csv", &csv).await;
        assert!(imported.contains("\"result\":\"error\""), "{user}: {imported}");
    }
    assert!(harness.store.device(&OWN.parse().unwrap()).unwrap().is_none(), "nothing was enrolled");
    harness
        .admin_json(&token, "POST", "/v1/devices", &format!(r#"{{"mac": "{OWN}", "user_name": "1001"}}"#), 201)
        .await;
    let patch = r#"{"user_name": "1001@evil.example"}"#;
    assert_eq!(harness.admin(Some(&token), "PATCH", &format!("/v1/devices/{OWN}"), patch).await.0, 422);
    let e164 = r#"{"user_name": "+441632960123"}"#;
    harness.admin_json(&token, "PATCH", &format!("/v1/devices/{OWN}"), e164, 200).await;
}

/// Item 5: a leaf whose keyUsage lacks digitalSignature is refused in the handshake.
#[tokio::test]
async fn a_certificate_whose_key_usage_lacks_digital_signature_is_refused_at_tls() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let with_usages = |usages: Vec<KeyUsagePurpose>| {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, "yealink.com");
        params
            .distinguished_name
            .push(DnType::CustomDnType(vec![2, 5, 4, 5]), format!("ffffffff-ffff-ffff-fff0-{OWN}"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.key_usages = usages;
        let cert = params.signed_by(&key, &vendor_ca).unwrap();
        Phone {
            chain: vec![cert.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        }
    };
    let ca_only = with_usages(vec![KeyUsagePurpose::KeyCertSign]);
    // The client may see the refusal at the handshake or on its first read (TLS 1.3).
    let refused = harness.request(Some(&ca_only), "GET", &format!("/{OWN}.cfg")).await;
    assert!(refused.as_ref().is_ok_and(String::is_empty) || refused.is_err(), "{refused:?}");
    assert!(matches!(state(&harness, OWN), CredentialState::Issued { .. }));
    let signing = with_usages(vec![KeyUsagePurpose::DigitalSignature]);
    assert!(harness.get(&signing, &format!("/{OWN}.cfg")).await.contains("account.1.password = "));
}

/// A served poll's client facts reach the store in the batch written at shutdown (and every
/// few seconds before it), never as an audit row.
#[tokio::test]
async fn served_fetches_are_seen_in_the_inventory_after_the_batch_and_leave_no_audit_row() {
    let vendor_ca = ca("Yealink CA");
    let mut harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    assert!(harness.get(&phone, &format!("/{OWN}.cfg")).await.contains("account.1.password = "));
    let events = kinds(&harness, OWN).len();
    let mut tls = harness.tls(Some(&phone)).await.unwrap();
    let request = format!(
        "GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Yealink SIP-T46U 108.86.0.20\r\nConnection: close\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut tls, request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut response).await.unwrap();
    assert!(String::from_utf8_lossy(&response).starts_with("HTTP/1.1 200"));
    harness.shut_down().await.unwrap();
    let seen = harness.store.device(&OWN.parse().unwrap()).unwrap().unwrap().last_seen.expect("written at shutdown");
    assert_eq!((seen.peer.as_str(), seen.user_agent.as_deref()), ("127.0.0.1", Some("Yealink SIP-T46U 108.86.0.20")));
    // The second fetch was inside the grace, so it delivered again: audited. Its facts are not.
    assert_eq!(kinds(&harness, OWN).len(), events + 1);
    assert_eq!(kinds(&harness, OWN).last(), Some(&AuditKind::Delivered));
}

/// A HEAD is refused like a GET, with the same audit trail: disabled, dormant, another key.
#[tokio::test]
async fn head_is_refused_and_audited_like_get_for_every_refusal() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    let unknown = harness.request(Some(&yealink_phone(&vendor_ca, OWN)), "HEAD", "/nothing-here").await.unwrap();
    // Dormant: stored as the sweep leaves it.
    let dormant: Mac = "001565000090".parse().unwrap();
    let mut record = sipprov_credentials::DeviceRecord {
        mac: dormant,
        accounts: vec![Account::new(1, "1090", "a-1090", "Desk")],
        state: CredentialState::Dormant { since: sipprov_credentials::Timestamp::from_unix(1_800_000_000) },
        secrets: None,
        pinned_spki: None,
        enrolment_secret: None,
        disabled: false,
        enrolled_at: sipprov_credentials::Timestamp::from_unix(1_700_000_000),
        last_seen: None,
        profile: Default::default(),
    };
    assert!(harness.store.insert_device(record.clone(), Vec::new()).unwrap());
    // Disabled.
    record.mac = "001565000091".parse().unwrap();
    record.state = CredentialState::Purged;
    record.disabled = true;
    assert!(harness.store.insert_device(record, Vec::new()).unwrap());
    // Another key: pinned by a first GET, then asked with a second certificate for the MAC.
    harness.enrol(OWN);
    assert!(harness.get(&yealink_phone(&vendor_ca, OWN), &format!("/{OWN}.cfg")).await.contains("200 OK"));
    for (mac, kind) in
        [("001565000090", AuditKind::Refused), ("001565000091", AuditKind::Refused), (OWN, AuditKind::KeyMismatch)]
    {
        let phone = yealink_phone(&vendor_ca, mac);
        let head = harness.request(Some(&phone), "HEAD", &format!("/{mac}.cfg")).await.unwrap();
        assert_eq!(head, unknown, "{mac}: the uniform answer");
        assert_eq!(kinds(&harness, mac).last(), Some(&kind), "{mac}: audited");
    }
}

/// Without a model in the inventory or the certificate, the layout follows the model the
/// phone's own User-Agent names: a Yealink DECT base gets its handsets' lines, a desk phone none.
#[tokio::test]
async fn the_user_agents_model_picks_the_layout_when_nothing_else_names_one() {
    let vendor_ca = ca("Yealink CA");
    let harness = Harness::start(yealink_trust(&vendor_ca), Timeouts::default()).await;
    harness.enrol(OWN);
    let phone = yealink_phone(&vendor_ca, OWN);
    let fetch_as = |user_agent: &'static str| {
        let (harness, phone) = (&harness, &phone);
        async move {
            let mut tls = harness.tls(Some(phone)).await.unwrap();
            let request = format!(
                "GET /{OWN}.cfg HTTP/1.1\r\nHost: localhost\r\nUser-Agent: {user_agent}\r\nConnection: close\r\n\r\n"
            );
            tokio::io::AsyncWriteExt::write_all(&mut tls, request.as_bytes()).await.unwrap();
            let mut response = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut tls, &mut response).await.unwrap();
            String::from_utf8_lossy(&response).into_owned()
        }
    };
    let base = fetch_as("Yealink W70B 146.85.0.20 00:15:65:00:00:62").await;
    assert!(base.contains("handset.1.incoming_lines = 1"), "{base}");
    let desk = fetch_as("Yealink SIP-T46U 108.86.0.20").await;
    assert!(desk.starts_with("HTTP/1.1 200") && !desk.contains("handset."), "{desk}");
    // A User-Agent of another vendor names no model for this file.
    let other = fetch_as("Grandstream Model HW W70B SW 1.0.0.1").await;
    assert!(!other.contains("handset."), "{other}");
}
