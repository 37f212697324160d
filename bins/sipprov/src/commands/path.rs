//! `sipprov path parse`: which file a request path names, as the server would see it.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;
use sipprov_template::recognise_route;

use super::json_object;

#[derive(Debug, Subcommand)]
pub(crate) enum PathCommand {
    /// Recognise a request path (without query string): its kind, MAC and vendor.
    ///
    /// Kinds: device (names a MAC, may carry secrets), common (never carries secrets),
    /// firmware, upload, unknown (answered like any unauthorized request). The vendor is null
    /// when several vendors ask for the same name and the User-Agent does not say which (the
    /// server then decides by the certificate). Exit status: 0, whatever the kind.
    Parse {
        /// The path as requested, e.g. /001565AABBCC.cfg.
        path: String,
        /// The User-Agent, as a hint for the vendor only; it never changes kind or MAC.
        #[arg(long)]
        ua: Option<String>,
        /// Print one JSON object: {"vendor", "kind", "mac"}.
        #[arg(long)]
        json: bool,
    },
}

impl PathCommand {
    pub(crate) fn run(self) -> ExitCode {
        let PathCommand::Parse { path, ua, json } = self;
        let route = recognise_route(&path, ua.as_deref());
        let vendor = route.candidates().and_then(|c| c.vendor()).map(|v| v.name());
        let mac = route.mac().map(|m| m.to_string());
        if json {
            println!(
                "{}",
                json_object::ordered(&[
                    ("vendor", Value::from(vendor)),
                    ("kind", Value::from(route.kind().name())),
                    ("mac", Value::from(mac)),
                ])
            );
        } else {
            println!("kind:   {}", route.kind().name());
            println!("mac:    {}", mac.as_deref().unwrap_or("-"));
            println!("vendor: {}", vendor.unwrap_or("-"));
            for file in route.candidates().map(|c| c.files()).unwrap_or_default() {
                let served = file.template.map_or_else(|| "not served".to_owned(), |t| format!("rendered from {t}"));
                println!("  {:<12} {:<26} {served}: {}", file.vendor.name(), file.pattern, file.purpose);
            }
        }
        ExitCode::SUCCESS
    }
}
