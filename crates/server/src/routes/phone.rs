//! The phone listener's routes: a device fetching its own file, or its vendor's common file.
//!
//! A request, top to bottom: `PhoneRoutes::handle` takes the rate limit and feeds the
//! outcome to scan detection; `PhoneRoutes::plan` recognises the path and authorizes it
//! against the certificate's identity (anything else is the uniform 404); a device file goes
//! to `serve_device_file`: the lifecycle decides on a read of the store, `DeviceConfig`
//! layers the settings and renders, and only a decision that writes is committed, before the
//! answer leaves.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hyper::header::{AUTHORIZATION, USER_AGENT};
use hyper::{Method, Request, Response};
use sipprov_credentials::{AuditEvent, AuditKind, Clock, Password, SystemClock, quote};
use sipprov_credentials::{
    Committed, Credentials, CredentialsError, Decision, FetchKind, FetchRequest, Fetched, RATING_DEVICE_CERTIFICATE,
    StoreError,
};
use sipprov_fleet::{FirmwareImage, Fleet};
use sipprov_identity::{DeviceIdentity, Mac};
use sipprov_ratelimit::{GateRefusal, ScanOutcome};
use sipprov_serving::{Admission, Metrics, RequestId};
use sipprov_template::{ProfileFile, Renderer, Route, Vendor, recognise_route};

use super::device_config::{DeviceConfig, DeviceToRender, format_vendor};
use super::known_devices::KnownDevices;
use super::outcome::{RequestOutcome, ScanWeight};
use crate::digest_auth::Unusable;
use crate::digest_listener::DigestListener;
use crate::firmware;
use crate::rating_policy::RatingPolicy;
use crate::response::{self, Body};
use crate::tls_facts::TlsFacts;

/// What a request is, decided before any store or template work.
enum Plan {
    /// Answer at once with the uniform 404.
    Answer(RequestOutcome),
    /// Serve this device file, after the credential lifecycle decides about its secrets; a
    /// `Peek` (HTTP `HEAD`) never delivers them.
    Device(&'static ProfileFile, FetchKind),
    /// Render this common file.
    Common(&'static ProfileFile),
    /// Stream this registered firmware image, if its file still has its hash.
    Image(FirmwareImage),
    /// Write the version file a Fanvil phone asks its upgrade server for, naming this image.
    FanvilVersionFile(FirmwareImage),
}

/// The state every phone request needs.
pub(crate) struct PhoneRoutes {
    pub(crate) admission: Arc<Admission>,
    pub(crate) credentials: Arc<Credentials>,
    pub(crate) config: DeviceConfig,
    pub(crate) fleet: Arc<Fleet>,
    pub(crate) metrics: Arc<Metrics>,
    /// Provisioned phones as last read from a networked store, for polls while it is away.
    pub(crate) known: KnownDevices,
    /// The lowest rating each device may be provisioned with (set once, before serving);
    /// without it, 4 is enough for every device.
    pub(crate) rating_policy: std::sync::OnceLock<RatingPolicy>,
}

/// The device a verified certificate named, and whether its chain was a legacy one (SHA-1 or
/// RSA-1024, accepted by an explicit trust entry: rated 4).
pub(crate) struct Certified {
    pub(crate) identity: DeviceIdentity,
    pub(crate) legacy: bool,
}

/// Who a request comes from, as far as its listener can tell before reading it.
pub(crate) enum Client<'a> {
    /// The certificate listener: what the verified certificate named, if anything.
    Certificate(Option<&'a Certified>),
    /// The Digest listener: the request's credentials will tell.
    Digest(&'a DigestListener),
}

/// ITSPA's rating of HTTPS with per-device credentials (an enrolment secret), or with a
/// certificate shared by many devices.
const RATING_SECRET: u8 = 4;

/// The Digest listener's answer before routing: what happened, the response, and the device
/// when one was authenticated (and then refused).
type Answered = (RequestOutcome, Response<Body>, Option<DeviceIdentity>);

/// What a request's client was found to be: the device (if any), the ITSPA rating of how it
/// was identified, and for a secret, where its config points back to.
struct Identified<'a> {
    identity: Option<&'a DeviceIdentity>,
    rating: u8,
    digest: Option<&'a DigestFetch>,
}

/// A fetch authenticated by an enrolment secret: where the phone's config says to provision
/// from, and the secret (Linphone keeps its provisioning credentials only in that URL).
struct DigestFetch {
    provisioning_url: String,
    secret: Password,
}

impl DigestFetch {
    /// The provisioning URL `file`'s format gets.
    fn url_for(&self, file: &ProfileFile, mac: Mac) -> String {
        if file.vendor != Vendor::Linphone {
            return self.provisioning_url.clone();
        }
        let rest = self.provisioning_url.strip_prefix("https://").unwrap_or(&self.provisioning_url);
        format!("https://{mac}:{}@{rest}", self.secret.expose())
    }
}

impl PhoneRoutes {
    /// Answers one request from `client`.
    pub(crate) async fn handle<B>(
        &self,
        renderer: &Renderer,
        client: Client<'_>,
        tls: &TlsFacts,
        peer: SocketAddr,
        request: Request<B>,
    ) -> (RequestOutcome, Response<Body>) {
        let (started, request_id) = (Instant::now(), RequestId::next());
        let user_agent =
            request.headers().get(USER_AGENT).map(|ua| String::from_utf8_lossy(ua.as_bytes()).into_owned());
        // ITSPA's rating of the provisioning method: 5 for HTTPS with a unique device
        // certificate, 4 for per-device credentials or a certificate that names no device.
        let (identity, rating, answered, digest_fetch) = match client {
            Client::Certificate(Some(certified)) if certified.legacy => {
                let identity = Cow::Borrowed(&certified.identity);
                match self.below_minimum(&certified.identity, peer).await {
                    Some(refused) => (Some(identity), RATING_SECRET, Some(refused), None),
                    None => (Some(identity), RATING_SECRET, None, None),
                }
            }
            Client::Certificate(certified) => {
                let rating = if certified.is_some() { RATING_DEVICE_CERTIFICATE } else { RATING_SECRET };
                (certified.map(|certified| Cow::Borrowed(&certified.identity)), rating, None, None)
            }
            Client::Digest(digest) => match self.authenticate(digest, peer, &request).await {
                Ok((identity, secret)) => {
                    let fetch = DigestFetch { provisioning_url: digest.provisioning_url.clone(), secret };
                    (Some(Cow::Owned(identity)), RATING_SECRET, None, Some(fetch))
                }
                Err((outcome, response, identity)) => {
                    (identity.map(Cow::Owned), RATING_SECRET, Some((outcome, response)), None)
                }
            },
        };
        let identity = identity.as_deref();
        let (outcome, response) = match answered {
            Some(answered) => answered,
            None => {
                let client = Identified { identity, rating, digest: digest_fetch.as_ref() };
                self.route(renderer, client, peer, &request, user_agent.clone()).await
            }
        };
        let now = self.admission.now();
        match (outcome.scan_weight(), identity) {
            (ScanWeight::Hit, _) => self.admission.record(peer.ip(), ScanOutcome::Hit, now),
            (ScanWeight::Miss(kind), _) => self.admission.record(peer.ip(), ScanOutcome::Miss(kind), now),
            (ScanWeight::RefusedDevice, Some(identity)) => {
                self.admission.record_refused_device(peer.ip(), &identity.mac, now);
            }
            (ScanWeight::RefusedDevice, None) | (ScanWeight::Nothing, _) => {}
        }
        self.metrics.count_request(outcome.label(), started.elapsed());
        // Client-supplied text (path, User-Agent) goes in as text values: the JSON encoder
        // escapes them, the text format quotes them, so control characters cannot forge a line.
        tracing::info!(
            %request_id,
            %peer,
            mac = %identity.map_or_else(|| "-".to_owned(), |identity| identity.mac.to_string()),
            tls = tls.version,
            certificate_serial = tls.certificate_serial.as_deref().unwrap_or("-"),
            rating,
            method = request.method().as_str(),
            path = request.uri().path(),
            user_agent = user_agent.as_deref().unwrap_or("-"),
            outcome = outcome.label(),
            status = response.status().as_u16(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
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
            Method::PUT => return Plan::Answer(upload_outcome(identity, request.uri().path(), user_agent)),
            _ => return Plan::Answer(RequestOutcome::MethodNotServed),
        };
        if let Some((sha256, name)) = firmware::catalogue_image(request.uri().path()) {
            let Some(identity) = identity else { return Plan::Answer(RequestOutcome::NoIdentity) };
            // Only a registered, unflagged image of the vendor the certificate names.
            let vendor = format_vendor(identity).map(|vendor| vendor.name());
            let policy = self.fleet.policy();
            return match policy.image(sha256) {
                Some(image) if Some(image.vendor.as_str()) == vendor && image.flagged.is_none() => {
                    if firmware::is_fanvil_version_file(image, name) {
                        Plan::FanvilVersionFile(image.clone())
                    } else {
                        Plan::Image(image.clone())
                    }
                }
                _ => Plan::Answer(RequestOutcome::UnknownPath),
            };
        }
        // A firmware file by the vendor's own name (`sip.ld`, `T54W-96.86.0.100.rom`) is not
        // served: an image reaches a phone only through the URL its own config names, so one
        // outside its target, roll-out or model is never pushed to it.
        // No User-Agent: its hint is for diagnostics, and the certificate picks the file.
        let route = recognise_route(request.uri().path(), None);
        match route {
            Route::Device { .. } | Route::Common { .. } => {}
            Route::Unknown => return Plan::Answer(RequestOutcome::UnknownPath),
            _ => return Plan::Answer(RequestOutcome::NotServed),
        }
        let Some(identity) = identity else {
            return Plan::Answer(RequestOutcome::NoIdentity);
        };
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

    /// Authenticates a Digest listener's request by the enrolment secret of the device its
    /// credentials name. Anything that is not a proof (no credentials, a wrong secret, an
    /// unknown device, a replayed header) gets the same fresh challenge; a device whose policy
    /// wants its certificate gets the uniform 404, and an alert.
    async fn authenticate<B>(
        &self,
        digest: &DigestListener,
        peer: SocketAddr,
        request: &Request<B>,
    ) -> Result<(DeviceIdentity, Password), Answered> {
        // The source's request rate first: every challenge costs a nonce, and every check a read.
        match self.admission.request(peer.ip(), None) {
            Ok(()) => {}
            Err(GateRefusal::Banned { .. }) => return Err((RequestOutcome::Banned, response::not_found(), None)),
            Err(_) => return Err((RequestOutcome::RateLimited, response::not_found(), None)),
        }
        let challenge = |outcome| (outcome, response::challenge(&digest.auth.challenge(peer.ip())), None);
        let uri = request.uri().path_and_query().map_or("/", |path| path.as_str());
        let header = request.headers().get(AUTHORIZATION).map(|value| value.as_bytes());
        let presented = match digest.auth.read(header, uri, peer.ip()) {
            Ok(presented) => presented,
            Err(Unusable::Absent | Unusable::Stale) => return Err(challenge(RequestOutcome::Challenged)),
            Err(Unusable::Malformed | Unusable::Replayed) => return Err(challenge(RequestOutcome::WrongCredentials)),
        };
        let credentials = Arc::clone(&self.credentials);
        let mac = presented.mac();
        let looked_up = tokio::task::spawn_blocking(move || {
            let Some(mac) = mac else { return Ok(None) };
            let Some(device) = credentials.store().device(&mac)? else { return Ok(None) };
            let secret = credentials.enrolment_secret(&device)?;
            Ok::<_, CredentialsError>(secret.map(|secret| (device, secret)))
        })
        .await;
        let found = match looked_up {
            Ok(Ok(found)) => found,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot check a phone's enrolment secret");
                return Err((RequestOutcome::Unavailable, response::unavailable(), None));
            }
            Err(e) => {
                tracing::error!(error = %e, "enrolment secret check failed");
                return Err((RequestOutcome::Unavailable, response::unavailable(), None));
            }
        };
        // Without a device or a secret the credentials are checked against a stand-in, so an
        // unknown device costs the time a wrong secret does.
        let secret = found.as_ref().map_or(STAND_IN_SECRET, |(_, secret)| secret.expose());
        let proven = presented.proves(secret, digest.auth.realm(), request.method().as_str());
        let Some((device, secret)) = found.filter(|_| proven) else {
            return Err(challenge(RequestOutcome::WrongCredentials));
        };
        let vendor = device.profile.vendor.clone().unwrap_or_default();
        let identity = DeviceIdentity::without_certificate(device.mac, vendor, device.profile.model.clone());
        if let Some((outcome, response)) = self.refuse_below_minimum(device.mac, &device.profile, peer).await {
            return Err((outcome, response, Some(identity)));
        }
        Ok((identity, secret))
    }

    /// For a device a legacy chain (rated 4) identified: the refusal its rating policy makes,
    /// if it wants 5. A device not enrolled goes on to its usual answer.
    async fn below_minimum(
        &self,
        identity: &DeviceIdentity,
        peer: SocketAddr,
    ) -> Option<(RequestOutcome, Response<Body>)> {
        let (credentials, mac) = (Arc::clone(&self.credentials), identity.mac);
        match tokio::task::spawn_blocking(move || credentials.store().device(&mac)).await {
            Ok(Ok(Some(device))) => self.refuse_below_minimum(mac, &device.profile, peer).await,
            Ok(Ok(None)) => None,
            Ok(Err(e)) => {
                tracing::error!(%mac, error = %e, "cannot read a device's rating policy");
                Some((RequestOutcome::Unavailable, response::unavailable()))
            }
            Err(e) => {
                tracing::error!(%mac, error = %e, "rating policy task failed");
                Some((RequestOutcome::Unavailable, response::unavailable()))
            }
        }
    }

    /// The uniform 404, with a `below-minimum-rating` alert, when the policy wants more than 4
    /// for a device with `profile`.
    async fn refuse_below_minimum(
        &self,
        mac: Mac,
        profile: &sipprov_credentials::DeviceProfile,
        peer: SocketAddr,
    ) -> Option<(RequestOutcome, Response<Body>)> {
        let minimum = self.rating_policy.get().map_or(RATING_SECRET, |policy| policy.minimum(profile));
        if minimum <= RATING_SECRET {
            return None;
        }
        let detail = format!("rating={RATING_SECRET} minimum={minimum} peer={}", quote(&peer.ip().to_string()));
        let event = AuditEvent::new(SystemClock.now(), mac, AuditKind::BelowMinimumRating, detail);
        let credentials = Arc::clone(&self.credentials);
        match tokio::task::spawn_blocking(move || credentials.store().append_audit(vec![event])).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(%mac, error = %e, "cannot audit a fetch below its minimum rating"),
            Err(e) => tracing::error!(%mac, error = %e, "minimum rating audit task failed"),
        }
        Some((RequestOutcome::BelowMinimumRating, response::not_found()))
    }

    async fn route<B>(
        &self,
        renderer: &Renderer,
        client: Identified<'_>,
        peer: SocketAddr,
        request: &Request<B>,
        user_agent: Option<String>,
    ) -> (RequestOutcome, Response<Body>) {
        let Identified { identity, rating, digest } = client;
        let plan = self.plan(identity, request, user_agent.as_deref());
        // A Digest request's source was admitted before its credentials were checked: only
        // its device's rate is left to check.
        let admitted = match (digest, identity) {
            (Some(_), Some(identity)) => self.admission.device_request(peer.ip(), &identity.mac),
            _ => self.admission.request(peer.ip(), identity.map(|identity| &identity.mac)),
        };
        match admitted {
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
                // A file that cannot carry a secret delivers none: its fetch is a peek.
                let kind = if renderer.may_carry_secrets(file) { kind } else { FetchKind::Peek };
                let fetch = FetchRequest {
                    spki_sha256: identity.spki_sha256,
                    peer: peer.ip().to_string(),
                    user_agent,
                    certificate_vendor: format_vendor(identity).map(|vendor| vendor.name()),
                    rating,
                };
                self.serve_device_file(renderer, identity, file, fetch, kind, digest).await
            }
            (Plan::Common(file), _) => match renderer.render_common(file, &self.config.settings) {
                Ok(body) => (RequestOutcome::ServedCommon, response::config_file(body, file.format.content_type())),
                Err(e) => {
                    tracing::error!(file = file.pattern, error = %e, "common file cannot be rendered");
                    (RequestOutcome::RenderFailed, response::unavailable())
                }
            },
            (Plan::Device(..), None) => (RequestOutcome::NoIdentity, response::not_found()),
            (Plan::FanvilVersionFile(image), _) => {
                let base = self.config.settings.get("provisioning_url").unwrap_or_default();
                let body = firmware::fanvil_version_file(base, &image);
                (RequestOutcome::ServedFirmware, response::config_file(body, "text/plain; charset=utf-8"))
            }
            (Plan::Image(image), _) => {
                let fleet = Arc::clone(&self.fleet);
                let opened = tokio::task::spawn_blocking(move || fleet.open_image(&image)).await.ok().flatten();
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
    /// their audit events: handed to a store that writes on its own thread, or run off the
    /// async workers). A poll that changes nothing is a read: no thread hop, no write. A
    /// config that cannot be rendered consumes nothing.
    async fn serve_device_file(
        &self,
        renderer: &Renderer,
        identity: &DeviceIdentity,
        file: &'static ProfileFile,
        fetch: FetchRequest,
        kind: FetchKind,
        digest: Option<&DigestFetch>,
    ) -> (RequestOutcome, Response<Body>) {
        let mac = identity.mac;
        let policy = self.fleet.policy();
        for _ in 0..DECIDE_ATTEMPTS {
            let reading = Instant::now();
            let decided = self.decide(mac, &fetch, kind).await;
            self.metrics.store_call(reading.elapsed(), decided.is_ok());
            let decision = match decided {
                Ok(decision) => decision,
                Err(e) => return unavailable(mac, &e),
            };
            let body = match decision.answer() {
                Fetched::Config { accounts, profile, secrets } => {
                    let device = DeviceToRender {
                        accounts,
                        profile,
                        secrets: secrets.as_ref(),
                        user_agent: fetch.user_agent.as_deref(),
                        firmware: &policy,
                        provisioning_url: digest.map(|digest| digest.url_for(file, mac)),
                    };
                    match self.config.render(renderer, identity, file, device) {
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
            let writes = (decision.writes(), Instant::now());
            let committed = self.commit(decision).await;
            if writes.0 {
                self.metrics.store_call(writes.1.elapsed(), committed.is_ok());
            }
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

    /// Decides a fetch on a read of the store: on this async worker for a local store; handed
    /// to the store's own thread for a networked one, whose round trip must not block a
    /// worker. While a networked store does not answer, a provisioned phone's poll is decided
    /// on what this node last read of it (see `KnownDevices`).
    async fn decide(&self, mac: Mac, fetch: &FetchRequest, kind: FetchKind) -> Result<Decision, CredentialsError> {
        let store = self.credentials.store();
        if !store.reads_on_own_thread() {
            return self.credentials.decide(&mac, fetch.clone(), kind);
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        store.device_then(
            &mac,
            Box::new(move |read| {
                let _ = sender.send(read);
            }),
        );
        let read =
            receiver.await.unwrap_or_else(|_| Err(StoreError::Backend("the store dropped the read unrun".into())));
        let device = match read {
            Ok(device) => {
                self.known.note(mac, device.as_ref());
                device
            }
            Err(e) => {
                let Some(known) = self.known.get(&mac) else { return Err(e.into()) };
                tracing::debug!(%mac, error = %e, "answered from what this node last read");
                Some(known)
            }
        };
        self.credentials.decide_on(&mac, device, fetch.clone(), kind)
    }

    /// Commits a decided fetch without holding up an async worker: a poll that writes nothing
    /// commits at once; a write goes to a store that commits on its own thread, which answers
    /// when the write is durable, or else runs on the blocking pool.
    async fn commit(&self, decision: Decision) -> Result<Committed, CredentialsError> {
        if !decision.writes() {
            return self.credentials.commit(decision);
        }
        let failed = |why: String| Err(CredentialsError::Store(StoreError::Backend(why.into())));
        if self.credentials.store().updates_on_own_thread() {
            let (sender, receiver) = tokio::sync::oneshot::channel();
            self.credentials.commit_then(decision, move |committed| {
                let _ = sender.send(committed);
            });
            return receiver.await.unwrap_or_else(|_| failed("the store dropped the write unrun".into()));
        }
        let credentials = Arc::clone(&self.credentials);
        tokio::task::spawn_blocking(move || credentials.commit(decision))
            .await
            .unwrap_or_else(|e| failed(format!("the commit task failed: {e}")))
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
}

/// What a `PUT` gets. Phones upload what their vendor's files make them upload (Polycom's logs
/// and its local-change files, to the provisioning root): sipprov stores none of it, and a
/// phone's upload of its own file (or of a file phones fetch) is declined without counting as a
/// scan miss. An upload for another MAC, or to a path no phone knows, counts as a miss.
fn upload_outcome(identity: Option<&DeviceIdentity>, path: &str, user_agent: Option<&str>) -> RequestOutcome {
    let route = recognise_route(path, user_agent);
    match (&route, identity) {
        (Route::Upload { .. } | Route::Device { .. }, None) => RequestOutcome::NoIdentity,
        (Route::Upload { mac, .. } | Route::Device { mac, .. }, Some(identity)) if *mac != identity.mac => {
            RequestOutcome::MacMismatch
        }
        (Route::Unknown, _) => RequestOutcome::MethodNotServed,
        // A phone's own file, or one every phone fetches: declined like a GET of it would be.
        _ => RequestOutcome::NotServed,
    }
}

/// What credentials for no device (or no secret) are checked against.
const STAND_IN_SECRET: &str = "no-device-has-this-secret-0123456789";

/// How often a fetch is decided again when the device changes between decision and commit.
const DECIDE_ATTEMPTS: usize = 4;

fn unavailable(mac: Mac, e: &CredentialsError) -> (RequestOutcome, Response<Body>) {
    tracing::error!(%mac, error = %e, "credential service failed; nothing was delivered");
    (RequestOutcome::Unavailable, response::unavailable())
}
