//! SIGHUP: the trust anchors, templates and server certificates read again from the config
//! file and swapped in whole, or, if any of them does not load, none of them.
//!
//! A renewed server certificate is the common case: the files are replaced where the config
//! names them, `sipprovd check` sees them load (`systemctl reload` runs it first), and SIGHUP
//! makes every listener present them from its next handshake on, without a restart that would
//! drain connections. Listeners are not added or moved by a reload: other changes need a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use sipprov_identity::{TrustStore, certificate_not_after};
use sipprov_server::tls::ServerCertificates;
use sipprov_server::{Metrics, Reloader};
use sipprov_template::Renderer;

use crate::config::Config;

/// The running listeners a reload renews.
pub(crate) struct Listeners {
    /// The certificate and Digest listeners' anchors and templates.
    pub(crate) phones: Reloader,
    /// The certificates the certificate and Digest listeners present.
    pub(crate) phone_certificates: Arc<ServerCertificates>,
    /// The admin listener's certificates.
    pub(crate) admin: Arc<ServerCertificates>,
    /// The portal listener's certificates, if it runs.
    pub(crate) portal: Option<Arc<ServerCertificates>>,
    /// Where the certificates' expiry is reported.
    pub(crate) metrics: Arc<Metrics>,
}

impl Listeners {
    /// Sets `sipprov_server_certificate_expiry_timestamp_seconds` from the certificates the
    /// phone and admin listeners, and the portal if it runs, present now.
    pub(crate) fn report_expiry(&self) {
        let portal = self.portal.as_ref().map(|portal| ("portal", portal));
        for (listener, certificates) in
            [("phones", &self.phone_certificates), ("admin", &self.admin)].into_iter().chain(portal)
        {
            if let Some(not_after) = certificates.leaf().and_then(|leaf| certificate_not_after(&leaf).ok()) {
                self.metrics.set_certificate_expiry(listener, not_after);
            }
        }
    }

    /// Swaps in everything `loaded` holds, or nothing if the new anchors cannot make a TLS
    /// configuration.
    fn renew(&self, loaded: Loaded) -> anyhow::Result<()> {
        self.phones.reload(loaded.trust, Arc::new(loaded.renderer))?;
        self.phone_certificates.replace(loaded.phones);
        self.admin.replace(loaded.admin);
        if let (Some(running), Some(renewed)) = (&self.portal, loaded.portal) {
            running.replace(renewed);
        }
        self.report_expiry();
        Ok(())
    }
}

/// What a reload swaps in, read afresh from the config file.
struct Loaded {
    trust: TrustStore,
    renderer: Renderer,
    phones: ServerCertificates,
    admin: ServerCertificates,
    portal: Option<ServerCertificates>,
}

/// Reads everything a reload swaps in from the config file at `path`; any part that does not
/// load (a bundle, a template, a certificate, a key that does not match it) refuses the whole.
fn load(path: &Path) -> anyhow::Result<Loaded> {
    let config = Config::load(path)?;
    let (primary, rsa) = config.phones.certificates().context("[phones] certificate")?;
    let admin = config.admin_certificate().context("[admin] certificate")?;
    let portal = config.portal.as_ref().map(|section| config.portal_certificate(section)).transpose();
    let portal = portal.context("[portal] certificate")?;
    Ok(Loaded {
        trust: config.trust_store()?,
        renderer: config.renderer()?,
        phones: ServerCertificates::new(primary, rsa).context("[phones] certificate")?,
        admin: ServerCertificates::new(admin, None).context("[admin] certificate")?,
        portal: portal.map(|c| ServerCertificates::new(c, None)).transpose().context("[portal] certificate")?,
    })
}

/// On each SIGHUP, reads the config file at `config_path` again and renews `listeners`.
#[cfg(unix)]
pub(crate) fn start_on_sighup(config_path: PathBuf, listeners: Listeners) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => return tracing::warn!(error = %e, "cannot listen for SIGHUP; reloads need a restart"),
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            crate::systemd::reloading();
            let path = config_path.clone();
            let loaded = tokio::task::spawn_blocking(move || load(&path)).await;
            let outcome = match loaded {
                Ok(Ok(loaded)) => listeners.renew(loaded),
                Ok(Err(e)) => {
                    listeners.phones.refused();
                    Err(e)
                }
                Err(e) => Err(anyhow::anyhow!("reload task failed: {e}")),
            };
            crate::systemd::reloaded(&outcome);
            match outcome {
                Ok(()) => tracing::info!(
                    config = %config_path.display(),
                    "reloaded trust anchors, templates and server certificates"
                ),
                Err(e) => tracing::error!(
                    config = %config_path.display(),
                    error = format!("{e:#}"),
                    "reload refused; still serving with the previous trust anchors, templates and certificates"
                ),
            }
        }
    });
}

#[cfg(not(unix))]
pub(crate) fn start_on_sighup(_config_path: PathBuf, _listeners: Listeners) {}
