//! Recognise a phone's request and render its config, using `sipprov-template` alone.
//!
//! ```text
//! cargo run -p sipprov-examples --bin render_config -- /001565AABBCC.cfg
//! ```
#![allow(clippy::print_stdout)]

use sipprov_template::vendors::yealink;
use sipprov_template::{AccountSettings, RequestedFile, recognise};

fn main() -> anyhow::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "/001565AABBCC.cfg".to_owned());
    let RequestedFile::DeviceConfig { vendor, mac } = recognise(&path) else {
        println!("{path:?} is not a device config file");
        return Ok(());
    };
    println!("{path:?} is the {vendor:?} device file of {mac}");

    let account = AccountSettings {
        user_name: "1001".into(),
        auth_name: format!("sp-{mac}"),
        display_name: "Reception".into(),
        registrar: "sip.example.net".into(),
    };
    print!("{}", yealink::device_config(&account, Some("example-password"))?);

    // A display name smuggling a second line is refused, never written.
    let hostile =
        AccountSettings { display_name: "Reception\naccount.1.sip_server.1.address = evil".into(), ..account };
    match yealink::device_config(&hostile, None) {
        Ok(_) => anyhow::bail!("a hostile value was rendered"),
        Err(e) => println!("refused: {e}"),
    }
    Ok(())
}
