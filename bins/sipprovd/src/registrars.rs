//! `[[registrar]]`: the registrars told each account's HA1, and the thread that tells them.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::bail;
use serde::Deserialize;
use sipprov_registrar::{
    KamailioMysql, KamailioOptions, KamailioSubscriber, Outbox, Registrar, Webhook, WebhookOptions,
};

/// How often the outbox is read for new changes while all registrars answer.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// One registrar.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrarSection {
    /// Its name in audit events and `registrar sync`.
    pub name: String,
    /// `kamailio-postgres` or `kamailio-mysql` (Kamailio's `subscriber` table), or `webhook`
    /// (a signed JSON POST).
    pub kind: String,
    /// `postgres://...` or `mysql://...` of Kamailio's database, or the webhook's `https://` URL.
    pub url: String,
    /// Kamailio: the table [default: `subscriber`].
    pub table: Option<String>,
    /// Kamailio: a column of the table for the SHA-256 HA1, if it has one.
    pub sha256_column: Option<String>,
    /// Webhook: the file holding the HMAC key (at least 32 bytes).
    pub secret_file: Option<PathBuf>,
    /// The authorities the registrar's TLS certificate is checked against (PEM).
    pub ca_file: Option<PathBuf>,
}

impl RegistrarSection {
    /// Makes relative paths relative to `base`.
    pub fn resolve(&mut self, base: &Path) {
        for file in [&mut self.secret_file, &mut self.ca_file].into_iter().flatten() {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
    }

    /// The registrar it describes; the error names the section and what is wrong.
    pub fn registrar(&self) -> anyhow::Result<Arc<dyn Registrar>> {
        let name = self.name.clone();
        let only_for = |field: &str, value: bool, kind: &str| {
            if value { bail!("[[registrar]] {name:?}: `{field}` is for {kind} only") } else { Ok(()) }
        };
        Ok(match self.kind.as_str() {
            "kamailio-postgres" | "kamailio-mysql" => {
                only_for("secret_file", self.secret_file.is_some(), "kind webhook")?;
                let options = KamailioOptions {
                    name,
                    url: self.url.clone(),
                    table: self.table.clone().unwrap_or_else(|| "subscriber".into()),
                    sha256_column: self.sha256_column.clone(),
                    ca_file: self.ca_file.clone(),
                };
                if self.kind == "kamailio-mysql" {
                    Arc::new(KamailioMysql::new(options)?)
                } else {
                    Arc::new(KamailioSubscriber::new(options)?)
                }
            }
            "webhook" => {
                only_for("table", self.table.is_some(), "the kamailio kinds")?;
                only_for("sha256_column", self.sha256_column.is_some(), "the kamailio kinds")?;
                let Some(secret_file) = self.secret_file.clone() else {
                    bail!("[[registrar]] {name:?}: a webhook needs `secret_file`, the HMAC key it signs with");
                };
                Arc::new(Webhook::new(WebhookOptions {
                    name,
                    url: self.url.clone(),
                    secret_file,
                    ca_file: self.ca_file.clone(),
                })?)
            }
            other => {
                bail!("[[registrar]] {name:?}: unknown kind {other:?} (kamailio-postgres, kamailio-mysql or webhook)")
            }
        })
    }
}

/// Every section's registrar, in order; names must be distinct.
pub fn registrars(sections: &[RegistrarSection]) -> anyhow::Result<Vec<Arc<dyn Registrar>>> {
    let mut names = std::collections::BTreeSet::new();
    sections
        .iter()
        .map(|section| {
            if !names.insert(section.name.as_str()) {
                bail!("[[registrar]] {:?} is named twice", section.name);
            }
            section.registrar()
        })
        .collect()
}

/// Drains `outbox` on a thread of its own until `stop` is set; returns the thread.
pub fn start(outbox: Arc<Outbox>, stop: Arc<AtomicBool>) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("registrar-outbox".into())
        .spawn(move || outbox.run(POLL_EVERY, &|| stop.load(Ordering::Relaxed)))
}
