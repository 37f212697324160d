//! Writing back an updated device row: only the columns its update changed.
//!
//! SQLite maintains an index on every column an `UPDATE` sets, whether or not its value changed:
//! the entry is deleted and inserted again, and its page joins the commit. A first delivery
//! changes only lifecycle columns, yet setting every column dirtied the vendor, site and
//! last-fetch index pages too, about 5 WAL frames per delivery instead of 3. So the inventory
//! columns (`vendor` and `site` are indexed) and the last-seen columns (`last_fetch` is
//! indexed) are set only when the update changed them.

use std::sync::LazyLock;

use rusqlite::{Connection, ToSql};
use sipprov_credentials::{DeviceRecord, Sealed, Timestamp};

/// Columns every update sets: the lifecycle's, none of them indexed.
const LIFECYCLE: &[&str] = &["state", "state_time", "admin_password", "pinned_spki", "disabled", "enrolment_secret"];
/// The inventory's columns, set when the profile or the enrolment time changed.
const PROFILE: &[&str] = &["enrolled_at", "vendor", "model", "site", "settings", "keys"];
/// Where and when the device was last served, set when that changed.
const SEEN: &[&str] = &["last_fetch", "last_peer", "last_user_agent"];

/// What of a device row an update changed, beyond its lifecycle columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Changed {
    pub(crate) profile: bool,
    pub(crate) seen: bool,
}

impl Changed {
    /// Compares the row before an update with the row after it.
    pub(crate) fn between(before: &DeviceRecord, after: &DeviceRecord) -> Self {
        Self {
            profile: before.enrolled_at != after.enrolled_at || before.profile != after.profile,
            seen: before.last_seen != after.last_seen,
        }
    }

    /// The `UPDATE` statement for these changes, one of four, each built once.
    fn sql(self) -> &'static str {
        static STATEMENTS: LazyLock<[String; 4]> = LazyLock::new(|| {
            [(false, false), (false, true), (true, false), (true, true)].map(|(profile, seen)| {
                let columns = LIFECYCLE
                    .iter()
                    .chain(if profile { PROFILE } else { &[] })
                    .chain(if seen { SEEN } else { &[] })
                    .map(|column| format!("{column} = :{column}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("UPDATE devices SET {columns} WHERE mac = :mac")
            })
        });
        &STATEMENTS[usize::from(self.profile) * 2 + usize::from(self.seen)]
    }
}

/// Writes `device`'s row, setting the lifecycle columns and those `changed` names.
pub(crate) fn update_device_row(conn: &Connection, device: &DeviceRecord, changed: Changed) -> rusqlite::Result<()> {
    let mut statement = conn.prepare_cached(changed.sql())?;
    let mut bind = |name: &str, value: &dyn ToSql| statement.raw_bind_parameter(name, value);
    bind(":mac", &device.mac.to_string())?;
    bind(":state", &device.state.name())?;
    bind(":state_time", &device.state.time().map(Timestamp::unix))?;
    bind(":admin_password", &device.secrets.as_ref().and_then(|s| s.admin_password.as_ref()).map(Sealed::as_bytes))?;
    bind(":pinned_spki", &device.pinned_spki.as_ref().map(|pin| &pin[..]))?;
    bind(":disabled", &device.disabled)?;
    bind(":enrolment_secret", &device.enrolment_secret.as_ref().map(Sealed::as_bytes))?;
    if changed.profile {
        let profile = &device.profile;
        bind(":enrolled_at", &device.enrolled_at.unix())?;
        bind(":vendor", &profile.vendor)?;
        bind(":model", &profile.model)?;
        bind(":site", &profile.site)?;
        bind(":settings", &sipprov_credentials::columns::settings_to_json(&profile.settings))?;
        bind(":keys", &sipprov_credentials::columns::keys_to_json(&profile.keys))?;
    }
    if changed.seen {
        let seen = device.last_seen.as_ref();
        bind(":last_fetch", &seen.map(|seen| seen.at.unix()))?;
        bind(":last_peer", &seen.map(|seen| &seen.peer))?;
        bind(":last_user_agent", &seen.and_then(|seen| seen.user_agent.as_ref()))?;
    }
    statement.raw_execute().map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_sets_its_columns_and_no_other() {
        let sql = |profile, seen| Changed { profile, seen }.sql();
        let lifecycle = sql(false, false);
        assert!(lifecycle.contains("state = :state") && lifecycle.contains("enrolment_secret = :enrolment_secret"));
        for indexed in ["vendor", "site", "last_fetch"] {
            assert!(!lifecycle.contains(indexed), "a lifecycle-only update leaves {indexed} and its index alone");
        }
        assert!(sql(true, false).contains("site = :site") && !sql(true, false).contains("last_fetch"));
        assert!(sql(false, true).contains("last_fetch = :last_fetch") && !sql(false, true).contains("vendor"));
        let all = sql(true, true);
        let set = LIFECYCLE.len() + PROFILE.len() + SEEN.len();
        assert_eq!(all.matches(" = :").count(), set + 1, "every column and the MAC: {all}");
    }
}
