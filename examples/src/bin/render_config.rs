//! Recognise a phone's request and render its config, using `sipprov-template` alone.
//!
//! ```text
//! cargo run -p sipprov-examples --bin render_config -- /001565AABBCC.cfg yealink
//! ```
//! The vendor (second argument, default `yealink`) is what a server would take from the phone's
//! certificate: it picks the format of a file name several vendors share.
#![allow(clippy::print_stdout)]

use sipprov_template::{
    AccountSettings, Device, FileKind, Layer, LayeredSettings, Renderer, Route, Secrets, Vendor, lint, recognise_route,
};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| "/001565AABBCC.cfg".to_owned());
    let vendor: Vendor = args.next().as_deref().unwrap_or("yealink").parse()?;

    let route = recognise_route(&path, None);
    let (Route::Device { mac, .. }, Some(file)) = (&route, route.file_for(vendor)) else {
        println!("{path:?} is not a {vendor} device file");
        return Ok(());
    };
    println!("{path:?} is the {vendor} device file {} of {mac}", file.pattern);

    // Built once at start-up: every shipped template compiled and checked.
    let renderer = Renderer::shipped()?;
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", "https://prov.example.net")?;
    // Two lines: the reception's own number and the shared hunt group, on its own registrar.
    let accounts = [
        AccountSettings::new("1001", format!("sp-{mac}"), "Reception", "sip.example.net"),
        AccountSettings {
            line: 2,
            ..AccountSettings::new("2000", format!("sp-{mac}-2"), "Hunt group", "hunt.example.net")
        },
    ];
    let sip_passwords = [(1, "example-password"), (2, "example-password-2")];
    let secrets = Secrets { sip_passwords: &sip_passwords, admin_password: Some("example-admin") };
    let device =
        Device { firmware: None, mac: *mac, model: None, accounts: &accounts, keys: &[], settings: &settings, secrets };
    let config = renderer.render_device(file, &device)?;
    print!("{config}");
    let findings = lint(vendor, FileKind::Device, &config)?;
    println!("hardening findings: {}", findings.len());

    // A display name smuggling a second line is refused, never written.
    let hostile = [AccountSettings {
        display_name: "Reception\naccount.1.sip_server.1.address = evil".into(),
        ..accounts[0].clone()
    }];
    match renderer.render_device(file, &Device { accounts: &hostile, ..device }) {
        Ok(_) => anyhow::bail!("a hostile value was rendered"),
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}
