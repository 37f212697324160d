//! `sipprov ua parse`, `path parse`, `render` and `lint` as an operator runs them: JSON and
//! exit codes out. Settings come from `tests/data/template/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn sipprov(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipprov")).args(args).output().unwrap()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/template").join(name)
}

fn json_of(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {output:?}"))
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn ua_parse_prints_the_four_fields() {
    let output = sipprov(&["ua", "parse", "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", "--json"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        stdout(&output),
        "{\"vendor\": \"yealink\", \"model\": \"T46G\", \"firmware\": \"28.72.0.1\", \"mac\": \"0015654aa937\"}\n"
    );
    let output = sipprov(&["ua", "parse", "Cisco/SPA508G-7.4.4 (0002FDFF2103)(CBT141400UK)", "--json"]);
    assert_eq!(
        json_of(&output),
        json!({"vendor": "cisco", "model": "SPA508G", "firmware": "7.4.4", "mac": "0002fdff2103"})
    );
    let output = sipprov(&["ua", "parse", "FileTransport PolycomVVX-VVX_500-UA/5.9.7.4477 Type/Updater", "--json"]);
    assert_eq!(json_of(&output), json!({"vendor": "polycom", "model": "VVX_500", "firmware": null, "mac": null}));
}

#[test]
fn ua_parse_of_an_unknown_agent_is_all_null() {
    for ua in ["Unknown", "", "curl/8.5.0", "Yealink\nfake: header"] {
        let output = sipprov(&["ua", "parse", ua, "--json"]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let value = json_of(&output);
        if ua.starts_with("Yealink") {
            assert_eq!(value["vendor"], "yealink");
            assert_eq!(value["model"], Value::Null, "a token with a line break is not a model");
        } else {
            assert_eq!(value, json!({"vendor": null, "model": null, "firmware": null, "mac": null}), "{ua:?}");
        }
    }
    let text = sipprov(&["ua", "parse", "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872"]);
    assert!(stdout(&text).contains("model:    GXP2135\n"), "{}", stdout(&text));
}

#[test]
fn path_parse_prints_vendor_kind_and_mac() {
    let cases = [
        ("/001565AABBCC.cfg", None, json!({"vendor": null, "kind": "device", "mac": "001565aabbcc"})),
        (
            "/00:15:65:aa:bb:cc.cfg",
            Some("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37"),
            json!({"vendor": "yealink", "kind": "device", "mac": "001565aabbcc"}),
        ),
        ("/000000000000.cfg", None, json!({"vendor": "polycom", "kind": "common", "mac": null})),
        ("/0004f28b54f4-app.log", None, json!({"vendor": "polycom", "kind": "upload", "mac": "0004f28b54f4"})),
        ("/T46-28.83.0.50.rom", None, json!({"vendor": "yealink", "kind": "firmware", "mac": null})),
        ("/snomD785-00041396D9B4.htm", None, json!({"vendor": "snom", "kind": "device", "mac": "00041396d9b4"})),
        ("/cfg000b828aa872", None, json!({"vendor": "grandstream", "kind": "device", "mac": "000b828aa872"})),
        ("/..%2f001565aabbcc.cfg", None, json!({"vendor": null, "kind": "unknown", "mac": null})),
        (
            "/SEP2C3124C9F8E1.cnf.xml",
            Some("Cisco-CP-8861/14.1.1"),
            json!({"vendor": null, "kind": "unknown", "mac": null}),
        ),
    ];
    for (path, ua, expected) in cases {
        let mut args = vec!["path", "parse", path, "--json"];
        if let Some(ua) = ua {
            args.extend(["--ua", ua]);
        }
        let output = sipprov(&args);
        assert_eq!(output.status.code(), Some(0), "{path}: {output:?}");
        assert_eq!(json_of(&output), expected, "{path}");
    }
}

#[test]
fn render_prints_the_file_with_or_without_the_password() {
    let settings = data("settings.json");
    let settings = settings.to_str().unwrap();
    let with = sipprov(&[
        "render",
        "--vendor",
        "yealink",
        "--path",
        "/001565aabbcc.cfg",
        "--settings",
        settings,
        "--with-password",
    ]);
    assert_eq!(with.status.code(), Some(0), "{with:?}");
    let text = stdout(&with);
    assert!(text.starts_with("#!version:1.0.0.1\n"), "{text}");
    assert!(text.contains("account.1.password = Rq8-sip-password\n"), "{text}");
    assert!(text.contains("static.security.user_password = admin:Vt3-admin-password\n"), "{text}");
    assert!(text.contains("local_time.ntp_server1 = ntp.branch.example.net\n"), "the site layer wins: {text}");
    let without = sipprov(&["render", "--vendor", "yealink", "--path", "/001565aabbcc.cfg", "--settings", settings]);
    assert_eq!(without.status.code(), Some(0), "{without:?}");
    assert!(!stdout(&without).contains("account.1.password"), "{}", stdout(&without));
    // The same path, rendered for the vendor the certificate names.
    let polycom =
        sipprov(&["render", "--vendor", "polycom", "--path", "/001565aabbcc-sipprov.cfg", "--settings", settings]);
    assert_eq!(polycom.status.code(), Some(0), "{polycom:?}");
    assert!(stdout(&polycom).contains("reg.1.address=\"1001\""), "{}", stdout(&polycom));
    // A common file gets settings only.
    let master = sipprov(&["render", "--vendor", "cisco", "--path", "/spa504G.cfg", "--settings", settings]);
    assert_eq!(master.status.code(), Some(0), "{master:?}");
    assert!(stdout(&master).contains("<Profile_Rule>https://prov.example.net/$MA.xml</Profile_Rule>"));
    assert!(!stdout(&master).contains("Vt3-admin-password"));
}

#[test]
fn render_refuses_a_hostile_value_naming_its_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings: Value = serde_json::from_str(&std::fs::read_to_string(data("settings.json")).unwrap()).unwrap();
    settings["account"]["display_name"] = json!("Reception\naccount.1.sip_server.1.address = evil.example");
    let file = dir.path().join("hostile.json");
    std::fs::write(&file, settings.to_string()).unwrap();
    let output = sipprov(&[
        "render",
        "--vendor",
        "yealink",
        "--path",
        "/001565aabbcc.cfg",
        "--settings",
        file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stdout.is_empty(), "nothing is printed: {}", stdout(&output));
    assert!(stderr(&output).contains("accounts.1.display_name"), "{}", stderr(&output));
}

#[test]
fn render_exit_codes_tell_a_wrong_request_from_unusable_input() {
    let settings = data("settings.json");
    let settings = settings.to_str().unwrap();
    // The vendor does not ask for that path: 1.
    let output = sipprov(&["render", "--vendor", "cisco", "--path", "/001565aabbcc.cfg", "--settings", settings]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stderr(&output).contains("cisco phones do not ask for this path"), "{}", stderr(&output));
    // Recognised but not served: 1.
    let output = sipprov(&["render", "--vendor", "yealink", "--path", "/y000000000028.cfg", "--settings", settings]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    // Unknown vendor, missing file, not JSON, unknown key: 2.
    let dir = tempfile::tempdir().unwrap();
    let not_json = dir.path().join("x.json");
    std::fs::write(&not_json, "{nope").unwrap();
    let typo = dir.path().join("typo.json");
    std::fs::write(&typo, r#"{"setings": {}}"#).unwrap();
    for (vendor, file) in [
        ("acme", settings),
        ("yealink", "/nonexistent/settings.json"),
        ("yealink", not_json.to_str().unwrap()),
        ("yealink", typo.to_str().unwrap()),
    ] {
        let output = sipprov(&["render", "--vendor", vendor, "--path", "/001565aabbcc.cfg", "--settings", file]);
        assert_eq!(output.status.code(), Some(2), "{vendor} {file}: {output:?}");
        assert!(!stderr(&output).is_empty());
    }
}

#[test]
fn lint_passes_a_rendered_file_and_names_each_finding() {
    let settings = data("settings.json");
    let dir = tempfile::tempdir().unwrap();
    for (vendor, path) in [
        ("yealink", "/001565aabbcc.cfg"),
        ("polycom", "/0004f28b54f4-sipprov.cfg"),
        ("cisco", "/00562b043615.xml"),
        ("snom", "/00041396D9B4.xml"),
        ("grandstream", "/cfg000b828aa872.xml"),
        ("fanvil", "/0c383e557eb1.cfg"),
        ("gigaset", "/7c2f80e0d605.xml"),
        ("linphone", "/02005e10a001.xml"),
    ] {
        let rendered =
            sipprov(&["render", "--vendor", vendor, "--path", path, "--settings", settings.to_str().unwrap()]);
        assert_eq!(rendered.status.code(), Some(0), "{vendor}: {rendered:?}");
        let file = dir.path().join(vendor);
        std::fs::write(&file, &rendered.stdout).unwrap();
        let output = sipprov(&["lint", file.to_str().unwrap(), "--vendor", vendor, "--json"]);
        assert_eq!(output.status.code(), Some(0), "{vendor}: {output:?}");
        assert_eq!(json_of(&output)["findings"], json!([]), "{vendor}");
        // --strict adds the keys no vendor document confirms: Fanvil's StrictProxy, for one.
        let strict = sipprov(&["lint", file.to_str().unwrap(), "--vendor", vendor, "--strict", "--json"]);
        let unverified = json_of(&strict)["findings"].as_array().unwrap().clone();
        assert!(unverified.iter().all(|f| f["rule"] == "unverified-key"), "{vendor}: {unverified:?}");
        if vendor == "fanvil" {
            assert_eq!(strict.status.code(), Some(1), "{strict:?}");
            assert!(unverified.iter().any(|f| f["key"] == "sip.line[1].StrictProxy"), "{unverified:?}");
        }
        if vendor == "linphone" {
            assert_eq!(strict.status.code(), Some(0), "every Linphone entry is in liblinphone's source");
        }
    }
    let weak = dir.path().join("weak.cfg");
    std::fs::write(
        &weak,
        "#!version:1.0.0.1\nstatic.wui.http_enable = 1\nstatic.auto_provision.server.url = http://prov.example.net\n",
    )
    .unwrap();
    let output = sipprov(&["lint", weak.to_str().unwrap(), "--vendor", "yealink"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("web-ui-enabled: static.wui.http_enable: is \"1\"; expected 0\n"), "{text}");
    assert!(
        text.contains("plain-provisioning-url: static.auto_provision.server.url: is \"http://prov.example.net\""),
        "{text}"
    );
    assert!(text.contains("no-admin-password: static.security.user_password: not set"), "{text}");
    let output = sipprov(&["lint", weak.to_str().unwrap(), "--vendor", "yealink", "--json"]);
    let findings = json_of(&output)["findings"].as_array().unwrap().clone();
    assert!(findings.contains(
        &json!({"rule": "web-ui-enabled", "key": "static.wui.http_enable", "message": "is \"1\"; expected 0"})
    ));
}

#[test]
fn lint_of_a_common_file_looks_for_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("y000000000028.cfg");
    std::fs::write(&file, "#!version:1.0.0.1\naccount.1.password = leaked\n").unwrap();
    let output = sipprov(&["lint", file.to_str().unwrap(), "--vendor", "yealink", "--common"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stdout(&output).contains("secret-in-common-file: account.1.password"), "{}", stdout(&output));
}

#[test]
fn lint_of_unusable_input_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let xml = dir.path().join("not-key-value.cfg");
    std::fs::write(&xml, "<polycomConfig/>").unwrap();
    for (file, vendor) in [
        ("/nonexistent/file.cfg", "yealink"),
        (xml.to_str().unwrap(), "yealink"),
        (xml.to_str().unwrap(), "acme"),
        (xml.to_str().unwrap(), "htek"),
    ] {
        let output = sipprov(&["lint", file, "--vendor", vendor]);
        assert_eq!(output.status.code(), Some(2), "{file} {vendor}: {output:?}");
        assert!(!stderr(&output).is_empty());
    }
}

#[test]
fn render_writes_every_account_of_a_multi_port_device() {
    let settings = data("ht812.json");
    let args = ["render", "--vendor", "grandstream", "--path", "/cfg000b82aa0812.xml", "--settings"];
    let with = sipprov(&[&args[..], &[settings.to_str().unwrap(), "--with-password"]].concat());
    assert_eq!(with.status.code(), Some(0), "{with:?}");
    let text = stdout(&with);
    for expected in ["<P4060>2001</P4060>", "<P4061>2002</P4061>", "<P4120>Port-One-Secret-1</P4120>", "<P130>2</P130>"]
    {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    let without = stdout(&sipprov(&[&args[..], &[settings.to_str().unwrap()]].concat()));
    assert!(!without.contains("Port-One-Secret-1") && !without.contains("<P4120>"), "{without}");
}
