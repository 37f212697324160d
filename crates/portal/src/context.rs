//! What every portal request works with, and the helpers its handlers share.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use hyper::http::request::Parts;
use minijinja::Value;
use sipprov_credentials::{AuditEvent, AuditKind, CredentialsError, quote};
use sipprov_serving::{ServerState, SoftphoneConfigs};

use crate::SecondFactor;
use crate::address_guard::AddressGuard;
use crate::form::{self, Form};
use crate::pages::Pages;
use crate::response::{self, FORM_COOKIE, PortalResponse, SESSION_COOKIE};
use crate::sessions::{Session, Sessions, Stage};
use crate::token;

/// The portal's state, shared by its connections.
pub(crate) struct Portal {
    pub(crate) state: ServerState,
    pub(crate) configs: Arc<dyn SoftphoneConfigs>,
    pub(crate) sessions: Sessions,
    pub(crate) guard: AddressGuard,
    pub(crate) pages: Pages,
    /// Where the portal is reached (`https://host[:port]`), for the links it makes.
    pub(crate) public_url: String,
    /// The registrar shown for accounts without their own.
    pub(crate) registrar: String,
    /// How long a provisioning link works.
    pub(crate) link_ttl: Duration,
    /// Whether users may, or must, log in with a TOTP code after the password.
    pub(crate) second_factor: SecondFactor,
    /// The service's name: the issuer authenticator apps show.
    pub(crate) brand: String,
}

impl Portal {
    /// An HTML page: `template` with `context`, the session's user and form token when logged in.
    pub(crate) fn page(
        &self,
        status: StatusCode,
        template: &str,
        session: Option<&Session>,
        context: Value,
    ) -> PortalResponse {
        let user = session.map(|session| session.user.as_str());
        let csrf = session.map(|session| session.csrf.as_str());
        let context = minijinja::context! { user => user, csrf => csrf, ..context };
        response::html(status, self.pages.render(template, context))
    }

    /// A page with one message and a link home.
    pub(crate) fn message(
        &self,
        status: StatusCode,
        title: &str,
        message: &str,
        session: Option<&Session>,
    ) -> PortalResponse {
        let back = if session.is_some() { "Back to your softphones" } else { "Log in" };
        self.page(status, "message.html", session, minijinja::context! { title, message, back })
    }

    /// The request's session, at whatever stage.
    pub(crate) fn any_session(&self, parts: &Parts) -> Option<Session> {
        self.sessions.find(form::cookie(parts, SESSION_COOKIE)?)
    }

    /// The request's session, if its login is complete.
    pub(crate) fn session(&self, parts: &Parts) -> Option<Session> {
        self.any_session(parts).filter(|session| matches!(session.stage, Stage::Complete { .. }))
    }

    /// The request's session, if it waits for the user's TOTP code.
    pub(crate) fn awaiting_code(&self, parts: &Parts) -> Option<Session> {
        self.any_session(parts).filter(|session| session.stage == Stage::AwaitingCode)
    }

    /// Whether a complete session may act on softphones: not while this deployment requires a
    /// second factor the user has not set up.
    pub(crate) fn may_act(&self, session: &Session) -> bool {
        match session.stage {
            Stage::Complete { second_factor } => second_factor || self.second_factor != SecondFactor::Required,
            Stage::AwaitingCode => false,
        }
    }

    /// A usable session whose form carries its token: what every softphone action needs.
    pub(crate) fn session_for_form(&self, parts: &Parts, form: &Form) -> Result<Session, PortalResponse> {
        let session = self.checked_form(self.session(parts), form)?;
        if !self.may_act(&session) {
            return Err(response::redirect("/"));
        }
        Ok(session)
    }

    /// `session`, if there is one and the form carries its token.
    pub(crate) fn checked_form(&self, session: Option<Session>, form: &Form) -> Result<Session, PortalResponse> {
        let refused = || {
            self.message(StatusCode::FORBIDDEN, "Session ended", "Your session has ended. Please log in again.", None)
        };
        let session = session.ok_or_else(refused)?;
        match form.get("csrf") {
            Some(posted) if token::same(posted, &session.csrf) => Ok(session),
            _ => {
                tracing::warn!(user = %session.user, "portal form posted without its session's token; refused");
                let message = "This form has expired. Please try again.";
                Err(self.message(StatusCode::FORBIDDEN, "Form refused", message, Some(&session)))
            }
        }
    }

    /// Whether a form posted before login carries the token of its form cookie (double submit).
    pub(crate) fn form_token_matches(&self, parts: &Parts, form: &Form) -> bool {
        match (form::cookie(parts, FORM_COOKIE), form.get("csrf")) {
            (Some(cookie), Some(posted)) => !cookie.is_empty() && token::same(cookie, posted),
            _ => false,
        }
    }

    /// Counts a failed login from `ip`; the one that locks the address out is audited.
    pub(crate) async fn login_failed(&self, ip: IpAddr) {
        if !self.guard.failed(ip) {
            return;
        }
        tracing::warn!(%ip, "portal logins from this address locked out");
        let detail = format!(
            "source={} failures={} seconds={}",
            quote(&ip.to_string()),
            crate::address_guard::MAX_FAILURES,
            crate::address_guard::LOCKOUT.as_secs()
        );
        let event = AuditEvent::without_device(self.state.credentials.now(), AuditKind::LockedOut, detail);
        let credentials = Arc::clone(&self.state.credentials);
        let _ = blocking(move || Ok(credentials.store().append_audit(vec![event])?)).await;
    }
}

/// Runs a blocking credential call off the async workers; a failure is logged.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, CredentialsError> + Send + 'static,
) -> Result<T, ()> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "portal operation failed; nothing changed");
            Err(())
        }
        Err(e) => {
            tracing::error!(error = %e, "portal task failed");
            Err(())
        }
    }
}

/// The compiled pages, or why the listener cannot start.
pub(crate) fn pages(brand: &str) -> Result<Pages, sipprov_serving::ServerError> {
    Pages::new(brand).map_err(|e| sipprov_serving::ServerError::Config(format!("the portal's pages: {e}")))
}
