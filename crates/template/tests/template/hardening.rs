//! The hardening policy: every shipped template passes the linter, and the linter names what
//! breaks it.

use sipprov_template::{FileKind, Layer, Renderer, Rule, lint, profiles};

use crate::fixtures::{self, SIP_PASSWORD};

const DEVICE_RULES: [Rule; 6] = [
    Rule::NoAdminPassword,
    Rule::WebUiEnabled,
    Rule::CallFeaturesEditable,
    Rule::SipFromAnyone,
    Rule::ServerCertNotVerified,
    Rule::PlainProvisioningUrl,
];

#[test]
fn every_shipped_device_template_passes_the_linter() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for vendor in fixtures::vendors() {
        for password in [true, false] {
            let device = fixtures::device(vendor, &account, &settings, password);
            let config = renderer.render_device(fixtures::device_file(vendor), &device).unwrap();
            let findings = lint(vendor, FileKind::Device, &config).unwrap();
            assert!(findings.is_empty(), "{vendor}: {findings:#?}");
        }
    }
}

#[test]
fn every_shipped_common_template_passes_the_linter() {
    let renderer = Renderer::shipped().unwrap();
    for file in fixtures::common_files() {
        let config = renderer.render_common(file, &fixtures::settings()).unwrap();
        let findings = lint(file.vendor, FileKind::Common, &config).unwrap();
        assert!(findings.is_empty(), "{} {}: {findings:#?}", file.vendor, file.pattern);
    }
}

#[test]
fn every_rule_is_checked_or_its_absence_explained() {
    for profile in profiles() {
        let hardening = &profile.hardening;
        for rule in DEVICE_RULES {
            let checked = hardening.checks.iter().any(|c| c.rule == rule);
            let explained = hardening.unenforced.iter().any(|(r, why)| *r == rule && !why.is_empty());
            assert!(checked != explained, "{}: {rule} must be either checked or explained", profile.vendor);
        }
        assert!(hardening.checks.iter().any(|c| c.rule == Rule::PlainProvisioningUrl), "{}", profile.vendor);
    }
}

/// The template without what sets `key`, found the way each format writes a key: the line, or
/// for a Polycom attribute the attribute alone (the element around it stays well-formed).
fn without_key(source: &str, key: &str) -> Option<String> {
    // A key models spell either way (`P2347|P243`): the file without the one the template writes.
    if key.contains('|') {
        return key.split('|').find_map(|alternative| without_key(source, alternative));
    }
    // A key named in a table the template's loop reads (`"from_proxy_only": "P2347"`): renamed to
    // a key nobody checks.
    let quoted = format!("\"{key}\"");
    if source.contains(&format!(": {quoted}")) {
        return Some(source.replace(&quoted, "\"P0\""));
    }
    // A key of account 1 is written once per account in a loop: `divert.fwd.{{ a.line }}.enabled`.
    let looped = key.replacen(".1.", ".{{ a.line }}.", 1);
    if looped != key && !source.contains(&format!("{key}=\"")) && source.contains(&format!("{looped}=\"")) {
        return without_key(source, &looped);
    }
    let base = key.split('@').next().unwrap();
    let attribute = format!("{base}=\"");
    if let Some(start) = source.find(&attribute) {
        let end = start + attribute.len() + source[start + attribute.len()..].find('"')? + 1;
        return Some(format!("{}{}", &source[..start], &source[end..]));
    }
    let last = base.rsplit('.').next().unwrap().split('[').next().unwrap();
    let needles = [
        format!("{base} = "),
        format!("name=\"{base}\""),
        format!("<{base}>"),
        format!("<{base} "),
        format!("name=\"{last}\""),
        format!("<{last}>"),
        format!("<{last} "),
    ];
    let line = needles.iter().find_map(|needle| source.lines().position(|line| line.contains(needle.as_str())))?;
    Some(source.lines().enumerate().filter(|(i, _)| *i != line).map(|(_, l)| format!("{l}\n")).collect())
}

#[test]
fn a_template_without_a_hardening_key_is_reported_naming_it() {
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for profile in profiles() {
        let vendor = profile.vendor;
        let file = fixtures::device_file(vendor);
        let name = file.template.unwrap();
        let source = Renderer::shipped_source(name).unwrap();
        for check in profile.hardening.checks {
            let weakened =
                without_key(source, check.key).unwrap_or_else(|| panic!("{vendor}: {} not in {name}", check.key));
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join(vendor.name())).unwrap();
            std::fs::write(dir.path().join(name), weakened).unwrap();
            let renderer = Renderer::with_overrides(dir.path()).unwrap();
            let config = renderer.render_device(file, &fixtures::device(vendor, &account, &settings, false)).unwrap();
            let findings = lint(vendor, FileKind::Device, &config).unwrap();
            assert!(
                findings.iter().any(|f| f.rule == check.rule && f.key == check.key && f.message.contains("not set")),
                "{vendor}: removing {} gives {findings:#?}",
                check.key
            );
        }
    }
}

#[test]
fn a_plain_provisioning_url_is_reported_for_every_vendor() {
    let renderer = Renderer::shipped().unwrap();
    let account = fixtures::account();
    let mut settings = fixtures::settings();
    settings.set(Layer::Device, "provisioning_url", "http://prov.example.net").unwrap();
    for vendor in fixtures::vendors() {
        let config = renderer
            .render_device(fixtures::device_file(vendor), &fixtures::device(vendor, &account, &settings, false))
            .unwrap();
        let findings = lint(vendor, FileKind::Device, &config).unwrap();
        let plain: Vec<_> = findings.iter().filter(|f| f.rule == Rule::PlainProvisioningUrl).collect();
        assert!(!plain.is_empty(), "{vendor}: {findings:#?}");
        assert!(plain.iter().all(|f| f.to_string().starts_with("plain-provisioning-url: ")), "{vendor}");
    }
}

#[test]
fn a_default_admin_password_is_reported_without_showing_it() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for profile in profiles().iter().filter(|p| p.hardening.checks.iter().any(|c| c.rule == Rule::NoAdminPassword)) {
        let vendor = profile.vendor;
        let mut device = fixtures::device(vendor, &account, &settings, false);
        device.secrets.admin_password = Some("admin");
        let config = renderer.render_device(fixtures::device_file(vendor), &device).unwrap();
        let findings = lint(vendor, FileKind::Device, &config).unwrap();
        assert!(findings.iter().any(|f| f.rule == Rule::NoAdminPassword), "{vendor}: {findings:#?}");
        assert!(findings.iter().all(|f| !f.message.contains("admin\"")), "{vendor}: {findings:#?}");
    }
}

#[test]
fn yealink_web_ui_switched_on_is_reported_with_its_key() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    let device = fixtures::device(sipprov_template::Vendor::Yealink, &account, &settings, false);
    let config = renderer.render_device(fixtures::device_file(device_vendor()), &device).unwrap();
    let weakened = config.replace("static.wui.http_enable = 0", "static.wui.http_enable = 1");
    let findings = lint(device_vendor(), FileKind::Device, &weakened).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].to_string(), "web-ui-enabled: static.wui.http_enable: is \"1\"; expected 0");
}

fn device_vendor() -> sipprov_template::Vendor {
    sipprov_template::Vendor::Yealink
}

#[test]
fn a_device_file_linted_as_common_shows_its_secrets() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for profile in profiles() {
        let vendor = profile.vendor;
        let config = renderer
            .render_device(fixtures::device_file(vendor), &fixtures::device(vendor, &account, &settings, true))
            .unwrap();
        let findings = lint(vendor, FileKind::Common, &config).unwrap();
        assert!(
            findings.iter().any(|f| f.rule == Rule::SecretInCommonFile && f.key == profile.password_key),
            "{vendor}: {findings:#?}"
        );
    }
}

#[test]
fn without_the_password_its_key_is_absent_not_empty() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for profile in profiles() {
        let vendor = profile.vendor;
        let file = fixtures::device_file(vendor);
        let with = (profile.read)(
            &renderer.render_device(file, &fixtures::device(vendor, &account, &settings, true)).unwrap(),
        )
        .unwrap();
        let without = (profile.read)(
            &renderer.render_device(file, &fixtures::device(vendor, &account, &settings, false)).unwrap(),
        )
        .unwrap();
        let passwords: Vec<_> = with.iter().filter(|(k, _)| k == profile.password_key).collect();
        assert_eq!(passwords, [&(profile.password_key.to_owned(), SIP_PASSWORD.to_owned())], "{vendor}");
        assert!(without.iter().all(|(k, _)| !k.starts_with(profile.password_key)), "{vendor}: {without:?}");
        // Nothing else changes.
        let rest: Vec<_> = with.iter().filter(|(k, _)| !k.starts_with(profile.password_key)).collect();
        assert_eq!(rest, without.iter().collect::<Vec<_>>(), "{vendor}");
    }
}

#[test]
fn once_no_secret_may_be_sent_neither_password_is_written() {
    let renderer = Renderer::shipped().unwrap();
    let (account, settings) = (fixtures::account(), fixtures::settings());
    for profile in profiles() {
        let vendor = profile.vendor;
        let mut purged = fixtures::device(vendor, &account, &settings, false);
        purged.secrets.admin_password = None;
        let rendered = renderer.render_device(fixtures::device_file(vendor), &purged).unwrap();
        assert!(!rendered.contains(SIP_PASSWORD) && !rendered.contains(fixtures::ADMIN_PASSWORD), "{vendor}");
        let keys = (profile.read)(&rendered).unwrap();
        assert!(keys.iter().all(|(k, _)| !k.starts_with(profile.password_key)), "{vendor}: {keys:?}");
        // Everything that is not a secret is still there.
        let full = renderer
            .render_device(fixtures::device_file(vendor), &fixtures::device(vendor, &account, &settings, false))
            .unwrap();
        let full_keys = (profile.read)(&full).unwrap();
        assert!(keys.iter().all(|pair| full_keys.contains(pair)), "{vendor}");
        assert!(
            full_keys.len() > keys.len() || vendor == sipprov_template::Vendor::Linphone,
            "{vendor}: the admin password key is left out"
        );
    }
}

/// Configs written with the names earlier templates used, which the phones never read, fail
/// the linter: it checks the names the phones read, not the ones sipprov once wrote.
#[test]
fn configs_with_the_old_wrong_names_fail_the_linter() {
    let fanvil = r#"<?xml version="1.0" encoding="UTF-8"?>
<sysConf>
  <Version>2.0002</Version>
  <SIP><Line id="1"><Enable>1</Enable><RegisterPassword>secret-1</RegisterPassword><StrictProxy>1</StrictProxy></Line></SIP>
  <WEB><AdminPassword>Hq4-Ty7p-Lm2x</AdminPassword><HttpEnable>0</HttpEnable><HttpsEnable>0</HttpsEnable></WEB>
  <AUTOPROVISION><ServerAddress>https://prov.example.net</ServerAddress><VerifyServerCert>1</VerifyServerCert></AUTOPROVISION>
</sysConf>
"#;
    let gigaset = r#"<?xml version="1.0" encoding="UTF-8"?>
<provisioning version="1.1" productID="e2"><nvm>
  <param name="WebUI.AdminPassword" value="Hq4-Ty7p-Lm2x"/>
  <param name="WebUI.HttpAccess" value="0"/>
  <param name="Provisioning.VerifyServerCertificate" value="1"/>
  <param name="Provisioning.ServerUrl" value="https://prov.example.net"/>
</nvm></provisioning>
"#;
    for (vendor, config, missing) in [
        (sipprov_template::Vendor::Fanvil, fanvil, ["web.account[1].Password", "ap.FlashServerIP"]),
        (
            sipprov_template::Vendor::Gigaset,
            gigaset,
            ["WebUIAccounts.1.Password", "Provisioning.global.ProvisioningServer"],
        ),
    ] {
        let findings = lint(vendor, FileKind::Device, config).unwrap();
        for key in missing {
            assert!(
                findings.iter().any(|f| f.key == key && f.message.contains("not set")),
                "{vendor}: {key} is reported missing: {findings:#?}"
            );
        }
    }
}

/// Every key a profile lists as unverified is one its shipped template writes (for an account
/// that sets everything), and `lint_unverified` reports it; a key it does not list is never
/// reported. The list is what `sipprov lint --strict` shows, and `docs/vendors/` explains.
#[test]
fn the_unverified_keys_each_template_writes_are_reported_by_name() {
    use sipprov_template::{AccountSettings, Srtp, Transport, lint_unverified};

    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let account = AccountSettings {
        transport: Some(Transport::Tls),
        srtp: Some(Srtp::Optional),
        outbound_proxy: Some("proxy.example.net".into()),
        ..fixtures::account()
    };
    for profile in profiles() {
        let vendor = profile.vendor;
        let device = fixtures::device(vendor, &account, &settings, true);
        let config = renderer.render_device(fixtures::device_file(vendor), &device).unwrap();
        let findings = lint_unverified(vendor, &config).unwrap();
        for (pattern, _) in profile.hardening.unverified {
            let stem = pattern.split('*').next().unwrap();
            assert!(
                findings.iter().any(|f| f.rule == Rule::UnverifiedKey && f.key.starts_with(stem)),
                "{vendor}: {pattern} is listed as unverified but not written: {findings:#?}"
            );
        }
        if profile.hardening.unverified.is_empty() {
            assert!(findings.is_empty(), "{vendor}: {findings:#?}");
        }
        assert!(findings.iter().all(|f| f.message.starts_with("unverified: ")), "{vendor}");
    }
}
