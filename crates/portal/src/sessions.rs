//! Logged-in users, by session cookie: in this node's memory only, so a restart logs everyone
//! out (several nodes behind one name need the balancer to keep a user on one node).
//!
//! A session ends after [`SessionPolicy::idle`] without a request, after
//! [`SessionPolicy::absolute`] whatever happens, at logout, and when its user is removed.
//! The cookie's value is kept only as its SHA-256.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::token;

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, however active.
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { idle: Duration::from_secs(15 * 60), absolute: Duration::from_secs(8 * 3600) }
    }
}

/// How far a login got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// The password was right; the user's second factor is still to be given.
    AwaitingCode,
    /// Logged in.
    Complete {
        /// Whether the user has a second factor set up.
        second_factor: bool,
    },
}

/// One logged-in user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The user's name.
    pub(crate) user: String,
    /// How far the login got.
    pub(crate) stage: Stage,
    /// The token every form of this session carries.
    pub(crate) csrf: String,
    started: Instant,
    last_used: Instant,
}

/// The most sessions kept; at the limit the least recently used one ends.
const MAX_SESSIONS: usize = 100_000;

/// The sessions of this node.
pub(crate) struct Sessions {
    policy: SessionPolicy,
    by_hash: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    pub(crate) fn new(policy: SessionPolicy) -> Self {
        Self { policy, by_hash: Mutex::new(HashMap::new()) }
    }

    /// Starts a session for `user`: the cookie value and the session, or `None` if no token
    /// could be generated.
    pub(crate) fn start(&self, user: &str, stage: Stage) -> Option<(String, Session)> {
        let (cookie, csrf) = (token::fresh()?, token::fresh()?);
        let now = Instant::now();
        let session = Session { user: user.to_owned(), stage, csrf, started: now, last_used: now };
        let mut sessions = self.lock();
        sessions.retain(|_, session| self.live(session, now));
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, session)| session.last_used).map(|(hash, _)| *hash)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(token::hash(&cookie), session.clone());
        Some((cookie, session))
    }

    /// The live session of this cookie, marked used now.
    pub(crate) fn find(&self, cookie: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let hash = token::hash(cookie);
        let session = sessions.get_mut(&hash)?;
        if !self.live(session, now) {
            sessions.remove(&hash);
            return None;
        }
        session.last_used = now;
        Some(session.clone())
    }

    /// Ends the session of this cookie.
    pub(crate) fn end(&self, cookie: &str) {
        self.lock().remove(&token::hash(cookie));
    }

    fn live(&self, session: &Session, now: Instant) -> bool {
        now.duration_since(session.last_used) < self.policy.idle
            && now.duration_since(session.started) < self.policy.absolute
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // Every change leaves the map whole: a poisoned lock still holds a usable value.
        self.by_hash.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_ends_at_logout_and_when_idle() {
        let sessions = Sessions::new(SessionPolicy::default());
        let (cookie, session) = sessions.start("alice", Stage::AwaitingCode).unwrap();
        assert_eq!(sessions.find(&cookie).unwrap().user, "alice");
        assert_eq!(sessions.find(&cookie).unwrap().csrf, session.csrf);
        assert!(sessions.find("forged").is_none());
        sessions.end(&cookie);
        assert!(sessions.find(&cookie).is_none(), "a cookie replayed after logout is refused");

        let short = Sessions::new(SessionPolicy { idle: Duration::ZERO, absolute: Duration::from_secs(60) });
        let (cookie, _) = short.start("alice", Stage::AwaitingCode).unwrap();
        assert!(short.find(&cookie).is_none(), "idle too long");
        let short = Sessions::new(SessionPolicy { idle: Duration::from_secs(60), absolute: Duration::ZERO });
        let (cookie, _) = short.start("alice", Stage::AwaitingCode).unwrap();
        assert!(short.find(&cookie).is_none(), "past the absolute limit");
    }
}
