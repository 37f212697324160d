//! `sipprov ua parse`: what a User-Agent claims about a phone.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::Value;
use sipprov_template::UserAgent;

use super::json_object;

#[derive(Debug, Subcommand)]
pub(crate) enum UaCommand {
    /// Read vendor, model, firmware and MAC from a User-Agent string.
    ///
    /// A User-Agent can be forged: what it says feeds reports and diagnostics, never
    /// authorization. Unknown shapes print nulls. Exit status: 0.
    Parse {
        /// The User-Agent, e.g. "Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37".
        user_agent: String,
        /// Print one JSON object: {"vendor", "model", "firmware", "mac"}; null for what is unknown.
        #[arg(long)]
        json: bool,
    },
}

impl UaCommand {
    pub(crate) fn run(self) -> ExitCode {
        let UaCommand::Parse { user_agent, json } = self;
        let ua = UserAgent::parse(&user_agent);
        let vendor = ua.vendor.map(|v| v.name().to_owned());
        let mac = ua.mac.map(|m| m.to_string());
        if json {
            println!(
                "{}",
                json_object::ordered(&[
                    ("vendor", Value::from(vendor)),
                    ("model", Value::from(ua.model)),
                    ("firmware", Value::from(ua.firmware)),
                    ("mac", Value::from(mac)),
                ])
            );
        } else {
            println!("vendor:   {}", vendor.as_deref().unwrap_or("-"));
            println!("model:    {}", ua.model.as_deref().unwrap_or("-"));
            println!("firmware: {}", ua.firmware.as_deref().unwrap_or("-"));
            println!("mac:      {}", mac.as_deref().unwrap_or("-"));
        }
        ExitCode::SUCCESS
    }
}
