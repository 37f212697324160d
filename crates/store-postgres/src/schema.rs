//! The database schema and its migrations, versioned in the `sipprov_schema` table.
//!
//! Nodes starting together migrate one at a time: each migration runs in a transaction that
//! first takes a transaction-scoped advisory lock, and re-reads the version under it.

use tokio_postgres::{Client, GenericClient};

/// Migrations in order; migration `i` moves the schema from version `i` to `i + 1`. The first
/// is the SQLite store's version 5 in PostgreSQL's types: a record moves between the two as is.
const MIGRATIONS: &[&str] = &[
    // 1: devices and their accounts (sealed secrets), the audit log, pending devices, bans,
    // reveal tokens and admin API tokens. MACs compare byte-wise (`C`), whatever the database's
    // collation, so listings page in the same order as every other backend's.
    r#"CREATE TABLE devices (
        mac             TEXT COLLATE "C" PRIMARY KEY CHECK (length(mac) = 12),
        state           TEXT NOT NULL CHECK (state IN ('issued', 'delivered', 'purged', 'dormant')),
        state_time      BIGINT,
        admin_password  BYTEA,
        pinned_spki     BYTEA CHECK (pinned_spki IS NULL OR length(pinned_spki) = 32),
        disabled        BOOLEAN NOT NULL,
        enrolled_at     BIGINT NOT NULL,
        last_fetch      BIGINT,
        vendor          TEXT,
        model           TEXT,
        site            TEXT,
        settings        TEXT NOT NULL DEFAULT '{}',
        last_peer       TEXT,
        last_user_agent TEXT,
        keys            TEXT NOT NULL DEFAULT '[]',
        CHECK ((state = 'purged') = (state_time IS NULL)),
        CHECK (state IN ('issued', 'delivered') OR admin_password IS NULL)
    );
    CREATE INDEX devices_by_vendor ON devices (vendor, mac);
    CREATE INDEX devices_by_site ON devices (site, mac);
    CREATE INDEX devices_by_last_fetch ON devices (last_fetch);
    CREATE TABLE accounts (
        mac            TEXT COLLATE "C" NOT NULL REFERENCES devices (mac) ON DELETE CASCADE,
        line           INTEGER NOT NULL CHECK (line BETWEEN 1 AND 65535),
        user_name      TEXT NOT NULL,
        auth_name      TEXT NOT NULL,
        display_name   TEXT NOT NULL,
        registrar      TEXT,
        outbound_proxy TEXT,
        transport      TEXT CHECK (transport IN ('udp', 'tcp', 'tls')),
        srtp           TEXT CHECK (srtp IN ('off', 'optional', 'required')),
        sip_password   BYTEA,
        PRIMARY KEY (mac, line)
    );
    CREATE INDEX accounts_holding_secrets ON accounts (mac) WHERE sip_password IS NOT NULL;
    CREATE TABLE audit (
        id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at     BIGINT NOT NULL,
        mac    TEXT COLLATE "C",
        kind   TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    CREATE INDEX audit_by_mac ON audit (mac, id);
    CREATE INDEX audit_by_kind ON audit (kind, id);
    CREATE INDEX audit_by_time ON audit (at);
    CREATE TABLE pending (
        mac        TEXT COLLATE "C" NOT NULL CHECK (length(mac) = 12),
        spki       BYTEA NOT NULL CHECK (length(spki) = 32),
        vendor     TEXT NOT NULL,
        first_seen BIGINT NOT NULL,
        last_seen  BIGINT NOT NULL,
        count      BIGINT NOT NULL,
        PRIMARY KEY (mac, spki)
    );
    CREATE TABLE bans (
        key    TEXT COLLATE "C" PRIMARY KEY,
        reason TEXT NOT NULL,
        until  BIGINT NOT NULL
    );
    CREATE TABLE reveal_tokens (
        hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
        mac        TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at    BIGINT
    );
    CREATE TABLE api_tokens (
        hash       BYTEA PRIMARY KEY CHECK (length(hash) = 32),
        name       TEXT NOT NULL,
        role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'auditor')),
        created_at BIGINT NOT NULL
    );"#,
    // 2: fleet facts of each device's latest fetches (rating; vendor, model, firmware and a
    // contradiction of the certificate read off the User-Agent), and operator documents (the
    // firmware catalogue and targets) changed by compare-and-swap. The SQLite store's version 6.
    r#"ALTER TABLE devices ADD COLUMN rating SMALLINT;
    ALTER TABLE devices ADD COLUMN ua_vendor TEXT;
    ALTER TABLE devices ADD COLUMN ua_model TEXT;
    ALTER TABLE devices ADD COLUMN firmware TEXT;
    ALTER TABLE devices ADD COLUMN firmware_since BIGINT;
    ALTER TABLE devices ADD COLUMN ua_mismatch TEXT;
    CREATE INDEX devices_mismatched ON devices (mac) WHERE ua_mismatch IS NOT NULL;
    CREATE TABLE documents (
        name    TEXT COLLATE "C" PRIMARY KEY,
        version BIGINT NOT NULL CHECK (version > 0),
        body    TEXT NOT NULL
    );"#,
    // 3: the sealed enrolment secret of a phone that authenticates with HTTP Digest. The SQLite
    // store's version 7.
    r#"ALTER TABLE devices ADD COLUMN enrolment_secret BYTEA;"#,
    // 4: the registrar outbox: each digest user's latest change (its HA1, sealed, or a
    // deletion), numbered from `registrar_seq` in the order queued. The SQLite store's version 8.
    r#"CREATE SEQUENCE registrar_seq;
    CREATE TABLE registrar (
        realm    TEXT COLLATE "C" NOT NULL,
        username TEXT COLLATE "C" NOT NULL,
        mac      TEXT NOT NULL CHECK (length(mac) = 12),
        line     INTEGER NOT NULL CHECK (line > 0),
        ha1      BYTEA,
        seq      BIGINT NOT NULL,
        pushed   BOOLEAN NOT NULL,
        PRIMARY KEY (realm, username)
    );
    CREATE INDEX registrar_queue ON registrar (seq) WHERE NOT pushed;"#,
];

/// The schema version this build creates and reads.
pub(crate) fn newest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Any fixed number: the advisory lock every node's migration takes first.
const MIGRATION_LOCK: i64 = 0x0053_4950_5052_4f56;

/// Brings the schema up to the newest version, one transaction per migration.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), MigrateError> {
    for (version, sql) in (1..=newest()).zip(MIGRATIONS) {
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS sipprov_schema (version BIGINT NOT NULL)").await?;
        let found = version_in(&tx).await?.unwrap_or(0);
        if found > newest() {
            return Err(MigrateError::TooNew(found));
        }
        if found >= version {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute("DELETE FROM sipprov_schema", &[]).await?;
        tx.execute("INSERT INTO sipprov_schema (version) VALUES ($1)", &[&version]).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// The schema version in the database, `None` before the first migration.
pub(crate) async fn version_in(client: &impl GenericClient) -> Result<Option<i64>, tokio_postgres::Error> {
    let exists = client.query_one("SELECT to_regclass('sipprov_schema') IS NOT NULL", &[]).await?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let row = client.query_opt("SELECT max(version) FROM sipprov_schema", &[]).await?;
    Ok(row.and_then(|row| row.get::<_, Option<i64>>(0)))
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum MigrateError {
    #[error("the database schema is version {0}, which this build does not know")]
    TooNew(i64),
    #[error(transparent)]
    Postgres(#[from] tokio_postgres::Error),
}
