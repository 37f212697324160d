//! The model each User-Agent text claims, read once per text.
//!
//! A device whose inventory and certificate name no model gets the one its User-Agent claims,
//! so the User-Agent is read on each of its polls. A fleet sends few distinct User-Agents (one
//! per model and firmware), and reading one costs a poll about as much as the route match did,
//! so what each text claims is kept: the last [`KEPT`] texts. New texts from a client that
//! invents them cost that client the read and push older texts out; they change nothing else.

use std::sync::Mutex;

use sipprov_ratelimit::BoundedMap;
use sipprov_template::{MAX_USER_AGENT_LEN, UserAgent, Vendor};

/// How many User-Agent texts are remembered, each at most [`MAX_USER_AGENT_LEN`] bytes.
const KEPT: usize = 1_024;

/// What recent User-Agent texts claim: a vendor and a model, or nothing.
pub(crate) struct ClaimedModels {
    read: Mutex<BoundedMap<String, Option<(Vendor, String)>>>,
}

impl Default for ClaimedModels {
    fn default() -> Self {
        Self { read: Mutex::new(BoundedMap::new(KEPT)) }
    }
}

impl ClaimedModels {
    /// The vendor and model `user_agent` claims, if it names both.
    pub(crate) fn claimed(&self, user_agent: &str) -> Option<(Vendor, String)> {
        // A longer text claims nothing (the parser reads none), and is not kept.
        if user_agent.len() > MAX_USER_AGENT_LEN {
            return None;
        }
        let key = user_agent.to_owned();
        // Only whole entries are ever inserted: a poisoned map is still consistent.
        let mut read = self.read.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        read.get_or_insert_with(&key, || {
            let ua = UserAgent::parse(user_agent);
            ua.vendor.zip(ua.model)
        })
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_claims_what_the_user_agent_parser_reads_and_is_read_once() {
        let models = ClaimedModels::default();
        let yealink = "Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc";
        assert_eq!(models.claimed(yealink), Some((Vendor::Yealink, "T46G".to_owned())));
        assert_eq!(models.claimed(yealink), Some((Vendor::Yealink, "T46G".to_owned())));
        assert_eq!(models.claimed("curl/8.5.0"), None);
        let long = format!("Yealink SIP-T46G 28.72.0.1 {}", "x".repeat(MAX_USER_AGENT_LEN));
        assert_eq!(models.claimed(&long), None, "a text longer than the parser reads claims nothing");
        let read = models.read.lock().unwrap();
        assert_eq!(read.len(), 2, "each text is kept once, a too long one never");
    }

    #[test]
    fn at_most_kept_texts_are_remembered() {
        let models = ClaimedModels::default();
        for n in 0..KEPT + 10 {
            assert_eq!(models.claimed(&format!("client/{n}")), None);
        }
        assert_eq!(models.read.lock().unwrap().len(), KEPT);
        assert_eq!(
            models.claimed("Yealink SIP-T46G 28.72.0.1 00:15:65:aa:bb:cc"),
            Some((Vendor::Yealink, "T46G".to_owned())),
            "a new text is still read when the memory is full"
        );
    }
}
