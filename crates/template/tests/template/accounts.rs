//! Several accounts per device: each account's values land under its own line's keys, in every
//! vendor's layout, and nowhere else.
//!
//! The keys are spelled out here per vendor, as each vendor's reader names them, from the
//! vendors' layouts (see `docs/vendors.md`): the test pins the layout as much as the escaping.

use proptest::prelude::*;
use sipprov_template::{AccountSettings, Device, Renderer, Secrets, Vendor, profiles};

use crate::fixtures;

/// The keys account `line` of a `model` device writes its user name and password under.
fn keys(vendor: Vendor, model: Option<&str>, line: u16) -> (String, String) {
    let n = line;
    match (vendor, model) {
        (Vendor::Yealink, _) => (format!("account.{n}.user_name"), format!("account.{n}.password")),
        (Vendor::Polycom, _) => (format!("reg.{n}.address"), format!("reg.{n}.auth.password")),
        (Vendor::Cisco, _) => (format!("User_ID_{n}_"), format!("Password_{n}_")),
        (Vendor::Snom, _) => (format!("user_name[{n}]"), format!("user_pass[{n}]")),
        (Vendor::Grandstream, Some("HT812" | "HT818")) => (format!("P{}", 4060 + n - 1), format!("P{}", 4120 + n - 1)),
        (Vendor::Grandstream, Some("HT802")) => match n {
            1 => ("P35".into(), "P34".into()),
            _ => ("P735".into(), "P734".into()),
        },
        (Vendor::Grandstream, _) => match n {
            1 => ("P35".into(), "P34".into()),
            2..=4 => (format!("P{}04", n + 2), format!("P{}06", n + 2)),
            _ => (format!("P1{}04", n + 2), format!("P1{}06", n + 2)),
        },
        (Vendor::Fanvil, _) => (format!("sip.line[{n}].PhoneNumber"), format!("sip.line[{n}].RegisterPswd")),
        (Vendor::Gigaset, _) => (format!("SipAccount.{n:05}.UserName"), format!("SipAccount.{n:05}.AuthPassword")),
        // Linphone counts from 0, in line order; the tests give lines 1..=N.
        _ => (format!("auth_info_{}.username", n - 1), format!("auth_info_{}.passwd", n - 1)),
    }
}

/// The devices to render: each vendor at its usual layout, and Grandstream's ATAs too.
fn cases() -> Vec<(Vendor, Option<&'static str>, u16)> {
    let mut cases: Vec<(Vendor, Option<&'static str>, u16)> =
        profiles().iter().map(|p| (p.vendor, None, p.lines.most.min(6))).collect();
    cases.extend([(Vendor::Grandstream, Some("HT802"), 2), (Vendor::Grandstream, Some("HT812"), 2)]);
    cases.push((Vendor::Grandstream, Some("HT818"), 8));
    cases
}

fn accounts(count: u16, user: &[String]) -> Vec<AccountSettings> {
    (1..=count)
        .map(|line| AccountSettings {
            line,
            ..AccountSettings::new(
                user[usize::from(line - 1)].clone(),
                format!("auth{line}"),
                format!("Line {line}"),
                "sip.example.net",
            )
        })
        .collect()
}

fn read(vendor: Vendor, text: &str) -> Vec<(String, String)> {
    (vendor.profile().unwrap().read)(text).unwrap_or_else(|e| panic!("{vendor}: {e}\n{text}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn each_accounts_values_land_under_its_own_keys_only(
        users in proptest::collection::vec("[a-z0-9]{6,12}", 8),
        passwords in proptest::collection::vec("[A-Za-z0-9]{16,24}", 8),
        delivered in proptest::collection::vec(any::<bool>(), 8),
    ) {
        prop_assume!(users.iter().collect::<std::collections::BTreeSet<_>>().len() == 8);
        prop_assume!(passwords.iter().collect::<std::collections::BTreeSet<_>>().len() == 8);
        let renderer = Renderer::shipped().unwrap();
        let settings = fixtures::settings();
        for (vendor, model, count) in cases() {
            let accounts = accounts(count, &users);
            // Some accounts' passwords may be sent, others not (one rotated alone).
            let sip_passwords: Vec<(u16, &str)> = (1..=count)
                .filter(|line| delivered[usize::from(line - 1)])
                .map(|line| (line, passwords[usize::from(line - 1)].as_str()))
                .collect();
            let device = Device { firmware: None,
                mac: fixtures::mac(vendor),
                model,
                accounts: &accounts,
                keys: &[],
                settings: &settings,
                secrets: Secrets { sip_passwords: &sip_passwords, admin_password: Some(fixtures::ADMIN_PASSWORD) },
            };
            let text = renderer.render_device(fixtures::device_file(vendor), &device).unwrap();
            let pairs = read(vendor, &text);
            for line in 1..=count {
                let i = usize::from(line - 1);
                let (user_key, password_key) = keys(vendor, model, line);
                let holding = |value: &str| -> Vec<&str> {
                    pairs.iter().filter(|(_, v)| v.contains(value)).map(|(k, _)| k.as_str()).collect()
                };
                let user_keys = holding(&users[i]);
                prop_assert!(user_keys.contains(&user_key.as_str()), "{vendor} {model:?} line {line}: {user_keys:?}\n{text}");
                let password_keys = holding(&passwords[i]);
                if delivered[i] {
                    prop_assert_eq!(password_keys, vec![password_key.as_str()], "{} {:?} line {}\n{}", vendor, model, line, text);
                } else {
                    prop_assert!(password_keys.is_empty(), "{vendor} {model:?} line {line}: a withheld password was written");
                    prop_assert!(pairs.iter().all(|(k, _)| k != &password_key), "{vendor} {model:?} line {line}: its key is left out");
                }
                // Another line's keys never carry this account's values.
                for other in (1..=count).filter(|other| *other != line) {
                    let (other_user, other_password) = keys(vendor, model, other);
                    prop_assert!(!user_keys.contains(&other_user.as_str()), "{vendor} {model:?}: line {line} under {other_user}");
                    prop_assert!(!holding(&passwords[i]).contains(&other_password.as_str()), "{vendor} {model:?}: {other_password}");
                }
            }
        }
    }
}

#[test]
fn an_account_beyond_the_layout_is_a_render_error_not_a_wrong_key() {
    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let users: Vec<String> = (1..=8).map(|n| format!("10{n}")).collect();
    let accounts = accounts(3, &users);
    let device = Device {
        firmware: None,
        mac: fixtures::mac(Vendor::Grandstream),
        model: Some("HT802"),
        accounts: &accounts,
        keys: &[],
        settings: &settings,
        secrets: Secrets::default(),
    };
    let err = renderer.render_device(fixtures::device_file(Vendor::Grandstream), &device).unwrap_err();
    assert!(err.to_string().contains("grandstream/device.xml"), "{err}");
    assert_eq!(
        Vendor::Grandstream.profile().unwrap().lines.for_model(Some("HT802")),
        2,
        "and enrolment refuses it first"
    );
}

/// A Gigaset base configures each SIP service once, as a provider profile numbered from 0, and
/// links every account to its provider: accounts sharing a registrar share one profile.
#[test]
fn a_gigaset_base_links_each_account_to_one_provider_per_service() {
    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let users: Vec<String> = (1..=3).map(|n| format!("30{n}")).collect();
    let mut accounts = accounts(3, &users);
    accounts[2].registrar = "other.example.net:5070".into();
    accounts[2].outbound_proxy = Some("proxy.example.net".into());
    let device = Device {
        firmware: None,
        mac: fixtures::mac(Vendor::Gigaset),
        model: Some("N870 IP PRO"),
        accounts: &accounts,
        keys: &[],
        settings: &settings,
        secrets: Secrets::default(),
    };
    let file = fixtures::device_file(Vendor::Gigaset);
    let pairs = read(Vendor::Gigaset, &renderer.render_device(file, &device).unwrap());
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(value("SipAccount.00001.ProviderId"), Some("0"));
    assert_eq!(value("SipAccount.00002.ProviderId"), Some("0"), "same registrar, same provider");
    assert_eq!(value("SipAccount.00003.ProviderId"), Some("1"));
    assert_eq!(value("SipProvider.0.RegServerAddress"), Some("sip.example.net"));
    assert_eq!(value("SipProvider.1.RegServerAddress"), Some("other.example.net"));
    assert_eq!(value("SipProvider.1.RegServerPort"), Some("5070"));
    assert_eq!(value("SipProvider.1.OutboundProxyAddress"), Some("proxy.example.net"));
    assert_eq!(value("SipProvider.0.OutboundProxyMode"), Some("2"), "no outbound proxy");
    let providers = pairs.iter().filter(|(k, _)| k.ends_with(".RegServerAddress")).count();
    assert_eq!(providers, 2, "one profile per service: {pairs:?}");
}

/// Grandstream's families read different P-values for the same thing: web access off where the
/// family can turn it off, SIP only from the proxy per account on phones and per port on ATAs
/// (P243, P743), the HT813 in the HT80x layout, and the server path without a scheme.
#[test]
fn each_grandstream_family_gets_its_own_p_values() {
    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let users: Vec<String> = (1..=2).map(|n| format!("40{n}")).collect();
    let accounts = accounts(2, &users);
    let file = fixtures::device_file(Vendor::Grandstream);
    let render = |model: &'static str| {
        let device = Device {
            firmware: None,
            mac: fixtures::mac(Vendor::Grandstream),
            model: Some(model),
            accounts: &accounts,
            keys: &[],
            settings: &settings,
            secrets: Secrets::default(),
        };
        read(Vendor::Grandstream, &renderer.render_device(file, &device).unwrap())
    };
    let value = |pairs: &[(String, String)], key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
    for (model, web) in [("GRP2614", "2"), ("WP810", "2"), ("WP820", "1"), ("GXP2170", "0"), ("HT802", "0")] {
        assert_eq!(value(&render(model), "P1650").as_deref(), Some(web), "{model}");
    }
    let phone = render("GXP2170");
    assert_eq!((value(&phone, "P2347"), value(&phone, "P2447")), (Some("1".into()), Some("1".into())));
    assert_eq!(value(&phone, "P212").as_deref(), Some("2"));
    assert_eq!(value(&phone, "P237").as_deref(), Some("prov.example.net"), "no scheme: P212 says HTTPS");
    for ata in ["HT802", "HT813"] {
        let pairs = render(ata);
        assert_eq!((value(&pairs, "P243"), value(&pairs, "P743")), (Some("1".into()), Some("1".into())), "{ata}");
        assert_eq!(value(&pairs, "P2347"), None, "{ata}: not an ATA parameter");
        assert_eq!(value(&pairs, "P735").as_deref(), Some("402"), "{ata}: port 2 in the HT80x layout");
        assert_eq!(value(&pairs, "P270"), None, "{ata}: no account name on an ATA");
    }
    let ht81x = render("HT814");
    assert_eq!(value(&ht81x, "P243").as_deref(), Some("1"), "profile 1 accepts SIP from its proxy only");
    assert_eq!(value(&ht81x, "P4061").as_deref(), Some("402"));
}

#[test]
fn a_yealink_dect_base_gives_handset_n_account_n() {
    let renderer = Renderer::shipped().unwrap();
    let settings = fixtures::settings();
    let users: Vec<String> = (1..=8).map(|n| format!("20{n}")).collect();
    let accounts = accounts(3, &users);
    let base = |model| Device {
        firmware: None,
        mac: fixtures::mac(Vendor::Yealink),
        model,
        accounts: &accounts,
        keys: &[],
        settings: &settings,
        secrets: Secrets::default(),
    };
    let file = fixtures::device_file(Vendor::Yealink);
    let pairs = read(Vendor::Yealink, &renderer.render_device(file, &base(Some("W70B"))).unwrap());
    for n in 1..=3 {
        let value = |key: &str| pairs.iter().find(|(k, _)| k == &format!("handset.{n}.{key}")).map(|(_, v)| v.clone());
        assert_eq!(value("incoming_lines"), Some(n.to_string()));
        assert_eq!(value("dial_out_lines"), Some(n.to_string()));
        assert_eq!(value("dial_out_default_line"), Some(n.to_string()));
        assert_eq!(value("name"), Some(format!("Line {n}")));
    }
    let desk = renderer.render_device(file, &base(Some("T54W"))).unwrap();
    assert!(!desk.contains("handset."), "a desk phone has no handsets:\n{desk}");
}
