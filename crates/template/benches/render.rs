//! What one render costs, and that it does not grow with settings the template never reads: each
//! vendor's device file rendered for one account with the two settings shipped templates read,
//! then with 40 more that none of them names (an ITSP's settings for other vendors, say).
//!
//! ```text
//! cargo bench -p sipprov-template --bench render
//! ```
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)] // a measurement program

use std::time::Instant;

use sipprov_identity::Mac;
use sipprov_template::{AccountSettings, Device, Layer, LayeredSettings, Renderer, Secrets, profiles};

const RENDERS: u32 = 20_000;
const UNREAD: usize = 40;

fn settings(unread: usize) -> LayeredSettings {
    let mut settings = LayeredSettings::new();
    settings.set(Layer::Global, "provisioning_url", "https://prov.example.net").unwrap();
    settings.set(Layer::Global, "ntp_server", "pool.ntp.org").unwrap();
    for n in 0..unread {
        settings.set(Layer::Global, &format!("other_vendor_setting_{n}"), format!("value {n}")).unwrap();
    }
    settings
}

/// Microseconds per render of `vendor`'s device file with `settings`, best of three runs.
fn per_render(renderer: &Renderer, vendor: sipprov_template::Vendor, settings: &LayeredSettings) -> f64 {
    let account = AccountSettings::new("1001", "u7Kq2", "Front desk", "sip.example.net:5061");
    let device = Device {
        firmware: None,
        mac: Mac::parse("001565aabbcc").unwrap(),
        model: None,
        accounts: std::slice::from_ref(&account),
        keys: &[],
        settings,
        secrets: Secrets { sip_passwords: &[], admin_password: None },
    };
    let file = vendor.profile().and_then(|profile| profile.device_file()).unwrap();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let started = Instant::now();
        for _ in 0..RENDERS {
            std::hint::black_box(renderer.render_device(file, &device).unwrap());
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(RENDERS));
    }
    best
}

fn main() {
    let renderer = Renderer::shipped().unwrap();
    let (read, more) = (settings(0), settings(UNREAD));
    println!("{RENDERS} renders of each vendor's device file, one account (us per render, best of 3)");
    println!("{:<12} {:>14} {:>22} {:>7}", "vendor", "2 settings", format!("{} settings", 2 + UNREAD), "ratio");
    for profile in profiles() {
        if profile.device_file().is_none_or(|file| file.template.is_none()) {
            continue;
        }
        let (few, many) = (per_render(&renderer, profile.vendor, &read), per_render(&renderer, profile.vendor, &more));
        println!("{:<12} {few:>14.2} {many:>22.2} {:>7.2}", profile.vendor.name(), many / few);
    }
}
