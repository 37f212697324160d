//! The softphone portal against the real daemon and real clients: headless Chromium activates
//! an account, logs in, sees the password once (a second attempt refused and audited), makes a
//! QR link whose screenshot `zbarimg` decodes; Linphone (`linphonec`) follows a one-time link
//! once; `curl` plays the attacker (brute force, a replayed cookie, a form without its token).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

mod support;

use std::path::Path;
use std::process::Command;

use support::webdriver::Browser;
use support::{Daemon, have_tools, json_of};

const SOFTPHONE: &str = "020000000001";
const PASSWORD: &str = "violet tractor mountain";

/// The demo daemon with a `[portal]` on a port of its own, reached as `localhost` (the name
/// the demo certificate holds). Returns it and the portal's URL.
fn start(dir: &Path) -> (Daemon, String) {
    start_with(dir, "")
}

/// [`start`], with `extra` lines in `[portal]`.
fn start_with(dir: &Path, extra: &str) -> (Daemon, String) {
    let port = support::free_port();
    let url = format!("https://localhost:{port}");
    let daemon = Daemon::start_with(dir, |dir| {
        let config = dir.join("sipprov.toml");
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!(
            "\n[portal]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{url}\"\nbrand = \"Example Telecom\"\n{extra}"
        ));
        std::fs::write(config, text).unwrap();
    });
    let added = daemon.cli(
        &daemon.admin_token,
        &["device", "add", SOFTPHONE, "--user", "3001", "--vendor", "linphone", "--display-name", "Alice", "--json"],
    );
    assert!(added.status.success(), "{added:?}");
    (daemon, url)
}

/// The value of `name="..."`'s `value` attribute in a page, or a cookie from `Set-Cookie`.
fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!("name=\"{name}\" value=\"")).unwrap_or_else(|| panic!("no {name} in {page}"));
    let rest = &page[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn set_cookie(response: &str, name: &str) -> Option<String> {
    response.lines().find_map(|line| {
        let value = line.strip_prefix("set-cookie: ").or_else(|| line.strip_prefix("Set-Cookie: "))?;
        let value = value.strip_prefix(&format!("{name}="))?;
        Some(value.split(';').next().unwrap_or_default().to_owned()).filter(|v| !v.is_empty())
    })
}

fn audit_kinds(daemon: &Daemon) -> Vec<String> {
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--limit", "1000", "--json"]));
    audit["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap_or_default().to_owned()).collect()
}

/// Logs `name` in with curl from `source`; returns the session cookie, or the last response.
fn curl_login(daemon: &Daemon, url: &str, source: &str, name: &str, password: &str) -> Result<String, (u16, String)> {
    let (_, page) = daemon.curl(&["--interface", source, &format!("{url}/")]);
    let form_cookie = set_cookie(&page, "__Host-sipprov-form").unwrap();
    let token = hidden(&page, "csrf");
    let (status, response) = daemon.curl(&[
        "--interface",
        source,
        "--cookie",
        &format!("__Host-sipprov-form={form_cookie}"),
        "--data-urlencode",
        &format!("csrf={token}"),
        "--data-urlencode",
        &format!("name={name}"),
        "--data-urlencode",
        &format!("password={password}"),
        &format!("{url}/login"),
    ]);
    set_cookie(&response, "__Host-sipprov-session").ok_or((status, response))
}

#[test]
fn a_user_activates_sees_the_password_once_and_sets_up_a_softphone_from_a_qr_code() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(browser) = Browser::start(&dir.path().join("chromium")) else { return };
    if Command::new("zbarimg").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "zbarimg required in CI (.ci/run installs zbar-tools)");
        eprintln!("SKIPPED: zbarimg not found; install Debian's zbar-tools to run this test");
        return;
    }
    let (daemon, url) = start(dir.path());
    let created = json_of(&daemon.cli(
        &daemon.admin_token,
        &["user", "add", "--name", "alice", "--email", "alice@example.net", "--device", SOFTPHONE, "--json"],
    ));
    let activation = created["activation_url"].as_str().unwrap();
    assert!(activation.starts_with(&format!("{url}/activate?user=alice&token=")), "{created}");

    // Every answer carries the security headers.
    let (_, login_page) = daemon.curl(&[&format!("{url}/")]);
    for header in [
        "content-security-policy: default-src 'none'",
        "strict-transport-security: max-age=",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
        "cache-control: no-store",
    ] {
        assert!(login_page.to_lowercase().contains(header), "{header}: {login_page}");
    }

    // Activate: a common password is refused with the reason, then a good one is set.
    browser.open(activation);
    browser.type_into("#password", "password123456");
    browser.type_into("#again", "password123456");
    browser.click("main button[type=submit]");
    browser.page_with("most common");
    browser.type_into("#password", PASSWORD);
    browser.type_into("#again", PASSWORD);
    browser.click("main button[type=submit]");
    browser.page_with("Your password is set");
    browser.open(activation);
    browser.type_into("#password", "another fine password");
    browser.type_into("#again", "another fine password");
    browser.click("main button[type=submit]");
    browser.page_with("not valid"); // an activation link works once

    // Log in, and see the password once (after giving the password again).
    browser.open(&format!("{url}/"));
    browser.type_into("#name", "alice");
    browser.type_into("#password", PASSWORD);
    browser.click("main button[type=submit]");
    browser.page_with("Your softphones");
    browser.page_with("3001 (Alice)");
    browser.click(&format!("a[href='/reveal/{SOFTPHONE}']"));

    browser.type_into("#password", PASSWORD);
    browser.click("main button[type=submit]");
    let revealed = browser.text("#password-1");
    assert!(revealed.len() >= 16, "{}", browser.source());
    browser.page_with("sip.example.net");
    assert!(!daemon.all_output().contains(&revealed), "the password is never logged");

    // A second reveal: refused, audited as an alert, and in the suspicious summary.
    browser.open(&format!("{url}/reveal/{SOFTPHONE}"));
    browser.type_into("#password", PASSWORD);
    browser.click("main button[type=submit]");
    browser.page_with("not shown again");
    assert!(!browser.source().contains(&revealed));
    assert!(audit_kinds(&daemon).contains(&"reveal-repeated".to_owned()));
    let suspicious = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "suspicious", "--json"]));
    let alerts = suspicious["portal_alerts"].as_array().unwrap();
    assert!(alerts.iter().any(|a| a["subject"] == SOFTPHONE && a["last_reason"] == "reveal-repeated"), "{suspicious}");

    // A new password, then a QR link: the screenshot decodes to the link the page shows.
    browser.open(&format!("{url}/"));
    browser.click(&format!("form[action='/renew/{SOFTPHONE}'] button"));
    browser.page_with("A new password was issued");
    browser.click(&format!("form[action='/link/{SOFTPHONE}'] button"));
    let link = browser.text("#link");
    assert!(link.starts_with(&format!("{url}/p/")) && link.len() == url.len() + 3 + 43, "{link}");
    let screenshot = dir.path().join("qr.png");
    std::fs::write(&screenshot, browser.screenshot()).unwrap();
    let decoded = Command::new("zbarimg").args(["--quiet", "--raw"]).arg(&screenshot).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&decoded.stdout).trim(), link, "the QR code holds the link");

    // The link delivers the new password once; the second use gets the uniform 404 and an alert.
    let (status, config) = daemon.curl(&[&link]);
    assert_eq!(status, 200, "{config}");
    assert!(config.contains("<entry name=\"transient_provisioning\" overwrite=\"true\">1</entry>"), "{config}");
    assert!(config.contains("<entry name=\"passwd\" overwrite=\"true\">") && !config.contains(&revealed), "{config}");
    let (status, again) = daemon.curl(&[&link]);
    let (_, unknown) = daemon.curl(&[&format!("{url}/p/{}", "A".repeat(43))]);
    assert_eq!(status, 404);
    assert_eq!(body_of(&again), body_of(&unknown), "a used link and an unknown one answer alike");
    assert!(audit_kinds(&daemon).contains(&"link-replayed".to_owned()));

    // Logout ends the session: the cookie replayed afterwards gets the login page.
    let session = browser.cookie("__Host-sipprov-session").expect("a session cookie");
    browser.click(".logout button");
    browser.page_with("action=\"/login\"");
    let (_, replayed) = daemon.curl(&["--cookie", &format!("__Host-sipprov-session={session}"), &format!("{url}/")]);
    assert!(replayed.contains("action=\"/login\"") && !replayed.contains("Your softphones"), "{replayed}");

    // A form posted without its session's token is refused, and changes nothing.
    let cookie = curl_login(&daemon, &url, "127.0.0.1", "alice", PASSWORD).unwrap();
    let before = audit_kinds(&daemon).iter().filter(|k| *k == "rearmed").count();
    let (status, refused) = daemon.curl(&[
        "--cookie",
        &format!("__Host-sipprov-session={cookie}"),
        "--data",
        "x=1",
        &format!("{url}/renew/{SOFTPHONE}"),
    ]);
    assert_eq!(status, 403, "{refused}");
    assert_eq!(audit_kinds(&daemon).iter().filter(|k| *k == "rearmed").count(), before, "nothing re-armed");
    let logged = daemon.all_output();
    assert!(!logged.contains(&link[url.len() + 3..]), "link tokens never reach the log");
    assert!(!logged.contains(activation.rsplit('=').next().unwrap()), "activation tokens never reach the log");
}

/// Sets `name`'s password from the activation link in `created` (what `user add --json` printed).
fn activate(daemon: &Daemon, url: &str, name: &str, created: &serde_json::Value) {
    let token = created["activation_url"].as_str().unwrap().rsplit('=').next().unwrap().to_owned();
    let (_, page) = daemon.curl(&[&format!("{url}/activate?user={name}&token={token}")]);
    let form_cookie = set_cookie(&page, "__Host-sipprov-form").unwrap();
    let (status, _) = daemon.curl(&[
        "--cookie",
        &format!("__Host-sipprov-form={form_cookie}"),
        "--data-urlencode",
        &format!("csrf={}", hidden(&page, "csrf")),
        "--data-urlencode",
        &format!("user={name}"),
        "--data-urlencode",
        &format!("token={token}"),
        "--data-urlencode",
        &format!("password={PASSWORD}"),
        "--data-urlencode",
        &format!("again={PASSWORD}"),
        &format!("{url}/activate"),
    ]);
    assert_eq!(status, 200);
}

fn body_of(response: &str) -> &str {
    response.rsplit("\r\n\r\n").next().unwrap_or_default()
}

#[test]
fn guessing_a_password_from_one_address_is_locked_out_before_twenty_attempts() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, url) = start(dir.path());
    let created = json_of(&daemon.cli(
        &daemon.admin_token,
        &["user", "add", "--name", "bob", "--email", "bob@example.net", "--device", SOFTPHONE, "--json"],
    ));
    activate(&daemon, &url, "bob", &created);

    // One guesser, many names and then the real one: locked out well before 20 attempts.
    let mut locked_at = None;
    for attempt in 1..=20 {
        let name = if attempt % 2 == 0 { "bob".to_owned() } else { format!("user{attempt}") };
        match curl_login(&daemon, &url, "127.0.0.7", &name, "not the password") {
            Ok(_) => panic!("a wrong password logged in"),
            Err((429, page)) => {
                assert!(page.contains("Too many failed attempts"), "{page}");
                locked_at = Some(attempt);
                break;
            }
            Err((status, page)) => assert_eq!(status, 401, "{page}"),
        }
    }
    let locked_at = locked_at.expect("locked out within 20 attempts");
    assert!(locked_at <= 11, "locked at attempt {locked_at}");
    assert!(curl_login(&daemon, &url, "127.0.0.7", "bob", PASSWORD).is_err(), "even the right password, from there");
    // Bob's own account locked after five failures: from another address too.
    assert!(curl_login(&daemon, &url, "127.0.0.8", "bob", PASSWORD).is_err(), "the account is locked");
    let kinds = audit_kinds(&daemon);
    assert!(kinds.iter().filter(|k| *k == "locked-out").count() >= 2, "the address and the account: {kinds:?}");
    assert!(kinds.iter().filter(|k| *k == "login-failed").count() >= locked_at - 1, "{kinds:?}");
}

/// Linphone follows a one-time link: it ends with the account, its identity and registrar, and
/// forgets the link; a second start with the same link gets nothing.
#[test]
fn linphone_follows_a_one_time_link_once() {
    if !have_tools() {
        return;
    }
    if !support::linphone::available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, url) = start(dir.path());
    let made = json_of(&daemon.cli(&daemon.admin_token, &["softphone", "link", SOFTPHONE, "--ttl", "10m", "--json"]));
    let link = made["url"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("{url}/p/")), "{made}");
    assert!(made["expires_at"].as_str().is_some(), "{made}");

    let run = |name: &str| -> String {
        let home = dir.path().join(name);
        std::fs::create_dir_all(&home).unwrap();
        let rc = home.join("linphonerc");
        let ca = daemon.pki("server-ca.pem");
        let rc_text = format!(
            "[misc]\nconfig-uri={link}\n\n[sip]\nroot_ca={}\nverify_server_certs=1\nverify_server_cn=1\n",
            ca.display()
        );
        std::fs::write(&rc, rc_text).unwrap();
        let before = daemon.all_output().matches("\"route\":\"provisioning-link\"").count();
        support::linphone::run_until(&rc, &home, || {
            daemon.all_output().matches("\"route\":\"provisioning-link\"").count() > before
        })
    };

    let applied = run("first");
    assert!(applied.contains("reg_identity=sip:3001@sip.example.net"), "{applied}");
    assert!(applied.contains("reg_proxy=<sip:sip.example.net;transport=tls>"), "{applied}");
    assert!(applied.contains("username=3001"), "{applied}");
    assert!(!applied.contains(&link), "Linphone forgot the link (transient provisioning): {applied}");
    let audit = json_of(&daemon.cli(&daemon.auditor_token, &["audit", "--mac", SOFTPHONE, "--json"]));
    let delivered = audit["events"].as_array().unwrap().iter().any(|e| {
        e["kind"] == "delivered" && e["detail"].as_str().unwrap_or_default().contains("secrets=yes first=yes")
    });
    assert!(delivered, "the link was the first delivery: {audit}");

    let second = run("second");
    assert!(!second.contains("reg_identity"), "a second start with the same link gets nothing: {second}");
    support::wait_until("the used link's 404 is logged", || {
        daemon.all_output().contains("\"route\":\"provisioning-link\",\"status\":404")
    });
    assert!(audit_kinds(&daemon).contains(&"link-replayed".to_owned()));
}

/// With `second_factor = "required"`, a user sets up an authenticator at the first login
/// before seeing any softphone; every later login asks for a code, and a code works once.
#[test]
fn a_required_second_factor_is_set_up_at_first_login_and_asked_at_every_login() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, url) = start_with(dir.path(), "second_factor = \"required\"\n");
    let created = json_of(&daemon.cli(
        &daemon.admin_token,
        &["user", "add", "--name", "carol", "--email", "carol@example.net", "--device", SOFTPHONE, "--json"],
    ));
    activate(&daemon, &url, "carol", &created);
    let with = |cookie: &str| format!("__Host-sipprov-session={cookie}");

    // First login: the set-up page, and nothing else until the second factor is on.
    let cookie = curl_login(&daemon, &url, "127.0.0.1", "carol", PASSWORD).unwrap();
    let (status, page) = daemon.curl(&["--cookie", &with(&cookie), &format!("{url}/")]);
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Set up a second factor") && page.contains("<svg"), "{page}");
    assert!(!page.contains("Your softphones"), "{page}");
    let key = page.split("id=\"totp-key\">").nth(1).unwrap().split('<').next().unwrap().to_owned();
    let (status, _) = daemon.curl(&["--cookie", &with(&cookie), &format!("{url}/reveal/{SOFTPHONE}")]);
    assert_eq!(status, 303, "no reveal before the second factor is on");
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = |offset: u64| sipprov_credentials::totp_code(&key, now() + offset).unwrap();
    let first = code(0);
    let (status, turned_on) = daemon.curl(&[
        "--cookie",
        &with(&cookie),
        "--data",
        &format!("csrf={}&code={first}", hidden(&page, "csrf")),
        &format!("{url}/totp"),
    ]);
    assert_eq!(status, 200, "{turned_on}");
    assert!(turned_on.contains("Your second factor is on") && turned_on.contains("Your softphones"), "{turned_on}");

    // The next login stops at the code: a wrong one is refused, a fresh one completes it.
    let waiting = curl_login(&daemon, &url, "127.0.0.1", "carol", PASSWORD).unwrap();
    let (_, page) = daemon.curl(&["--cookie", &with(&waiting), &format!("{url}/")]);
    assert!(page.contains("action=\"/login/code\"") && !page.contains("Your softphones"), "{page}");
    let csrf = hidden(&page, "csrf");
    let post_code = |code: &str| {
        daemon.curl(&[
            "--cookie",
            &with(&waiting),
            "--data",
            &format!("csrf={csrf}&code={code}"),
            &format!("{url}/login/code"),
        ])
    };
    assert_eq!(post_code("000000x").0, 401);
    assert_eq!(post_code(&first).0, 401, "the code that turned it on was used already");
    let (status, done) = post_code(&code(30));
    assert_eq!(status, 303, "{done}");
    let complete = set_cookie(&done, "__Host-sipprov-session").unwrap();
    assert_ne!(complete, waiting, "a new session cookie once the login completes");
    let (_, home) = daemon.curl(&["--cookie", &with(&complete), &format!("{url}/")]);
    assert!(home.contains("Your softphones"), "{home}");
    let (_, stale) = daemon.curl(&["--cookie", &with(&waiting), &format!("{url}/")]);
    assert!(!stale.contains("Your softphones"), "the waiting cookie is gone: {stale}");
    assert!(!daemon.all_output().contains(&key), "the TOTP key is never logged");
}

/// The same one-time link serves Acrobits' and Zoiper's account files (`/acrobits.xml`,
/// `/zoiper.xml` after it), once in all; an unknown file name does not use it up.
#[test]
fn other_softphones_get_their_account_format_through_the_same_link_once() {
    if !have_tools() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (daemon, _) = start(dir.path());
    let link = |ttl: &str| {
        json_of(&daemon.cli(&daemon.admin_token, &["softphone", "link", SOFTPHONE, "--ttl", ttl, "--json"]))
    };
    let made = link("5m");
    let (url, acrobits, zoiper) = (
        made["url"].as_str().unwrap(),
        made["formats"]["acrobits"].as_str().unwrap(),
        made["formats"]["zoiper"].as_str().unwrap(),
    );
    assert_eq!((acrobits, zoiper), (&*format!("{url}/acrobits.xml"), &*format!("{url}/zoiper.xml")), "{made}");
    assert_eq!(daemon.curl(&[&format!("{url}/linphone.xml")]).0, 404, "an unknown file name");
    let (status, account) = daemon.curl(&[acrobits]);
    assert_eq!(status, 200, "the unknown file name did not use the link up: {account}");
    for expected in [
        "<username>3001</username>",
        "<authUsername>3001</authUsername>",
        "<host>sip.example.net</host>",
        "<extProvInterval>0</extProvInterval>",
    ] {
        assert!(account.contains(expected), "{expected}: {account}");
    }
    assert!(account.contains("<password>") && account.contains("<title>Alice</title>"), "{account}");
    assert_eq!(daemon.curl(&[zoiper]).0, 404, "one use in all formats");

    let made = link("5m");
    let (status, config) = daemon.curl(&[made["formats"]["zoiper"].as_str().unwrap()]);
    assert_eq!(status, 200, "{config}");
    for expected in [
        "<SIP_domain>sip.example.net</SIP_domain>",
        "<SIP_auth_username>3001</SIP_auth_username>",
        "<save_password>true</save_password>",
    ] {
        assert!(config.contains(expected), "{expected}: {config}");
    }

    // A Zoiper device's own file is Zoiper's.
    let added = daemon
        .cli(&daemon.admin_token, &["device", "add", "02:00:00:00:00:02", "--user", "3002", "--vendor", "zoiper"]);
    assert!(added.status.success(), "{added:?}");
    let made = json_of(&daemon.cli(&daemon.admin_token, &["softphone", "link", "020000000002", "--json"]));
    let (status, own) = daemon.curl(&[made["url"].as_str().unwrap()]);
    assert_eq!(status, 200, "{own}");
    assert!(own.contains("<options>") && own.contains("<username>3002</username>"), "{own}");
}
