//! Ask one phone to fetch its configuration again, using `sipprov-resync` alone: a SIP NOTIFY
//! with its vendor's event, through the registrar the phone registered at.
//!
//! ```text
//! cargo run -p sipprov-examples --bin resync_phone -- 127.0.0.1:5060 sip:1001@sip.example.net yealink
//! ```
//! Arguments: the proxy (`host:port`, UDP), the phone's address of record, its vendor (default
//! `yealink`). Prints the outcome: accepted, not-supported, not-registered, timeout, ...
#![allow(clippy::print_stdout)]

use anyhow::Context;
use sipprov_resync::{Proxy, Resyncer, Target, Timers, Transport, resync_event};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let proxy = args.next().unwrap_or_else(|| "127.0.0.1:5060".to_owned());
    let aor = args.next().unwrap_or_else(|| "sip:1001@sip.example.net".to_owned());
    let vendor = args.next().unwrap_or_else(|| "yealink".to_owned());
    let (host, port) = proxy.rsplit_once(':').context("the proxy is host:port")?;

    let resyncer = Resyncer {
        proxy: Proxy { host: host.to_owned(), port: port.parse()?, transport: Transport::Udp, tls: None },
        from: "sip:provisioning@sip.example.net".to_owned(),
        timers: Timers::default(),
        per_second: 20,
        concurrency: 8,
    };
    let target = Target { label: aor.clone(), aor, event: resync_event(Some(&vendor), false) };
    println!("NOTIFY {} with Event: {} through {proxy}", target.aor, target.event);
    for (target, outcome) in resyncer.resync(vec![target]) {
        let status = outcome.status().map_or_else(|| "-".to_owned(), |status| status.to_string());
        println!("{}: {} (status {status})", target.label, outcome.name());
    }
    Ok(())
}
