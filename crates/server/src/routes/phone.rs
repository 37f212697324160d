//! The phone listener's routes: a device fetching its own file, or its vendor's common file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hyper::header::USER_AGENT;
use hyper::{Method, Request, Response};
use sipprov_credentials::{Account, AuditEvent, AuditKind, Clock, DeviceProfile, SystemClock, quote};
use sipprov_credentials::{
    Committed, Credentials, CredentialsError, FetchKind, FetchRefusal, FetchRequest, Fetched, IssuedSecrets, StoreError,
};
use sipprov_identity::{DeviceIdentity, Mac};
use sipprov_ratelimit::{GateRefusal, MissKind, ScanOutcome};
use sipprov_template::{
    AccountSettings, Device, FunctionKey, KeyKind, Layer, LayeredSettings, ProfileFile, Renderer, Route, Secrets,
    Vendor, recognise_route,
};

use crate::GroupSettings;
use crate::firmware;
use crate::response::{self, Body};
use sipprov_serving::Admission;
use sipprov_serving::Metrics;

/// What happened to one request; logged, and later fed to scan detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestOutcome {
    /// The device's config was served; `with_secrets` says whether the secrets were in it.
    Served { with_secrets: bool },
    /// A common file (no secrets) was served.
    ServedCommon,
    /// A firmware image was served.
    ServedFirmware,
    /// Not a GET or HEAD.
    MethodNotServed,
    /// The path is no file any profiled phone asks for.
    UnknownPath,
    /// A file phones do ask for that sipprov does not serve (boot, firmware, upload, no
    /// template): a normal part of a phone's boot sequence, not a scan.
    NotServed,
    /// The source or device is over its request rate; not counted as a miss.
    RateLimited,
    /// The source was banned while the connection was open; not counted (the ban is the
    /// answer), and the connection is closed.
    Banned,
    /// The certificate verified but names no device.
    NoIdentity,
    /// The path names another device's file: an attack, or a misconfigured phone.
    MacMismatch,
    /// The certificate's device is not in the inventory (listed as pending for the operator).
    NotEnrolled,
    /// The device is enrolled but gets nothing (disabled, dormant, or another key).
    Refused(FetchRefusal),
    /// The credential service failed (store, audit, sealing key); nothing was consumed.
    Unavailable,
    /// The device's settings cannot be written in its vendor's format.
    RenderFailed,
}

impl RequestOutcome {
    /// The outcome's name in logs and metrics.
    pub(crate) fn label(self) -> &'static str {
        match self {
            RequestOutcome::Served { with_secrets: true } => "served_with_secrets",
            RequestOutcome::Served { with_secrets: false } => "served",
            RequestOutcome::ServedCommon => "served_common",
            RequestOutcome::ServedFirmware => "served_firmware",
            RequestOutcome::MethodNotServed => "method_not_served",
            RequestOutcome::UnknownPath => "unknown_path",
            RequestOutcome::NotServed => "not_served",
            RequestOutcome::RateLimited => "rate_limited",
            RequestOutcome::Banned => "banned",
            RequestOutcome::NoIdentity => "no_identity",
            RequestOutcome::MacMismatch => "mac_mismatch",
            RequestOutcome::NotEnrolled => "not_enrolled",
            RequestOutcome::Refused(FetchRefusal::Disabled) => "refused_disabled",
            RequestOutcome::Refused(FetchRefusal::Dormant) => "refused_dormant",
            RequestOutcome::Refused(FetchRefusal::KeyMismatch) => "refused_key_mismatch",
            RequestOutcome::Refused(_) => "refused",
            RequestOutcome::Unavailable => "unavailable",
            RequestOutcome::RenderFailed => "render_failed",
        }
    }

    /// What the scan detector learns from this outcome.
    ///
    /// Every refusal that answers the uniform 404 because of the device (not enrolled,
    /// disabled, dormant, another key) weighs the same, so a ban never tells enrolled from
    /// unknown. Files phones ask for that sipprov does not serve, and answers about the server
    /// rather than the client (its limits, its failures), weigh nothing: they neither hide
    /// misses nor add them.
    fn scan_weight(self) -> ScanWeight {
        match self {
            RequestOutcome::Served { .. } | RequestOutcome::ServedCommon | RequestOutcome::ServedFirmware => {
                ScanWeight::Hit
            }
            RequestOutcome::UnknownPath | RequestOutcome::MethodNotServed => ScanWeight::Miss(MissKind::UnknownPath),
            RequestOutcome::MacMismatch => ScanWeight::Miss(MissKind::MacMismatch),
            RequestOutcome::NoIdentity => ScanWeight::Miss(MissKind::UnknownDevice),
            RequestOutcome::NotEnrolled | RequestOutcome::Refused(_) => ScanWeight::RefusedDevice,
            RequestOutcome::NotServed
            | RequestOutcome::RateLimited
            | RequestOutcome::Banned
            | RequestOutcome::Unavailable
            | RequestOutcome::RenderFailed => ScanWeight::Nothing,
        }
    }
}

/// How an outcome counts for scan detection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanWeight {
    Hit,
    Miss(MissKind),
    /// A refusal because of the device: one miss per device per window.
    RefusedDevice,
    Nothing,
}

/// What a request is, decided before any store or template work.
enum Plan {
    /// Answer at once with the uniform 404.
    Answer(RequestOutcome),
    /// Serve this device file, after the credential lifecycle decides about its secrets; a
    /// `Peek` (HTTP `HEAD`) never delivers them.
    Device(&'static ProfileFile, FetchKind),
    /// Render this common file.
    Common(&'static ProfileFile),
    /// Stream this firmware image, if it exists.
    Firmware(PathBuf),
}

/// The state every phone request needs.
pub(crate) struct PhoneRoutes {
    pub(crate) admission: Arc<Admission>,
    pub(crate) credentials: Arc<Credentials>,
    pub(crate) registrar: String,
    pub(crate) settings: LayeredSettings,
    pub(crate) group_settings: GroupSettings,
    pub(crate) firmware: Option<PathBuf>,
    pub(crate) metrics: Arc<Metrics>,
}

impl PhoneRoutes {
    /// Answers one request from a phone whose certificate yielded `identity`.
    pub(crate) async fn handle<B>(
        &self,
        renderer: &Renderer,
        identity: Option<&DeviceIdentity>,
        peer: SocketAddr,
        request: Request<B>,
    ) -> (RequestOutcome, Response<Body>) {
        let user_agent =
            request.headers().get(USER_AGENT).map(|ua| String::from_utf8_lossy(ua.as_bytes()).into_owned());
        let (outcome, response) = self.route(renderer, identity, peer, &request, user_agent.clone()).await;
        let now = self.admission.now();
        match (outcome.scan_weight(), identity) {
            (ScanWeight::Hit, _) => self.admission.record(peer.ip(), ScanOutcome::Hit, now),
            (ScanWeight::Miss(kind), _) => self.admission.record(peer.ip(), ScanOutcome::Miss(kind), now),
            (ScanWeight::RefusedDevice, Some(identity)) => {
                self.admission.record_refused_device(peer.ip(), &identity.mac, now);
            }
            (ScanWeight::RefusedDevice, None) | (ScanWeight::Nothing, _) => {}
        }
        self.metrics.count_request(outcome.label());
        // ITSPA's rating of the provisioning method: 5 for HTTPS with a unique device
        // certificate, 4 for a certificate that verified but names no device (a shared one).
        let rating = if identity.is_some() { 5 } else { 4 };
        // Client-supplied text (path, User-Agent) is Debug-quoted: control characters escaped.
        tracing::info!(
            %peer,
            mac = %identity.map_or_else(|| "-".to_owned(), |identity| identity.mac.to_string()),
            rating,
            method = %request.method(),
            path = ?request.uri().path(),
            user_agent = ?user_agent.as_deref().unwrap_or("-"),
            outcome = outcome.label(),
            status = response.status().as_u16(),
            "phone request"
        );
        (outcome, response)
    }

    /// Decides, without touching the store, what a request is: an early answer, or a file to
    /// serve. Cheap enough to run for requests over their rate limit too, so the scan detector
    /// still learns from them.
    fn plan<B>(&self, identity: Option<&DeviceIdentity>, request: &Request<B>, user_agent: Option<&str>) -> Plan {
        let kind = match *request.method() {
            Method::GET => FetchKind::Deliver,
            Method::HEAD => FetchKind::Peek,
            _ => return Plan::Answer(RequestOutcome::MethodNotServed),
        };
        let route = recognise_route(request.uri().path(), user_agent);
        match route {
            Route::Device { .. } | Route::Common { .. } => {}
            Route::Firmware { .. } if self.firmware.is_some() => {}
            Route::Unknown => return Plan::Answer(RequestOutcome::UnknownPath),
            _ => return Plan::Answer(RequestOutcome::NotServed),
        }
        let Some(identity) = identity else {
            return Plan::Answer(RequestOutcome::NoIdentity);
        };
        if let (Route::Firmware { .. }, Some(directory)) = (&route, &self.firmware) {
            // Only from the directory of the vendor the certificate names.
            let vendor = format_vendor(identity).filter(|vendor| route.file_for(*vendor).is_some());
            let path = vendor.and_then(|vendor| firmware::path_for(directory, vendor, request.uri().path()));
            return path.map_or(Plan::Answer(RequestOutcome::NotServed), Plan::Firmware);
        }
        // Authorization: the certificate's MAC, never the path's, decides whose file this is.
        if route.mac().is_some_and(|mac| mac != identity.mac) {
            return Plan::Answer(RequestOutcome::MacMismatch);
        }
        // The file's format follows what the certificate says, never the User-Agent.
        let file = format_vendor(identity).and_then(|vendor| route.file_for(vendor)).filter(|f| f.template.is_some());
        match (file, route) {
            (None, _) => Plan::Answer(RequestOutcome::NotServed),
            (Some(file), Route::Device { .. }) => Plan::Device(file, kind),
            (Some(file), _) => Plan::Common(file),
        }
    }

    async fn route<B>(
        &self,
        renderer: &Renderer,
        identity: Option<&DeviceIdentity>,
        peer: SocketAddr,
        request: &Request<B>,
        user_agent: Option<String>,
    ) -> (RequestOutcome, Response<Body>) {
        let plan = self.plan(identity, request, user_agent.as_deref());
        match self.admission.request(peer.ip(), identity.map(|identity| &identity.mac)) {
            Ok(()) => {}
            // The connection is being closed; nothing more is learnt from it.
            Err(GateRefusal::Banned { .. }) => return (RequestOutcome::Banned, response::not_found()),
            // Over the limit: no work, but a request that would have missed still counts as one.
            Err(_) => {
                let outcome = match plan {
                    Plan::Answer(outcome) if matches!(outcome.scan_weight(), ScanWeight::Miss(_)) => outcome,
                    _ => RequestOutcome::RateLimited,
                };
                return (outcome, response::not_found());
            }
        }
        match (plan, identity) {
            (Plan::Answer(RequestOutcome::MacMismatch), Some(identity)) => {
                self.audit_mismatch(identity.mac, request.uri().path(), peer).await;
                (RequestOutcome::MacMismatch, response::not_found())
            }
            (Plan::Answer(outcome), _) => (outcome, response::not_found()),
            (Plan::Device(file, kind), Some(identity)) => {
                let fetch = FetchRequest { spki_sha256: identity.spki_sha256, peer: peer.ip().to_string(), user_agent };
                self.serve_device_file(renderer, identity, file, fetch, kind).await
            }
            (Plan::Common(file), _) => match renderer.render_common(file, &self.settings) {
                Ok(body) => (RequestOutcome::ServedCommon, response::config_file(body, file.format.content_type())),
                Err(e) => {
                    tracing::error!(file = file.pattern, error = %e, "common file cannot be rendered");
                    (RequestOutcome::RenderFailed, response::unavailable())
                }
            },
            (Plan::Device(..), None) => (RequestOutcome::NoIdentity, response::not_found()),
            (Plan::Firmware(path), _) => {
                let opened = tokio::task::spawn_blocking(move || firmware::open(&path)).await.ok().flatten();
                match opened {
                    Some((file, length)) => (RequestOutcome::ServedFirmware, response::firmware(file, length)),
                    None => (RequestOutcome::NotServed, response::not_found()),
                }
            }
        }
    }

    /// Audits a device asking for another device's file, before the answer goes out. The scan
    /// detector bans a source that keeps doing it, which bounds these writes.
    async fn audit_mismatch(&self, mac: Mac, path: &str, peer: SocketAddr) {
        let event = AuditEvent::new(
            SystemClock.now(),
            mac,
            AuditKind::MacMismatch,
            format!("asked={} peer={}", quote(path), quote(&peer.ip().to_string())),
        );
        let credentials = Arc::clone(&self.credentials);
        match tokio::task::spawn_blocking(move || credentials.store().append_audit(vec![event])).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(%mac, error = %e, "cannot audit a MAC mismatch"),
            Err(e) => tracing::error!(%mac, error = %e, "MAC mismatch audit task failed"),
        }
    }

    /// Serves a device its own file: the lifecycle decides on a read of the store, the config
    /// is rendered, and only then is the fetch committed (a transition, a delivered secret and
    /// their audit events, off the async workers). A poll that changes nothing is a read: no
    /// thread hop, no write. A config that cannot be rendered consumes nothing.
    async fn serve_device_file(
        &self,
        renderer: &Renderer,
        identity: &DeviceIdentity,
        file: &'static ProfileFile,
        fetch: FetchRequest,
        kind: FetchKind,
    ) -> (RequestOutcome, Response<Body>) {
        let mac = identity.mac;
        for _ in 0..DECIDE_ATTEMPTS {
            let decision = match self.credentials.decide(&mac, fetch.clone(), kind) {
                Ok(decision) => decision,
                Err(e) => return unavailable(mac, &e),
            };
            let body = match decision.answer() {
                Fetched::Config { accounts, profile, secrets } => {
                    match self.render_device(renderer, identity, file, accounts, profile, secrets.as_ref()) {
                        Ok(body) => Some(body),
                        Err(e) => {
                            tracing::error!(%mac, error = %e, "device config cannot be rendered; nothing was delivered");
                            return (RequestOutcome::RenderFailed, response::unavailable());
                        }
                    }
                }
                Fetched::NotEnrolled => {
                    self.note_pending(identity, &fetch.peer).await;
                    None
                }
                Fetched::Refused(_) => None,
            };
            let committed = if decision.writes() {
                let credentials = Arc::clone(&self.credentials);
                tokio::task::spawn_blocking(move || credentials.commit(decision)).await.unwrap_or_else(|e| {
                    Err(CredentialsError::Store(StoreError::Backend(format!("the commit task failed: {e}").into())))
                })
            } else {
                self.credentials.commit(decision)
            };
            return match (committed, body) {
                (Ok(Committed::Changed), _) => continue,
                (Ok(Committed::Done(Fetched::Config { secrets, .. })), Some(body)) => (
                    RequestOutcome::Served { with_secrets: secrets.is_some() },
                    response::config_file(body, file.format.content_type()),
                ),
                (Ok(Committed::Done(Fetched::Refused(refusal))), _) => {
                    (RequestOutcome::Refused(refusal), response::not_found())
                }
                (Ok(Committed::Done(_)), _) => (RequestOutcome::NotEnrolled, response::not_found()),
                (Err(e), _) => unavailable(mac, &e),
            };
        }
        tracing::error!(%mac, attempts = DECIDE_ATTEMPTS, "the device kept changing during its fetch");
        (RequestOutcome::Unavailable, response::unavailable())
    }

    /// Records a valid certificate for a MAC not in the inventory, for the operator's pending
    /// list (with its key, which enrolling it pins).
    async fn note_pending(&self, identity: &DeviceIdentity, peer: &str) {
        let credentials = Arc::clone(&self.credentials);
        let (mac, vendor, spki, peer) = (identity.mac, identity.vendor.clone(), identity.spki_sha256, peer.to_owned());
        let seen = tokio::task::spawn_blocking(move || credentials.seen_unknown(mac, &vendor, spki, &peer)).await;
        match seen {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(%mac, error = %e, "cannot record the pending device"),
            Err(e) => tracing::warn!(%mac, error = %e, "pending device task failed"),
        }
    }

    fn render_device(
        &self,
        renderer: &Renderer,
        identity: &DeviceIdentity,
        file: &ProfileFile,
        accounts: &[Account],
        profile: &DeviceProfile,
        secrets: Option<&IssuedSecrets>,
    ) -> Result<String, String> {
        let accounts: Vec<AccountSettings> = accounts.iter().map(|account| self.account_settings(account)).collect();
        let model = profile.model.as_deref().or(identity.model.as_deref());
        // The certificate's vendor as the file format knows it (for CN = MAC: the OUI's vendor).
        let vendor = match &profile.vendor {
            Some(vendor) => vendor.clone(),
            None => format_vendor(identity).map_or_else(|| identity.vendor.clone(), |v| v.name().to_owned()),
        };
        let settings = self.settings_for(&vendor, model, profile)?;
        let sip_passwords: Vec<(u16, &str)> = secrets
            .map(|s| s.sip_passwords.iter().map(|(line, password)| (*line, password.expose())).collect())
            .unwrap_or_default();
        let secrets = Secrets {
            sip_passwords: &sip_passwords,
            admin_password: secrets.and_then(|s| s.admin_password.as_ref()).map(|p| p.expose()),
        };
        let keys: Vec<FunctionKey> = profile.keys.iter().map(function_key).collect();
        let device =
            Device { mac: identity.mac, model, accounts: &accounts, keys: &keys, settings: &settings, secrets };
        renderer.render_device(file, &device).map_err(|e| e.to_string())
    }

    /// An account as its vendor's template sees it: the global registrar unless it has its own.
    fn account_settings(&self, account: &Account) -> AccountSettings {
        AccountSettings {
            line: account.line,
            user_name: account.user_name.clone(),
            auth_name: account.auth_name.clone(),
            display_name: account.display_name.clone(),
            registrar: account.registrar.clone().unwrap_or_else(|| self.registrar.clone()),
            outbound_proxy: account.outbound_proxy.clone(),
            transport: account.transport.map(|transport| match transport {
                sipprov_credentials::Transport::Udp => sipprov_template::Transport::Udp,
                sipprov_credentials::Transport::Tcp => sipprov_template::Transport::Tcp,
                sipprov_credentials::Transport::Tls => sipprov_template::Transport::Tls,
            }),
            srtp: account.srtp.map(|srtp| match srtp {
                sipprov_credentials::Srtp::Off => sipprov_template::Srtp::Off,
                sipprov_credentials::Srtp::Optional => sipprov_template::Srtp::Optional,
                sipprov_credentials::Srtp::Required => sipprov_template::Srtp::Required,
            }),
        }
    }
}

/// How often a fetch is decided again when the device changes between decision and commit.
const DECIDE_ATTEMPTS: usize = 4;

fn unavailable(mac: Mac, e: &CredentialsError) -> (RequestOutcome, Response<Body>) {
    tracing::error!(%mac, error = %e, "credential service failed; nothing was delivered");
    (RequestOutcome::Unavailable, response::unavailable())
}

impl PhoneRoutes {
    /// The settings one device is rendered with: global, then its vendor's, model's and site's
    /// groups, then its own.
    fn settings_for(
        &self,
        vendor: &str,
        model: Option<&str>,
        profile: &DeviceProfile,
    ) -> Result<LayeredSettings, String> {
        let mut settings = self.settings.clone();
        let groups = &self.group_settings;
        let layers = [
            (Layer::Vendor, groups.vendor.get(vendor)),
            (Layer::Model, model.and_then(|model| groups.model.get(model))),
            (Layer::Site, profile.site.as_ref().and_then(|site| groups.site.get(site))),
            (Layer::Device, Some(&profile.settings)),
        ];
        for (layer, values) in layers {
            for (name, value) in values.into_iter().flatten() {
                settings.set(layer, name, value.as_str()).map_err(|e| e.to_string())?;
            }
        }
        // Checked when each layer was set; checked again here, where it matters.
        match settings.get("provisioning_url") {
            Some(url) => sipprov_template::check_setting("provisioning_url", url)?,
            None => return Err("no provisioning_url".into()),
        }
        Ok(settings)
    }
}

/// A programmable key as its vendor's template sees it.
fn function_key(key: &sipprov_credentials::FunctionKey) -> FunctionKey {
    FunctionKey {
        position: key.position,
        kind: match key.kind {
            sipprov_credentials::KeyKind::Blf => KeyKind::Blf,
            sipprov_credentials::KeyKind::SpeedDial => KeyKind::SpeedDial,
        },
        value: key.value.clone(),
        label: key.label.clone(),
        line: key.line,
    }
}

/// The vendor whose file format a device gets: the vendor its certificate layout names, or
/// for a layout that names none (CN = MAC under a private CA), the vendor of its MAC's OUI.
fn format_vendor(identity: &DeviceIdentity) -> Option<Vendor> {
    identity.vendor.parse::<Vendor>().ok().or_else(|| Vendor::from_oui(identity.mac.oui()))
}
