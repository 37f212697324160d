//! What every portal request works with, and the helpers its handlers share.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use hyper::http::request::Parts;
use minijinja::Value;
use sipprov_credentials::{AuditEvent, AuditKind, CredentialsError, quote};
use sipprov_serving::{ServerState, SoftphoneConfigs};

use crate::address_guard::AddressGuard;
use crate::form::{self, Form};
use crate::pages::Pages;
use crate::response::{self, FORM_COOKIE, PortalResponse, SESSION_COOKIE};
use crate::sessions::{Session, Sessions};
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

    /// The logged-in session of this request, if any.
    pub(crate) fn session(&self, parts: &Parts) -> Option<Session> {
        self.sessions.find(form::cookie(parts, SESSION_COOKIE)?)
    }

    /// The session, if the form carries its token: what every state-changing post needs.
    pub(crate) fn session_for_form(&self, parts: &Parts, form: &Form) -> Result<Session, PortalResponse> {
        let refused = || {
            self.message(StatusCode::FORBIDDEN, "Session ended", "Your session has ended. Please log in again.", None)
        };
        let session = self.session(parts).ok_or_else(refused)?;
        match form.get("csrf") {
            Some(posted) if token::same(posted, &session.csrf) => Ok(session),
            _ => {
                tracing::warn!(user = %session.user, "portal form posted without its session's token; refused");
                Err(self.message(
                    StatusCode::FORBIDDEN,
                    "Form refused",
                    "This form has expired. Please try again.",
                    Some(&session),
                ))
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
        let event = AuditEvent::without_device(
            sipprov_credentials::Clock::now(&sipprov_credentials::SystemClock),
            AuditKind::LockedOut,
            detail,
        );
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
