//! Which firmware version a model should run, where, and how far a roll-out has gone.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sipprov_identity::Mac;

/// Where a target applies: the most specific one that selects a device wins (a device's own,
/// then its site's, then everywhere).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every device of the model.
    Everywhere,
    /// The model's devices at this site (the inventory's `site`).
    Site(String),
    /// One device, by its canonical MAC (`0015651234ab`).
    Device(String),
}

impl Scope {
    /// How specific it is: a device's own target beats its site's, which beats everywhere.
    pub(crate) fn rank(&self) -> u8 {
        match self {
            Scope::Device(_) => 0,
            Scope::Site(_) => 1,
            Scope::Everywhere => 2,
        }
    }

    /// Whether it covers a device at `site` with MAC `mac`.
    pub(crate) fn covers(&self, mac: &Mac, site: Option<&str>) -> bool {
        match self {
            Scope::Everywhere => true,
            Scope::Site(name) => site == Some(name.as_str()),
            Scope::Device(device) => *device == mac.to_string(),
        }
    }
}

/// How far a target has been rolled out within its scope. A device the roll-out has not reached
/// yet falls through to the next, less specific target (or to none: it keeps what it runs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rollout {
    /// Every device in scope.
    Everyone,
    /// A stable share of them, in percent (1 to 99): the same devices whatever else changes,
    /// chosen by a hash of the MAC, so raising the share only adds devices.
    Percent(u8),
    /// These devices first (canonical MACs).
    Devices(Vec<String>),
}

impl Rollout {
    /// Whether the roll-out has reached `mac`.
    pub fn includes(&self, mac: &Mac) -> bool {
        match self {
            Rollout::Everyone => true,
            Rollout::Percent(percent) => bucket(mac) < u16::from(*percent) * 100,
            Rollout::Devices(devices) => devices.iter().any(|device| *device == mac.to_string()),
        }
    }
}

/// A device's place in staged roll-outs, 0 to 9,999: SHA-256 of a fixed label and the MAC.
/// Uniform over MACs (sequential MACs included), and the same on every node and every run.
pub fn bucket(mac: &Mac) -> u16 {
    let digest = Sha256::new().chain_update(b"sipprov/rollout/v1/").chain_update(mac.to_string()).finalize();
    let first =
        u64::from_be_bytes([digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7]]);
    u16::try_from(first % 10_000).unwrap_or(0)
}

/// The firmware version a model of a vendor should run within a scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The vendor (`yealink`).
    pub vendor: String,
    /// The model (`T54W`), compared without regard to case.
    pub model: String,
    /// Where it applies.
    pub scope: Scope,
    /// The version to run: a registered image of the vendor and model has it.
    pub version: String,
    /// How far it is rolled out.
    pub rollout: Rollout,
    /// When it was set (Unix seconds): a device behind it has lagged since then at most.
    pub set_at: i64,
}

impl Target {
    /// Whether it is the target of `vendor`'s `model` within `scope` (what setting one replaces).
    pub fn is_for(&self, vendor: &str, model: &str, scope: &Scope) -> bool {
        self.vendor == vendor && self.model.eq_ignore_ascii_case(model) && self.scope == *scope
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_share_is_stable_and_grows_by_adding_devices() {
        let macs: Vec<Mac> =
            (0..1000u32).map(|n| Mac::from_bytes([0, 0x15, 0x65, 0, (n >> 8) as u8, n as u8])).collect();
        let chosen = |percent| macs.iter().filter(|mac| Rollout::Percent(percent).includes(mac)).count();
        let ten = chosen(10);
        assert!((70..=130).contains(&ten), "10% of 1,000 sequential MACs chose {ten}");
        assert!(macs.iter().all(|mac| !Rollout::Percent(10).includes(mac) || Rollout::Percent(50).includes(mac)));
        assert_eq!(bucket(&macs[7]), bucket(&macs[7]));
    }
}
