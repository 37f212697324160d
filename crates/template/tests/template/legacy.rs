//! The first API's minimal Yealink device file, byte for byte (kept for its callers).

use sipprov_template::{AccountSettings, vendors::yealink};

fn account() -> AccountSettings {
    AccountSettings {
        user_name: "1001".into(),
        auth_name: "u7Kq2".into(),
        display_name: "Front desk".into(),
        registrar: "sip.example.net:5061".into(),
    }
}

#[test]
fn with_password() {
    let file = yealink::device_config(&account(), Some("Zx9w4LqT2mNvB8rKcY3hJ6")).unwrap();
    assert_eq!(
        file,
        "#!version:1.0.0.1\n\
         account.1.enable = 1\n\
         account.1.label = Front desk\n\
         account.1.display_name = Front desk\n\
         account.1.user_name = 1001\n\
         account.1.auth_name = u7Kq2\n\
         account.1.password = Zx9w4LqT2mNvB8rKcY3hJ6\n\
         account.1.sip_server.1.address = sip.example.net:5061\n"
    );
}

#[test]
fn without_password_the_key_is_absent() {
    let file = yealink::device_config(&account(), None).unwrap();
    assert_eq!(
        file,
        "#!version:1.0.0.1\n\
         account.1.enable = 1\n\
         account.1.label = Front desk\n\
         account.1.display_name = Front desk\n\
         account.1.user_name = 1001\n\
         account.1.auth_name = u7Kq2\n\
         account.1.sip_server.1.address = sip.example.net:5061\n"
    );
}

#[test]
fn a_hostile_value_in_any_field_is_refused_naming_it() {
    let hostile = "ok\r\naccount.1.sip_server.1.address = evil.example";
    type Field = fn(&mut AccountSettings) -> &mut String;
    let cases: [(&str, Field); 4] = [
        ("account.1.user_name", |a| &mut a.user_name),
        ("account.1.auth_name", |a| &mut a.auth_name),
        ("account.1.label", |a| &mut a.display_name),
        ("account.1.sip_server.1.address", |a| &mut a.registrar),
    ];
    for (field, select) in cases {
        let mut account = account();
        *select(&mut account) = hostile.into();
        let err = yealink::device_config(&account, None).unwrap_err();
        assert_eq!(err.field(), Some(field));
    }
    let err = yealink::device_config(&account(), Some("pw\nx = 1")).unwrap_err();
    assert_eq!(err.field(), Some("account.1.password"));
}
