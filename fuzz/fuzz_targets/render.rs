//! Every vendor's device file rendered from arbitrary account fields, secrets and settings (and
//! one setting of any name): never a panic; the file either reads back, with the vendor's own
//! reader (XML through quick-xml, independent of sipprov's escaping), to exactly the keys a
//! harmless render has, each value exactly what was put in, so no setting adds a key; or the
//! render is refused naming a field it was given.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use sipprov_identity::Mac;
use sipprov_template::{AccountSettings, Device, Layer, LayeredSettings, Renderer, Secrets, TemplateError, profiles};

/// The fields a device file is rendered from, by the name a refusal gives.
const FIELDS: [&str; 8] = [
    "accounts.1.user_name",
    "accounts.1.auth_name",
    "accounts.1.display_name",
    "accounts.1.registrar",
    "accounts.1.password",
    "secrets.admin_password",
    "settings.provisioning_url",
    "settings.ntp_server",
];

fn renderer() -> &'static Renderer {
    static RENDERER: OnceLock<Renderer> = OnceLock::new();
    RENDERER.get_or_init(|| Renderer::shipped().expect("the shipped templates load"))
}

/// The file, or `None` when a setting is refused at entry (it then never reaches a template).
/// `extra` is one more device setting, of any name.
fn render(profile: usize, values: &[String; 8], extra: (&str, &str)) -> Option<Result<String, TemplateError>> {
    let account = AccountSettings::new(values[0].clone(), values[1].clone(), values[2].clone(), values[3].clone());
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", values[6].clone()).ok()?;
    settings.set(Layer::Device, "ntp_server", values[7].clone()).ok()?;
    settings.set(Layer::Device, extra.0, extra.1.to_owned()).ok()?;
    let sip_passwords = [(1, values[4].as_str())];
    let device = Device {
        mac: Mac::parse("001565aabbcc").expect("a MAC"),
        model: None,
        accounts: std::slice::from_ref(&account),
        keys: &[],
        settings: &settings,
        secrets: Secrets { sip_passwords: &sip_passwords, admin_password: Some(&values[5]) },
        firmware: None,
    };
    let file = profiles()[profile].device_file().expect("every profile has a device file");
    Some(renderer().render_device(file, &device))
}

fn placeholder(i: usize) -> String {
    format!("qqf{i}qq")
}

fuzz_target!(|input: (u8, [String; 8], String, String)| {
    let (choice, values, extra_name, extra_value) = input;
    let profile = usize::from(choice) % profiles().len();
    let read = profiles()[profile].read;
    // A registrar with a port gets a placeholder with the same port: some vendors write the
    // host and port apart, and the placeholder then stands for the host alone.
    let mut placeholders: [String; 8] = std::array::from_fn(placeholder);
    let mut reals = values.clone();
    let port = values[3]
        .rsplit_once(':')
        .filter(|(host, port)| !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok_and(|p| p > 0));
    if let Some((host, port)) = port {
        placeholders[3] = format!("{}:{port}", placeholder(3));
        reals[3] = host.to_owned();
    }
    let extra_placeholder = placeholder(8);
    let Some(harmless) = render(profile, &placeholders, (&extra_name, &extra_placeholder)) else { return };
    // A setting a template reads as a number or a choice cannot hold a placeholder: nothing to
    // compare with, then.
    let Ok(harmless) = harmless else { return };
    let expected: Vec<(String, String)> = read(&harmless)
        .expect("a harmless file reads back")
        .into_iter()
        .map(|(key, mut value)| {
            for (i, real) in reals.iter().enumerate() {
                value = value.replace(&placeholder(i), real);
            }
            value = value.replace(&extra_placeholder, &extra_value);
            (key, value)
        })
        .collect();
    let Some(rendered) = render(profile, &values, (&extra_name, &extra_value)) else { return };
    match rendered {
        Ok(text) => {
            let found = read(&text).unwrap_or_else(|e| panic!("rendered a file its reader refuses ({e}):\n{text}"));
            // A value that holds another field's placeholder text reads back ambiguously.
            if !values.iter().chain([&extra_name, &extra_value]).any(|v| v.contains("qqf")) {
                assert_eq!(found, expected, "rendered:\n{text}");
            }
        }
        Err(err) => {
            let field = err.field().unwrap_or_else(|| panic!("an error without a field: {err}"));
            let extra_field = format!("settings.{extra_name}");
            assert!(FIELDS.contains(&field) || field == extra_field, "refused an unknown field {field}: {err}");
            assert!(err.to_string().contains(field), "the message names the field: {err}");
        }
    }
});
