//! Phones without a usable factory certificate (ITSPA rating 4), against the real daemon and
//! the real `curl`: an enrolment secret from the CLI, HTTP Digest (and Basic, as a provisioning
//! URL's userinfo gives it) over TLS on the `[digest]` listener, a replayed header refused,
//! a wrong secret and an unknown device answered alike, and a device whose policy wants its
//! certificate refused and audited.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::process::{Command, Output};

use serde_json::Value;
use support::{Daemon, append_config, have_tools, json_of, wait_until};

const PHONE: &str = "001565000010";
const VAULT: &str = "001565000011";

/// The demo daemon with a `[digest]` listener, and a policy that wants certificates at the site
/// `vault`.
fn start(dir: &std::path::Path) -> (Daemon, String) {
    start_with(dir, "[[policy]]\nsite = \"vault\"\nmin_rating = 5\n")
}

/// The demo daemon with a `[digest]` listener and `more` configuration, and the listener's URL.
fn start_with(dir: &std::path::Path, more: &str) -> (Daemon, String) {
    let daemon = Daemon::start_with(dir, |dir| {
        append_config(dir, &format!("[digest]\nlisten = \"127.0.0.1:0\"\n\n{more}"));
    });
    let mut digest = String::new();
    wait_until("the digest listener is named", || {
        let output = daemon.all_output();
        let serving = output
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|r| r["message"] == "serving");
        digest = serving.and_then(|record| record["digest"].as_str().map(str::to_owned)).unwrap_or_default();
        !digest.is_empty()
    });
    (daemon, format!("https://{digest}"))
}

/// The last response of a curl exchange, without what differs between any two (the date, the
/// nonce).
fn comparable(response: &str) -> String {
    let last = response.rsplit("HTTP/1.1 ").next().unwrap_or_default();
    last.lines()
        .filter(|line| !line.to_ascii_lowercase().starts_with("date:"))
        .map(|line| match line.split_once("nonce=\"") {
            Some((before, after)) => format!("{before}nonce=\"-\"{}", &after[after.find('"').unwrap_or(0)..]),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn enrol(daemon: &Daemon, mac: &str, user: &str, site: &str) -> String {
    let added: Output = daemon.cli(
        &daemon.admin_token,
        &["device", "add", mac, "--user", user, "--vendor", "yealink", "--site", site, "--auth", "digest", "--json"],
    );
    json_of(&added)["enrolment_secret"].as_str().unwrap().to_owned()
}

#[test]
fn a_phone_fetches_with_its_enrolment_secret_and_nothing_else_gets_in() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, digest) = start(dir.path());
    let secret = enrol(&daemon, PHONE, "1010", "leeds");
    let url = format!("{digest}/{PHONE}.cfg");
    let credentials = format!("{PHONE}:{secret}");

    // Digest: challenged, then served (with the secrets, the first time).
    let (status, served) = daemon.curl(&["--digest", "--user", &credentials, "--verbose", &url]);
    assert_eq!(status, 200, "{served}");
    assert!(served.contains("HTTP/1.1 401") && served.contains("algorithm=SHA-256"), "challenged first: {served}");
    assert!(served.contains("account.1.password = "), "{served}");

    // The same Authorization header again: a replay, challenged.
    let verbose = Command::new("curl")
        .args(["--silent", "--verbose", "--digest", "--user", &credentials, "--cacert"])
        .arg(daemon.pki("server-ca.pem"))
        .arg(&url)
        .output()
        .unwrap();
    let trace = String::from_utf8_lossy(&verbose.stderr);
    let header = trace.lines().find_map(|line| line.strip_prefix("> Authorization: ")).unwrap().trim().to_owned();
    let (status, replayed) = daemon.curl(&["--header", &format!("Authorization: {header}"), &url]);
    assert_eq!(status, 401, "a captured header does not work twice: {replayed}");

    // Basic, as a provisioning URL's userinfo gives it (over TLS).
    let userinfo = format!("{}/{PHONE}.cfg", digest.replacen("https://", &format!("https://{credentials}@"), 1));
    let (status, basic) = daemon.curl(&[&userinfo]);
    assert_eq!(status, 200, "{basic}");
    assert!(basic.contains("account.1.user_name = 1010"), "{basic}");

    // A wrong secret and a device that does not exist: the same answer.
    let (wrong_status, wrong) = daemon.curl(&["--digest", "--user", &format!("{PHONE}:not-the-secret"), &url]);
    let unknown_url = format!("{digest}/001565000099.cfg");
    let (unknown_status, unknown) = daemon.curl(&["--digest", "--user", "001565000099:anything", &unknown_url]);
    assert_eq!((wrong_status, unknown_status), (401, 401));
    assert_eq!(comparable(&wrong), comparable(&unknown));
    let (_, anonymous) = daemon.curl(&[&url]);
    assert_eq!(comparable(&anonymous), comparable(&wrong), "no credentials: the same challenge");

    // The certificate listener still wants a certificate.
    let (status, _) = daemon.curl(&["--digest", "--user", &credentials, &format!("{}/{PHONE}.cfg", daemon.phones)]);
    assert_eq!(status, 0, "no TLS session without a client certificate");

    // A device at a site whose policy wants certificates: refused with the uniform 404, audited.
    let vault = enrol(&daemon, VAULT, "1011", "vault");
    let (status, _) =
        daemon.curl(&["--digest", "--user", &format!("{VAULT}:{vault}"), &format!("{digest}/{VAULT}.cfg")]);
    assert_eq!(status, 404);
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "below-minimum-rating", "--json"]));
    let events = audit["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{audit}");
    assert!(events[0]["detail"].as_str().unwrap().contains("rating=4 minimum=5"), "{audit}");

    let metrics = daemon.metrics();
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"wrong_credentials\"} 3\n"), "{metrics}");
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"below_minimum_rating\"} 1\n"), "{metrics}");
    // The log says how each request was authenticated.
    wait_until("the Digest fetch is logged", || daemon.log_contains("\"outcome\":\"served_with_secrets\""));
    let logged = daemon.all_output();
    assert!(logged.contains("\"rating\":4") && logged.contains("\"outcome\":\"served_with_secrets\""), "{logged}");
    assert!(!logged.contains(&secret), "the secret is never logged");
}

/// A fetch authenticated by its secret takes one request from its source's budget, as one by
/// certificate does: the source is admitted before the credentials are checked, and only the
/// device's rate after them.
#[test]
fn an_authenticated_fetch_takes_one_request_from_its_sources_budget() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, digest) = start_with(dir.path(), "[limits]\nrequests_burst = 3\nrequest_interval_ms = 3600000\n");
    let secret = enrol(&daemon, PHONE, "1010", "leeds");
    // Basic credentials in the URL: one request a fetch, no challenge.
    let url = format!("{}/{PHONE}.cfg", digest.replacen("https://", &format!("https://{PHONE}:{secret}@"), 1));
    for fetch in 1..=3 {
        let (status, response) = daemon.curl(&[&url]);
        assert_eq!(status, 200, "fetch {fetch} of the source's three: {response}");
    }
    let (status, _) = daemon.curl(&[&url]);
    assert_eq!(status, 404, "the fourth is over the source's limit: the uniform answer");
    let metrics = daemon.metrics();
    assert!(metrics.contains("sipprov_phone_requests_total{outcome=\"rate_limited\"} 1\n"), "{metrics}");
}

/// Linphone (Debian's `linphone-cli`), a real client with no certificate: its `config-uri`
/// carries the MAC and the enrolment secret as userinfo, it answers the Digest challenge, and
/// ends up with the account, and with a `config-uri` that still reaches the Digest listener.
#[test]
fn linphone_provisions_itself_through_the_digest_challenge() {
    if !have_tools() {
        return;
    }
    if !support::linphone::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, digest) = start(dir.path());
    let added = daemon.cli(
        &daemon.admin_token,
        &["device", "add", "02:00:00:00:00:01", "--user", "3001", "--vendor", "linphone", "--auth", "digest", "--json"],
    );
    let secret = json_of(&added)["enrolment_secret"].as_str().unwrap().to_owned();
    // The server certificate names localhost: Linphone checks the name.
    let port = digest.rsplit(':').next().unwrap();
    let home = dir.path().join("home");
    let rc = dir.path().join("linphonerc");
    let ca = daemon.pki("server-ca.pem");
    std::fs::write(
        &rc,
        format!(
            "[misc]\nconfig-uri=https://020000000001:{secret}@localhost:{port}/020000000001.xml\n\n\
             [sip]\nroot_ca={}\nverify_server_certs=1\nverify_server_cn=1\n",
            ca.display()
        ),
    )
    .unwrap();
    let applied = support::linphone::run_until(&rc, &home, || {
        daemon.all_output().lines().any(|line| {
            line.contains("\"mac\":\"020000000001\"") && line.contains("\"outcome\":\"served_with_secrets\"")
        })
    });
    assert!(applied.contains("reg_identity=sip:3001@sip.example.net"), "{applied}");
    assert!(applied.contains(&format!("config-uri=https://020000000001:{secret}@")), "{applied}");
    assert!(applied.contains(&format!(":{port}/020000000001.xml")), "still the Digest listener: {applied}");
    wait_until("Linphone answered a challenge", || {
        daemon
            .all_output()
            .lines()
            .any(|line| line.contains("\"path\":\"/020000000001.xml\"") && line.contains("\"outcome\":\"challenged\""))
    });
}

/// A phone with only a legacy certificate (an RSA-1024 root signing with SHA-1): refused until
/// its trust entry says `legacy = true`, then identified at rating 4 (in the log, and held to
/// `[[policy]]`), and `check` warns about the entry.
#[test]
fn a_legacy_chain_is_served_only_under_an_explicit_legacy_entry_and_rated_4() {
    if !have_tools() {
        return;
    }
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/identity/tests/data");
    let root = fixtures.join("ca/legacy-rsa1024-sha1-root.pem");
    let (cert, key) =
        (fixtures.join("device/legacy-rsa1024-phone.pem"), fixtures.join("device/legacy-rsa1024-phone.key"));
    let entry =
        |legacy: bool| format!("\n[[trust]]\nbundle = \"{}\"\nrule = \"cn-mac\"\nlegacy = {legacy}\n", root.display());
    // Without `legacy = true` the bundle does not even load.
    let refused_dir = tempfile::tempdir().unwrap();
    support::prepare_demo(refused_dir.path());
    let config = refused_dir.path().join("sipprov.toml");
    std::fs::write(&config, std::fs::read_to_string(&config).unwrap() + &entry(false)).unwrap();
    let check = support::sipprovd(&["check", "--config"], refused_dir.path());
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stdout).contains("RSA-1024 key"), "{check:?}");

    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start_with(dir.path(), |dir| {
        let config = dir.join("sipprov.toml");
        let policy = "\n[[policy]]\nsite = \"vault\"\nmin_rating = 5\n";
        std::fs::write(&config, std::fs::read_to_string(&config).unwrap() + &entry(true) + policy).unwrap();
    });
    let check = support::sipprovd(&["check", "--config"], dir.path());
    assert!(check.status.success(), "a warning does not fail check: {check:?}");
    assert!(String::from_utf8_lossy(&check.stdout).contains("legacy = true accepts chains with SHA-1"), "{check:?}");

    daemon.enrol("000413000001", "4001");
    // OpenSSL refuses to present a SHA-1 chain above security level 0 (a legacy phone's TLS
    // stack is older than that rule): curl gets a configuration that lowers it.
    let openssl_conf = dir.path().join("legacy-openssl.cnf");
    std::fs::write(
        &openssl_conf,
        "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = default\n\
         [default]\nCipherString = DEFAULT@SECLEVEL=0\n",
    )
    .unwrap();
    // 00:04:13 is Snom's: the certificate names no vendor, so the OUI picks Snom's format.
    let fetch = || {
        let output = Command::new("curl")
            .env("OPENSSL_CONF", &openssl_conf)
            .args(["--silent", "--max-time", "10", "--write-out", "\n%{http_code}"])
            .arg("--cacert")
            .arg(daemon.pki("server-ca.pem"))
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg(format!("{}/000413000001.xml", daemon.phones))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or_default();
        (status.parse::<u16>().unwrap_or(0), body.to_owned())
    };
    let (status, config) = fetch();
    assert_eq!(status, 200, "{config}");
    wait_until("the fetch is logged", || daemon.all_output().contains("\"path\":\"/000413000001.xml\""));
    assert!(config.contains("<settings>"), "{config}");
    let logged = daemon.all_output();
    let line = logged
        .lines()
        .find(|line| line.contains("\"phone request\"") && line.contains("\"mac\":\"000413000001\""))
        .unwrap();
    assert!(line.contains("\"rating\":4"), "{line}");

    // Held to the rating policy like a secret: a site that wants certificates refuses it.
    let moved = daemon.cli(&daemon.admin_token, &["device", "update", "000413000001", "--site", "vault"]);
    assert!(moved.status.success(), "{moved:?}");
    assert_eq!(fetch().0, 404);
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--kind", "below-minimum-rating", "--json"]));
    assert_eq!(audit["events"].as_array().unwrap().len(), 1, "{audit}");
}
