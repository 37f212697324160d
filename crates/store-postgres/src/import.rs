//! Bringing a whole store in from another backend, as it is: records keep their ids, times,
//! counts and use marks, and nothing is audited for the move itself (the events moved are the
//! history). Every import skips what the database already holds, so an interrupted move is
//! resumed by running it again.

use sipprov_credentials::{
    ApiToken, Ban, DeviceRecord, Document, FleetRow, PendingDevice, RegistrarEntry, RevealToken, StoreError,
    StoredAuditEvent, Timestamp,
};

use crate::PostgresStore;
use crate::rows::{self, backend};
use crate::store::{Values, connection, params, write_device};

impl PostgresStore {
    /// Adds the devices not yet in the database, in one transaction; returns how many were new.
    pub fn import_devices(&self, devices: Vec<DeviceRecord>) -> Result<usize, StoreError> {
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            let mut added = 0;
            for device in &devices {
                added += usize::from(write_device(&tx, device, true, true).await?);
            }
            tx.commit().await.map_err(backend)?;
            Ok(added)
        })
    }

    /// Adds audit events with their own ids (those not yet present), and moves the id
    /// sequence past the highest, so events appended later never reuse an id.
    pub fn import_audit(&self, events: Vec<StoredAuditEvent>) -> Result<usize, StoreError> {
        let id: Vec<i64> = events.iter().map(|e| i64::try_from(e.id).unwrap_or(i64::MAX)).collect();
        let at: Vec<i64> = events.iter().map(|e| e.event.at.unix()).collect();
        let mac: Vec<Option<String>> = events.iter().map(|e| e.event.mac.map(|mac| mac.to_string())).collect();
        let kind: Vec<&'static str> = events.iter().map(|e| e.event.kind.name()).collect();
        let detail: Vec<String> = events.into_iter().map(|e| e.event.detail).collect();
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            let added = tx
                .execute(
                    "INSERT INTO audit (id, at, mac, kind, detail) OVERRIDING SYSTEM VALUE
                     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[])
                     ON CONFLICT (id) DO NOTHING",
                    &[&id, &at, &mac, &kind, &detail],
                )
                .await
                .map_err(backend)?;
            tx.execute(
                "SELECT setval(pg_get_serial_sequence('audit', 'id'), GREATEST((SELECT max(id) FROM audit), 1))",
                &[],
            )
            .await
            .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            Ok(usize::try_from(added).unwrap_or(usize::MAX))
        })
    }

    /// Adds pending sightings (first and last seen, count) not yet present.
    pub fn import_pending(&self, pending: Vec<PendingDevice>) -> Result<usize, StoreError> {
        let rows: Vec<Values> = pending
            .into_iter()
            .map(|p| -> Values {
                vec![
                    Box::new(p.mac.to_string()),
                    Box::new(p.spki_sha256.to_vec()),
                    Box::new(p.vendor),
                    Box::new(p.first_seen.unix()),
                    Box::new(p.last_seen.unix()),
                    Box::new(i64::try_from(p.count).unwrap_or(i64::MAX)),
                ]
            })
            .collect();
        self.insert_new(
            "INSERT INTO pending (mac, spki, vendor, first_seen, last_seen, count) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (mac, spki) DO NOTHING",
            rows,
        )
    }

    /// Adds operator documents not yet present, with their versions.
    pub fn import_documents(&self, documents: Vec<(String, Document)>) -> Result<usize, StoreError> {
        let rows = documents
            .into_iter()
            .map(|(name, document)| -> Values {
                let version = i64::try_from(document.version).unwrap_or(i64::MAX);
                vec![Box::new(name), Box::new(version), Box::new(document.body)]
            })
            .collect();
        self.insert_new(
            "INSERT INTO documents (name, version, body) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            rows,
        )
    }

    /// Sets the fleet facts of devices already moved (rating, what the User-Agent said, since
    /// when the firmware runs); returns how many changed.
    pub fn import_fleet(&self, rows: Vec<FleetRow>) -> Result<usize, StoreError> {
        let rows = rows
            .into_iter()
            .map(|row| -> Values {
                vec![
                    Box::new(row.mac.to_string()),
                    Box::new(row.facts.rating.map(i16::from)),
                    Box::new(row.facts.vendor),
                    Box::new(row.facts.model),
                    Box::new(row.facts.firmware),
                    Box::new(row.firmware_since.map(Timestamp::unix)),
                    Box::new(row.facts.mismatch),
                ]
            })
            .collect();
        self.insert_new(
            "UPDATE devices SET rating = $2, ua_vendor = $3, ua_model = $4, firmware = $5, firmware_since = $6,
                ua_mismatch = $7
             WHERE mac = $1 AND (rating, ua_vendor, ua_model, firmware, firmware_since, ua_mismatch)
                IS DISTINCT FROM ($2, $3, $4, $5, $6, $7)",
            rows,
        )
    }

    /// Adds bans not yet present.
    pub fn import_bans(&self, bans: Vec<Ban>) -> Result<usize, StoreError> {
        let rows = bans
            .into_iter()
            .map(|ban| -> Values { vec![Box::new(ban.key), Box::new(ban.reason), Box::new(ban.until.unix())] })
            .collect();
        self.insert_new("INSERT INTO bans (key, reason, until) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING", rows)
    }

    /// Adds admin API tokens (by hash) not yet present.
    pub fn import_api_tokens(&self, tokens: Vec<ApiToken>) -> Result<usize, StoreError> {
        let rows = tokens
            .into_iter()
            .map(|token| -> Values {
                vec![
                    Box::new(token.hash.to_vec()),
                    Box::new(token.name),
                    Box::new(token.role.name()),
                    Box::new(token.created_at.unix()),
                ]
            })
            .collect();
        self.insert_new(
            "INSERT INTO api_tokens (hash, name, role, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hash) DO NOTHING",
            rows,
        )
    }

    /// Adds reveal tokens, with when they were used, not yet present.
    pub fn import_reveal_tokens(&self, tokens: Vec<(RevealToken, Option<Timestamp>)>) -> Result<usize, StoreError> {
        let rows = tokens
            .into_iter()
            .map(|(token, used_at)| -> Values {
                vec![
                    Box::new(token.hash.to_vec()),
                    Box::new(token.mac.to_string()),
                    Box::new(token.expires_at.unix()),
                    Box::new(used_at.map(Timestamp::unix)),
                ]
            })
            .collect();
        self.insert_new(
            "INSERT INTO reveal_tokens (hash, mac, expires_at, used_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (hash) DO NOTHING",
            rows,
        )
    }

    /// Every reveal token, with when it was used, by hash.
    pub fn reveal_tokens(&self) -> Result<Vec<(RevealToken, Option<Timestamp>)>, StoreError> {
        self.run(async move |pool| {
            let client = connection(&pool).await?;
            let rows = client
                .query("SELECT hash, mac, expires_at, used_at FROM reveal_tokens ORDER BY hash", &[])
                .await
                .map_err(backend)?;
            rows.iter()
                .map(|row| {
                    let hash: Vec<u8> = row.try_get(0).map_err(backend)?;
                    let token = RevealToken {
                        hash: hash.try_into().map_err(|_| StoreError::Corrupt("a reveal token hash".into()))?,
                        mac: rows::mac(row.try_get(1).map_err(backend)?)?,
                        expires_at: Timestamp::from_unix(row.try_get(2).map_err(backend)?),
                    };
                    let used_at: Option<i64> = row.try_get(3).map_err(backend)?;
                    Ok((token, used_at.map(Timestamp::from_unix)))
                })
                .collect()
        })
    }

    /// Runs `sql` once per row of values, in one transaction; returns the rows it added.
    /// Adds registrar outbox rows (by realm and user) not yet present, with their numbers and
    /// push marks, and moves `registrar_seq` past the highest: changes queued here come after.
    pub fn import_registrar(&self, entries: Vec<RegistrarEntry>) -> Result<usize, StoreError> {
        let highest = entries.iter().map(|entry| entry.seq).max().map(|seq| i64::try_from(seq).unwrap_or(i64::MAX));
        let rows = entries
            .into_iter()
            .map(|entry| -> Values {
                let change = entry.change;
                vec![
                    Box::new(change.realm),
                    Box::new(change.user),
                    Box::new(change.mac.to_string()),
                    Box::new(i32::from(change.line)),
                    Box::new(change.ha1.map(|sealed| sealed.as_bytes().to_vec())),
                    Box::new(i64::try_from(entry.seq).unwrap_or(i64::MAX)),
                    Box::new(entry.pushed),
                ]
            })
            .collect();
        let added = self.insert_new(
            "INSERT INTO registrar (realm, username, mac, line, ha1, seq, pushed) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (realm, username) DO NOTHING",
            rows,
        )?;
        if let Some(highest) = highest {
            self.run(async move |pool| {
                let client = connection(&pool).await?;
                let sql = "SELECT setval('registrar_seq', GREATEST($1, (SELECT last_value FROM registrar_seq)))";
                client.execute(sql, &[&highest]).await.map_err(backend)?;
                Ok(())
            })?;
        }
        Ok(added)
    }

    fn insert_new(&self, sql: &'static str, rows: Vec<Values>) -> Result<usize, StoreError> {
        self.run(async move |pool| {
            let mut client = connection(&pool).await?;
            let tx = client.transaction().await.map_err(backend)?;
            let statement = tx.prepare(sql).await.map_err(backend)?;
            let mut added = 0;
            for row in &rows {
                let values = params(row);
                added += tx.execute(&statement, &values).await.map_err(backend)?;
            }
            tx.commit().await.map_err(backend)?;
            Ok(usize::try_from(added).unwrap_or(usize::MAX))
        })
    }
}
