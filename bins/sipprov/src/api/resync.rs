//! `sipprov device resync`: phones asked to fetch their configuration now.

use clap::Args;
use serde_json::json;

use super::client::Client;
use super::table::{self, print_json};

/// Which devices, and whether they reboot.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["macs", "site", "model", "all"]))]
pub(crate) struct ResyncArgs {
    /// The devices' MACs.
    macs: Vec<String>,
    /// Every device of this site.
    #[arg(long)]
    site: Option<String>,
    /// Every device of this model.
    #[arg(long)]
    model: Option<String>,
    /// Every device (at most 5,000 a call: narrow by site or model beyond).
    #[arg(long)]
    all: bool,
    /// Ask for a reboot as well (the vendor's rebooting event).
    #[arg(long)]
    reboot: bool,
}

impl ResyncArgs {
    pub(crate) fn run(self, client: &Client, as_json: bool) -> anyhow::Result<()> {
        let mut body = json!({"reboot": self.reboot});
        if !self.macs.is_empty() {
            body["macs"] = json!(self.macs);
        }
        if let Some(site) = self.site {
            body["site"] = json!(site);
        }
        if let Some(model) = self.model {
            body["model"] = json!(model);
        }
        if self.all {
            body["all"] = json!(true);
        }
        let answer = client.post_json("/v1/resync", &body)?.expect(&[200])?;
        if as_json {
            return print_json(&answer);
        }
        let rows = answer["results"].as_array().cloned().unwrap_or_default();
        let columns =
            [("MAC", "mac"), ("EVENT", "event"), ("OUTCOME", "outcome"), ("STATUS", "status"), ("REASON", "reason")];
        table::print(&columns, &rows);
        Ok(())
    }
}
