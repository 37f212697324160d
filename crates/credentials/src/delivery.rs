//! One phone's fetch, in three steps: decide on what the store holds, render, then commit.
//!
//! A fetch that delivers a secret changes state (`Issued` -> `Delivered`, the key pin) and must
//! be audited before the answer leaves; but the answer is only known to be sendable once the
//! config is rendered, and rendering can fail (a value the vendor's format cannot carry, an
//! override template's error). So the order is:
//!
//! 1. [`Credentials::decide`] reads the device and runs the lifecycle on a copy: the answer,
//!    the secrets opened, and whether anything must be written. No write.
//! 2. The caller renders the answer.
//! 3. [`Credentials::commit`], only with a rendered body in hand: when the decision writes
//!    (a transition, a delivered secret, a refusal's audit event), it runs the lifecycle again
//!    inside the store's transaction and writes only if that gives the same answer; otherwise
//!    it reports [`Committed::Changed`] and the caller decides again. A decision that writes
//!    nothing (a provisioned phone polling) commits without touching the store.
//!
//! [`Credentials::deliver`] does all three with a render function and retries on a change.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sipprov_identity::Mac;

use crate::credentials::open;
use crate::lifecycle::{FetchRefusal, FetchRequest, Serve};
use crate::sightings::SightingBuffer;
use crate::{
    Abort, Account, Credentials, CredentialsError, DeviceProfile, DeviceRecord, Fetched, IssuedSecrets, StoreError,
    Timestamp,
};

/// What a fetch may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchKind {
    /// Deliver the config, with the secrets while the lifecycle allows (HTTP `GET`).
    Deliver,
    /// Look without delivering (HTTP `HEAD`): no transition, no key pin, never a secret.
    Peek,
}

/// A fetch decided on what the store held when it was read: not yet recorded.
#[derive(Debug)]
#[must_use = "nothing is recorded until the decision is committed"]
pub struct Decision {
    mac: Mac,
    request: FetchRequest,
    kind: FetchKind,
    now: Timestamp,
    /// What the lifecycle said about the record as read; the commit holds the fresh record to it.
    serve: Option<Serve>,
    writes: bool,
    answer: Fetched,
}

impl Decision {
    /// The answer to render.
    pub fn answer(&self) -> &Fetched {
        &self.answer
    }

    /// Whether committing writes to the store (and so should run off an async worker). A
    /// provisioned phone's poll writes nothing.
    pub fn writes(&self) -> bool {
        self.writes
    }
}

/// What [`Credentials::commit`] did.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per fetch, moved once: boxing would only add an allocation
pub enum Committed {
    /// Recorded (durably, with its audit events, if it wrote): send the rendered answer.
    Done(Fetched),
    /// The device changed between the decision and the commit; nothing was written. Decide
    /// again and render again.
    Changed,
}

/// A [`Credentials::deliver`] that did not deliver; nothing was recorded.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError<E> {
    /// The render function refused the answer.
    #[error("the config cannot be rendered: {0}")]
    Render(E),
    /// The credential service failed.
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
}

/// What [`Credentials::deliver`] returns: the rendered config, or why there is none.
#[derive(Debug)]
pub enum Delivery<T> {
    /// The rendered config, and whether it carries the secrets.
    Config {
        /// What the render function made of the answer.
        body: T,
        /// Whether the secrets were in the answer.
        with_secrets: bool,
    },
    /// Enrolled but refused: answer like an unknown device.
    Refused(FetchRefusal),
    /// Not in the inventory.
    NotEnrolled,
}

/// How often [`Credentials::deliver`] decides again when the device keeps changing under it.
const MAX_ATTEMPTS: usize = 4;

impl Credentials {
    /// One authorized fetch of `mac`'s config, decided and recorded (with its audit events,
    /// when it changes state or delivers a secret) before it is returned. For a caller that
    /// renders the config, [`Credentials::deliver`] records the fetch only once the render
    /// succeeded.
    pub fn fetch(&self, mac: &Mac, request: FetchRequest) -> Result<Fetched, CredentialsError> {
        match self.deliver(mac, request, FetchKind::Deliver, |accounts, profile, secrets| {
            Ok::<_, std::convert::Infallible>(Fetched::Config {
                accounts: accounts.to_vec(),
                profile: profile.clone(),
                secrets: secrets.cloned(),
            })
        }) {
            Ok(Delivery::Config { body, .. }) => Ok(body),
            Ok(Delivery::Refused(refusal)) => Ok(Fetched::Refused(refusal)),
            Ok(Delivery::NotEnrolled) => Ok(Fetched::NotEnrolled),
            Err(DeliverError::Credentials(e)) => Err(e),
            Err(DeliverError::Render(never)) => match never {},
        }
    }

    /// Step 1 of a fetch of `mac`'s config: reads the device and decides, writing nothing.
    /// Secrets the answer carries are opened here, so a secret that cannot be opened fails the
    /// fetch before anything is recorded.
    pub fn decide(&self, mac: &Mac, request: FetchRequest, kind: FetchKind) -> Result<Decision, CredentialsError> {
        self.decide_on(mac, self.store.device(mac)?, request, kind)
    }

    /// [`Credentials::decide`] on a device the caller read itself (with
    /// [`Store::device_then`](crate::Store::device_then), say). The commit checks the decision
    /// against the device as stored then, so a stale read never records a stale answer.
    pub fn decide_on(
        &self,
        mac: &Mac,
        device: Option<DeviceRecord>,
        request: FetchRequest,
        kind: FetchKind,
    ) -> Result<Decision, CredentialsError> {
        let now = self.clock.now();
        let Some(device) = device else {
            return Ok(Decision {
                mac: *mac,
                request,
                kind,
                now,
                serve: None,
                writes: false,
                answer: Fetched::NotEnrolled,
            });
        };
        let mut after = device.clone();
        let (serve, events) = match kind {
            FetchKind::Deliver => self.lifecycle.fetch(&mut after, &request, now),
            FetchKind::Peek => self.lifecycle.peek(&after, &request, now),
        };
        let writes = !events.is_empty() || after != device;
        let answer = match &serve {
            Serve::Nothing(refusal) => Fetched::Refused(*refusal),
            Serve::Config { secrets } => {
                let secrets = match secrets {
                    None => None,
                    Some(sealed) => Some(open(&*self.keyring()?, mac, sealed)?),
                };
                Fetched::Config { accounts: after.accounts, profile: after.profile, secrets }
            }
        };
        Ok(Decision { mac: *mac, request, kind, now, serve: Some(serve), writes, answer })
    }

    /// Step 3: records a decided fetch whose answer is rendered and about to be sent.
    ///
    /// A decision that writes runs the lifecycle again on the device inside one store
    /// transaction and writes the transition and its audit events only if the answer is the
    /// same; a served config's client facts (time, address, User-Agent) are kept in memory for
    /// [`Credentials::flush_sightings`].
    pub fn commit(&self, decision: Decision) -> Result<Committed, CredentialsError> {
        if !decision.writes {
            // A provisioned phone polling: nothing to wait for.
            let Decision { mac, request, now, answer, .. } = decision;
            return Ok(served(&self.sightings, mac, now, &request, answer));
        }
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        self.commit_then(decision, move |committed| {
            let _ = sender.send(committed);
        });
        receiver.recv().unwrap_or_else(|_| Err(not_run()))
    }

    /// [`Credentials::commit`], with the outcome handed to `done` instead of returned. With a
    /// store that commits on a thread of its own ([`Store::update_device_then`]), `done` runs
    /// there once the write is durable, so an async caller waits for it without holding a
    /// thread; a decision that writes nothing calls `done` at once.
    ///
    /// [`Store::update_device_then`]: crate::Store::update_device_then
    pub fn commit_then(
        &self,
        decision: Decision,
        done: impl FnOnce(Result<Committed, CredentialsError>) + Send + 'static,
    ) {
        let Decision { mac, request, kind, now, serve, writes, answer } = decision;
        let request_in = request.clone();
        let sightings = Arc::clone(&self.sightings);
        let finish = move |answer: Fetched| served(&sightings, mac, now, &request, answer);
        let (true, Some(decided)) = (writes, serve) else { return done(Ok(finish(answer))) };
        let (lifecycle, changed) = (self.lifecycle, Arc::new(AtomicBool::new(false)));
        let flag = Arc::clone(&changed);
        let update = Box::new(move |device: &mut crate::DeviceRecord| {
            let (serve, events) = match kind {
                FetchKind::Deliver => lifecycle.fetch(device, &request_in, now),
                FetchKind::Peek => lifecycle.peek(device, &request_in, now),
            };
            if serve != decided {
                flag.store(true, Ordering::SeqCst);
                return Err(Abort("the device changed since the fetch was decided".into()));
            }
            Ok(events)
        });
        self.store.update_device_then(
            &mac,
            update,
            Box::new(move |written| {
                done(match written {
                    Ok(Some(_)) => Ok(finish(answer)),
                    Ok(None) => Ok(Committed::Changed),
                    Err(StoreError::Aborted(_)) if changed.load(Ordering::SeqCst) => Ok(Committed::Changed),
                    Err(e) => Err(e.into()),
                })
            }),
        );
    }

    /// A whole fetch: [`decide`](Self::decide), `render` the answer, [`commit`](Self::commit);
    /// decided and rendered again if the device changed in between. Nothing is recorded unless
    /// `render` succeeded, so a config that cannot be rendered consumes no secret.
    pub fn deliver<T, E>(
        &self,
        mac: &Mac,
        request: FetchRequest,
        kind: FetchKind,
        mut render: impl FnMut(&[Account], &DeviceProfile, Option<&IssuedSecrets>) -> Result<T, E>,
    ) -> Result<Delivery<T>, DeliverError<E>> {
        for _ in 0..MAX_ATTEMPTS {
            let decision = self.decide(mac, request.clone(), kind)?;
            let body = match decision.answer() {
                Fetched::Config { accounts, profile, secrets } => {
                    Some(render(accounts, profile, secrets.as_ref()).map_err(DeliverError::Render)?)
                }
                Fetched::Refused(_) | Fetched::NotEnrolled => None,
            };
            match (self.commit(decision)?, body) {
                (Committed::Changed, _) => continue,
                (Committed::Done(Fetched::Config { secrets, .. }), Some(body)) => {
                    return Ok(Delivery::Config { body, with_secrets: secrets.is_some() });
                }
                (Committed::Done(Fetched::Refused(refusal)), _) => return Ok(Delivery::Refused(refusal)),
                (Committed::Done(_), _) => return Ok(Delivery::NotEnrolled),
            }
        }
        let contended = format!("{mac} kept changing during {MAX_ATTEMPTS} attempts to fetch it");
        Err(DeliverError::Credentials(StoreError::Backend(contended.into()).into()))
    }
}

/// A fetch recorded: a served config's client facts kept for the next sightings flush.
fn served(sightings: &SightingBuffer, mac: Mac, now: Timestamp, request: &FetchRequest, answer: Fetched) -> Committed {
    if matches!(answer, Fetched::Config { .. }) {
        sightings.record(mac, now, request);
    }
    Committed::Done(answer)
}

/// A commit whose outcome never came back: the store dropped the write unrun.
fn not_run() -> CredentialsError {
    CredentialsError::Store(StoreError::Backend("the write was not run: the store dropped it".into()))
}
