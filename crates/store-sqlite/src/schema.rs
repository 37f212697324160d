//! The database schema and its migrations, versioned by `PRAGMA user_version`.

use rusqlite::Connection;

/// Migrations in order; migration `i` moves the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: devices with sealed secrets, the audit log, pending devices, bans, reveal tokens.
    "CREATE TABLE devices (
        mac            TEXT PRIMARY KEY NOT NULL CHECK (length(mac) = 12),
        user_name      TEXT NOT NULL,
        auth_name      TEXT NOT NULL,
        display_name   TEXT NOT NULL,
        state          TEXT NOT NULL CHECK (state IN ('issued', 'delivered', 'purged', 'dormant')),
        state_time     INTEGER,
        sip_password   BLOB,
        admin_password BLOB,
        pinned_spki    BLOB CHECK (pinned_spki IS NULL OR length(pinned_spki) = 32),
        disabled       INTEGER NOT NULL CHECK (disabled IN (0, 1)),
        enrolled_at    INTEGER NOT NULL,
        last_fetch     INTEGER,
        CHECK ((state = 'purged') = (state_time IS NULL)),
        CHECK ((sip_password IS NULL) = (admin_password IS NULL)),
        CHECK (state IN ('issued', 'delivered') OR sip_password IS NULL)
    ) STRICT;
    CREATE INDEX devices_holding_secrets ON devices (mac) WHERE sip_password IS NOT NULL;
    CREATE TABLE audit (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        mac    TEXT NOT NULL,
        kind   TEXT NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;
    CREATE INDEX audit_by_mac ON audit (mac, id);
    CREATE INDEX audit_by_kind ON audit (kind, id);
    CREATE INDEX audit_by_time ON audit (at);
    CREATE TABLE pending (
        mac        TEXT PRIMARY KEY NOT NULL,
        vendor     TEXT NOT NULL,
        spki       BLOB NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        count      INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE bans (
        key    TEXT PRIMARY KEY NOT NULL,
        reason TEXT NOT NULL,
        until  INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE reveal_tokens (
        hash       BLOB PRIMARY KEY NOT NULL,
        mac        TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at    INTEGER
    ) STRICT;",
    // 2: the inventory's vendor, model, site and device settings; audit events about no device
    // (bans, tokens) with a NULL mac; admin API tokens by hash.
    "ALTER TABLE devices ADD COLUMN vendor TEXT;
    ALTER TABLE devices ADD COLUMN model TEXT;
    ALTER TABLE devices ADD COLUMN site TEXT;
    ALTER TABLE devices ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX devices_by_vendor ON devices (vendor, mac);
    CREATE INDEX devices_by_site ON devices (site, mac);
    CREATE TABLE audit_v2 (
        id     INTEGER PRIMARY KEY AUTOINCREMENT,
        at     INTEGER NOT NULL,
        mac    TEXT,
        kind   TEXT NOT NULL,
        detail TEXT NOT NULL
    ) STRICT;
    INSERT INTO audit_v2 (id, at, mac, kind, detail) SELECT id, at, mac, kind, detail FROM audit;
    -- Keep the id sequence where it was, so ids of deleted rows are never handed out again.
    INSERT INTO sqlite_sequence (name, seq)
        SELECT 'audit_v2', seq FROM sqlite_sequence
        WHERE name = 'audit' AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'audit_v2');
    UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'audit'), 0))
        WHERE name = 'audit_v2';
    DROP TABLE audit;
    ALTER TABLE audit_v2 RENAME TO audit;
    CREATE INDEX audit_by_mac ON audit (mac, id);
    CREATE INDEX audit_by_kind ON audit (kind, id);
    CREATE INDEX audit_by_time ON audit (at);
    CREATE TABLE api_tokens (
        hash       BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
        name       TEXT NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
        created_at INTEGER NOT NULL
    ) STRICT;",
    // 3: where a device was last served from (fleet data, written in batches); pending devices
    // kept per MAC and key, so a second certificate claiming a MAC never overwrites the first.
    "ALTER TABLE devices ADD COLUMN last_peer TEXT;
    ALTER TABLE devices ADD COLUMN last_user_agent TEXT;
    CREATE INDEX devices_by_last_fetch ON devices (last_fetch);
    CREATE TABLE pending_v3 (
        mac        TEXT NOT NULL CHECK (length(mac) = 12),
        spki       BLOB NOT NULL CHECK (length(spki) = 32),
        vendor     TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        count      INTEGER NOT NULL,
        PRIMARY KEY (mac, spki)
    ) STRICT;
    INSERT INTO pending_v3 (mac, spki, vendor, first_seen, last_seen, count)
        SELECT mac, spki, vendor, first_seen, last_seen, count FROM pending WHERE length(spki) = 32;
    DROP TABLE pending;
    ALTER TABLE pending_v3 RENAME TO pending;",
    // 4: several SIP accounts per device, each with its own settings and sealed password; every
    // existing device becomes a one-account device on line 1, its secret and pin intact.
    "CREATE TABLE accounts (
        mac            TEXT NOT NULL CHECK (length(mac) = 12),
        line           INTEGER NOT NULL CHECK (line BETWEEN 1 AND 65535),
        user_name      TEXT NOT NULL,
        auth_name      TEXT NOT NULL,
        display_name   TEXT NOT NULL,
        registrar      TEXT,
        outbound_proxy TEXT,
        transport      TEXT CHECK (transport IN ('udp', 'tcp', 'tls')),
        srtp           TEXT CHECK (srtp IN ('off', 'optional', 'required')),
        sip_password   BLOB,
        PRIMARY KEY (mac, line)
    ) STRICT, WITHOUT ROWID;
    CREATE INDEX accounts_holding_secrets ON accounts (mac) WHERE sip_password IS NOT NULL;
    INSERT INTO accounts (mac, line, user_name, auth_name, display_name, sip_password)
        SELECT mac, 1, user_name, auth_name, display_name, sip_password FROM devices;
    CREATE TABLE devices_v4 (
        mac             TEXT PRIMARY KEY NOT NULL CHECK (length(mac) = 12),
        state           TEXT NOT NULL CHECK (state IN ('issued', 'delivered', 'purged', 'dormant')),
        state_time      INTEGER,
        admin_password  BLOB,
        pinned_spki     BLOB CHECK (pinned_spki IS NULL OR length(pinned_spki) = 32),
        disabled        INTEGER NOT NULL CHECK (disabled IN (0, 1)),
        enrolled_at     INTEGER NOT NULL,
        last_fetch      INTEGER,
        vendor          TEXT,
        model           TEXT,
        site            TEXT,
        settings        TEXT NOT NULL DEFAULT '{}',
        last_peer       TEXT,
        last_user_agent TEXT,
        CHECK ((state = 'purged') = (state_time IS NULL)),
        CHECK (state IN ('issued', 'delivered') OR admin_password IS NULL)
    ) STRICT;
    INSERT INTO devices_v4 (mac, state, state_time, admin_password, pinned_spki, disabled, enrolled_at, last_fetch,
            vendor, model, site, settings, last_peer, last_user_agent)
        SELECT mac, state, state_time, admin_password, pinned_spki, disabled, enrolled_at, last_fetch,
            vendor, model, site, settings, last_peer, last_user_agent FROM devices;
    DROP TABLE devices;
    ALTER TABLE devices_v4 RENAME TO devices;
    CREATE INDEX devices_by_vendor ON devices (vendor, mac);
    CREATE INDEX devices_by_site ON devices (site, mac);
    CREATE INDEX devices_by_last_fetch ON devices (last_fetch);",
    // 5: a device's programmable keys (BLF, speed dial), as a JSON array.
    "ALTER TABLE devices ADD COLUMN keys TEXT NOT NULL DEFAULT '[]';",
    // 6: fleet facts of each device's latest fetches (rating; vendor, model, firmware and a
    // contradiction of the certificate read off the User-Agent), and operator documents (the
    // firmware catalogue and targets) changed by compare-and-swap.
    "ALTER TABLE devices ADD COLUMN rating INTEGER;
    ALTER TABLE devices ADD COLUMN ua_vendor TEXT;
    ALTER TABLE devices ADD COLUMN ua_model TEXT;
    ALTER TABLE devices ADD COLUMN firmware TEXT;
    ALTER TABLE devices ADD COLUMN firmware_since INTEGER;
    ALTER TABLE devices ADD COLUMN ua_mismatch TEXT;
    CREATE INDEX devices_mismatched ON devices (mac) WHERE ua_mismatch IS NOT NULL;
    CREATE TABLE documents (
        name    TEXT PRIMARY KEY NOT NULL,
        version INTEGER NOT NULL CHECK (version > 0),
        body    TEXT NOT NULL
    ) STRICT;",
    // 7: the sealed enrolment secret of a phone that authenticates with HTTP Digest.
    "ALTER TABLE devices ADD COLUMN enrolment_secret BLOB;",
    // 8: the registrar outbox: each digest user's latest change (its HA1, sealed, or a
    // deletion), queued by the audit event that carries it (`seq` is that event's id).
    "CREATE TABLE registrar (
        realm    TEXT NOT NULL,
        username TEXT NOT NULL,
        mac      TEXT NOT NULL CHECK (length(mac) = 12),
        line     INTEGER NOT NULL CHECK (line > 0),
        ha1      BLOB,
        seq      INTEGER NOT NULL,
        pushed   INTEGER NOT NULL CHECK (pushed IN (0, 1)),
        PRIMARY KEY (realm, username)
    ) STRICT;
    CREATE INDEX registrar_queue ON registrar (seq) WHERE pushed = 0;",
];

/// The schema version this build creates and reads.
pub(crate) fn newest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the schema up to the newest version, one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let newest = MIGRATIONS.len() as i64;
    if !(0..=newest).contains(&found) {
        return Err(MigrateError::TooNew(found));
    }
    for (version, sql) in (1..=newest).zip(MIGRATIONS).skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrateError {
    #[error("the database schema is version {0}, which this build does not know")]
    TooNew(i64),
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use sipprov_credentials::{AuditQuery, Store};

    use super::*;
    use crate::SqliteStore;

    #[test]
    fn a_version_1_database_keeps_its_devices_and_audit_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO devices VALUES ('001565000001', '1001', 'a', 'Desk', 'purged', NULL, NULL, NULL,
                     NULL, 0, 100, 150);
                 INSERT INTO audit (at, mac, kind, detail) VALUES (150, '001565000001', 'delivered', 'secrets=yes');
                 INSERT INTO audit (at, mac, kind, detail) VALUES (160, '001565000001', 'purged', 'gone');
                 DELETE FROM audit WHERE id = 2;",
            )
            .unwrap();
        }
        let seen = SqliteStore::inspect(&path).unwrap();
        assert_eq!((seen.version, seen.newest, seen.integrity.clone()), (1, newest(), None));
        assert!(!seen.too_new());
        assert_eq!(SqliteStore::inspect(&path).unwrap().version, 1, "inspecting changes nothing");
        let store = SqliteStore::open(&path).unwrap();
        let device = store.device(&"001565000001".parse().unwrap()).unwrap().unwrap();
        assert_eq!(device.accounts, [sipprov_credentials::Account::new(1, "1001", "a", "Desk")]);
        assert_eq!(device.profile, sipprov_credentials::DeviceProfile::default());
        let events = store.audit(&AuditQuery::default()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.mac, Some(device.mac));
        assert_eq!(events[0].event.detail, "secrets=yes");
        store
            .append_audit(vec![sipprov_credentials::AuditEvent::new(
                sipprov_credentials::Timestamp::from_unix(170),
                device.mac,
                sipprov_credentials::AuditKind::Rearmed,
                "",
            )])
            .unwrap();
        let ids: Vec<u64> = store.audit(&AuditQuery::default()).unwrap().iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 3], "the id of the deleted event is not handed out again");
    }

    #[test]
    fn a_version_2_database_keeps_its_pending_keys_and_last_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(MIGRATIONS[1]).unwrap();
            conn.pragma_update(None, "user_version", 2).unwrap();
            conn.execute_batch(
                "INSERT INTO devices (mac, user_name, auth_name, display_name, state, state_time, sip_password,
                     admin_password, pinned_spki, disabled, enrolled_at, last_fetch)
                     VALUES ('001565000001', '1001', 'a', 'Desk', 'purged', NULL, NULL, NULL, NULL, 0, 100, 150);
                 INSERT INTO pending VALUES ('001565000002', 'yealink', x'0707070707070707070707070707070707070707070707070707070707070707', 10, 20, 3);",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let device = store.device(&"001565000001".parse().unwrap()).unwrap().unwrap();
        let seen = device.last_seen.unwrap();
        assert_eq!((seen.at.unix(), seen.peer.as_str(), seen.user_agent), (150, "", None));
        let pending = store.pending(&sipprov_credentials::PendingQuery::default()).unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].spki_sha256, pending[0].count, pending[0].first_seen.unix()), ([7; 32], 3, 10));
    }

    /// A database of the one-account schema, with a device whose secrets were sealed then and
    /// whose key was pinned, opens as a one-account device that still delivers them.
    #[test]
    fn a_version_3_device_becomes_a_one_account_device_with_its_secrets_and_pin() {
        use std::sync::Arc;

        use sipprov_credentials::{
            Credentials, FetchRequest, Fetched, Keyring, Lifecycle, ManualClock, Password, SecretKind, Timestamp,
        };

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.db");
        let keyring = Keyring::parse(&Keyring::generate_file(1, None).unwrap()).unwrap();
        let mac: sipprov_identity::Mac = "001565000001".parse().unwrap();
        let (sip, admin) = (Password::from_string("Sip-From-V3-x".into()), Password::from_string("Admin-V3".into()));
        {
            let conn = Connection::open(&path).unwrap();
            for migration in &MIGRATIONS[..3] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 3).unwrap();
            conn.execute(
                "INSERT INTO devices (mac, user_name, auth_name, display_name, state, state_time, sip_password,
                     admin_password, pinned_spki, disabled, enrolled_at, vendor, model, site, settings)
                     VALUES (?1, '1001', 'sp-1001', 'Desk', 'issued', 1800000000, ?2, ?3, ?4, 0, 1800000000,
                     'yealink', 'T54W', 'leeds', '{\"ntp_server\":\"ntp.example\"}')",
                rusqlite::params![
                    mac.to_string(),
                    keyring.seal(&sip, &mac, SecretKind::SipPassword(1)).unwrap().as_bytes(),
                    keyring.seal(&admin, &mac, SecretKind::AdminPassword).unwrap().as_bytes(),
                    &[7u8; 32][..],
                ],
            )
            .unwrap();
        }
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        let device = store.device(&mac).unwrap().unwrap();
        assert_eq!(device.accounts, [sipprov_credentials::Account::new(1, "1001", "sp-1001", "Desk")]);
        assert_eq!(device.pinned_spki, Some([7; 32]));
        assert_eq!((device.profile.model.as_deref(), device.profile.settings.len()), (Some("T54W"), 1));
        assert_eq!(store.devices_with_secrets(None, 10).unwrap(), [mac]);
        let clock = Arc::new(ManualClock::new(Timestamp::from_unix(1_800_000_010)));
        let credentials = Credentials::new(store.clone(), Lifecycle::default(), Some(keyring), clock);
        let request = FetchRequest {
            spki_sha256: [7; 32],
            peer: "192.0.2.1".into(),
            user_agent: None,
            certificate_vendor: None,
            rating: 5,
        };
        let Fetched::Config { secrets: Some(secrets), .. } = credentials.fetch(&mac, request).unwrap() else {
            panic!("the secrets sealed before the upgrade are delivered");
        };
        assert_eq!(secrets.sip_password(1), Some(&sip));
        assert_eq!(secrets.admin_password, Some(admin));
        let wrong_key = FetchRequest {
            spki_sha256: [8; 32],
            peer: "192.0.2.1".into(),
            user_agent: None,
            certificate_vendor: None,
            rating: 5,
        };
        assert!(matches!(credentials.fetch(&mac, wrong_key).unwrap(), Fetched::Refused(_)), "the pin holds");
    }
}
