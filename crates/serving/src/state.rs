//! The state a node's listeners share.

use std::sync::Arc;

use sipprov_credentials::{Credentials, StoreError};
use sipprov_fleet::Fleet;

use crate::{Admission, Metrics};

/// What a phone listener holds that the admin API works on: the inventory and credentials, the
/// admission (limits and bans) and the metrics.
#[derive(Clone)]
pub struct ServerState {
    /// The credential service over the store.
    pub credentials: Arc<Credentials>,
    /// Who may connect: limits, scan detection and bans.
    pub admission: Arc<Admission>,
    /// The counters and gauges `/metrics` shows.
    pub metrics: Arc<Metrics>,
    /// Firmware under central control: the catalogue, targets and image files.
    pub fleet: Arc<Fleet>,
}

impl ServerState {
    /// Brings this node's bans in line with the store: bans other nodes made are loaded, bans
    /// they lifted are lifted. Call it periodically when several nodes share a store (sipprovd
    /// does every 30 s). Returns how many bans are in force.
    pub fn refresh_bans(&self) -> Result<usize, StoreError> {
        self.admission.refresh_bans()
    }
}
