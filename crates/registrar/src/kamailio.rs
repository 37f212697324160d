//! Kamailio's `subscriber` table (module `auth_db`), in PostgreSQL.

use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_postgres::{Client, NoTls};

use crate::{Change, Registrar, RegistrarError};

/// How long one statement (or connecting) may take before the change is retried later.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where and how to write Kamailio's subscriber rows.
#[derive(Debug, Clone)]
pub struct KamailioOptions {
    /// The name in audit events.
    pub name: String,
    /// `postgres://user@host:port/database` of Kamailio's database.
    pub url: String,
    /// The table, `subscriber` unless Kamailio's `auth_check` names another.
    pub table: String,
    /// A column of the table for the SHA-256 HA1, if it has one (the stock schema has none;
    /// with `modparam("auth", "algorithm", "SHA-256")`, `password_column` names this column).
    pub sha256_column: Option<String>,
    /// Connect with TLS, trusting only this PEM file's authorities.
    pub ca_file: Option<PathBuf>,
}

impl KamailioOptions {
    /// The table and column names go into SQL as they are: only plain names.
    pub(crate) fn check_names(&self) -> Result<(), RegistrarError> {
        match std::iter::once(&self.table).chain(&self.sha256_column).find(|name| !is_identifier(name)) {
            Some(name) => Err(RegistrarError::Config(format!(
                "registrar {:?}: {name:?} is not a plain SQL name (letters, digits, _)",
                self.name
            ))),
            None => Ok(()),
        }
    }
}

/// Kamailio's `subscriber` table, written as `auth_db` reads it with `calculate_ha1 = 0`: `ha1`
/// and `ha1b` hold the MD5 HA1 (sipprov's phones send the bare user name, so `ha1b` only needs
/// to be no empty secret), `password` stays empty.
pub struct KamailioSubscriber {
    options: KamailioOptions,
    runtime: Runtime,
    client: Mutex<Option<Client>>,
}

impl std::fmt::Debug for KamailioSubscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KamailioSubscriber").field("name", &self.options.name).finish_non_exhaustive()
    }
}

impl KamailioSubscriber {
    /// Checks the options; the database is connected to on first use (and again after a failure).
    pub fn new(options: KamailioOptions) -> Result<Self, RegistrarError> {
        options.check_names()?;
        options
            .url
            .parse::<tokio_postgres::Config>()
            .map_err(|e| RegistrarError::Config(format!("registrar {:?}: invalid database URL: {e}", options.name)))?;
        if let Some(ca_file) = &options.ca_file {
            crate::tls::client_config(ca_file)?;
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistrarError::Config(format!("registrar {:?}: {e}", options.name)))?;
        Ok(Self { options, runtime, client: Mutex::new(None) })
    }

    /// Runs `work` with a connected client, connecting first if there is none; a failure drops
    /// the connection, so the next call starts afresh.
    fn with_client<T, F>(&self, work: impl FnOnce(Client) -> F) -> Result<T, RegistrarError>
    where
        F: Future<Output = (Client, Result<T, tokio_postgres::Error>)>,
    {
        let mut slot = self.client.lock().map_err(|_| self.unavailable("connection lock poisoned"))?;
        let client = match slot.take().filter(|client| !client.is_closed()) {
            Some(client) => client,
            None => self
                .runtime
                .block_on(async { tokio::time::timeout(TIMEOUT, self.connect()).await })
                .map_err(|_| self.unavailable("connecting timed out"))??,
        };
        let (client, outcome) = self
            .runtime
            .block_on(async { tokio::time::timeout(TIMEOUT, work(client)).await })
            .map_err(|_| self.unavailable("the statement timed out"))?;
        match outcome {
            Ok(value) => {
                *slot = Some(client);
                Ok(value)
            }
            Err(e) => Err(self.unavailable(&describe(&e))),
        }
    }

    async fn connect(&self) -> Result<Client, RegistrarError> {
        let fail = |e: tokio_postgres::Error| self.unavailable(&format!("cannot connect: {}", describe(&e)));
        match &self.options.ca_file {
            Some(ca_file) => {
                let tls = tokio_postgres_rustls::MakeRustlsConnect::new(crate::tls::client_config(ca_file)?);
                let (client, connection) = tokio_postgres::connect(&self.options.url, tls).await.map_err(fail)?;
                tokio::spawn(connection);
                Ok(client)
            }
            None => {
                let (client, connection) = tokio_postgres::connect(&self.options.url, NoTls).await.map_err(fail)?;
                tokio::spawn(connection);
                Ok(client)
            }
        }
    }

    fn unavailable(&self, reason: &str) -> RegistrarError {
        RegistrarError::Unavailable(format!("registrar {:?}: {reason}", self.options.name))
    }
}

impl Registrar for KamailioSubscriber {
    fn name(&self) -> &str {
        &self.options.name
    }

    fn apply(&self, change: &Change) -> Result<(), RegistrarError> {
        let table = &self.options.table;
        match change {
            Change::Set { user, ha1 } => {
                let (columns, values, updates) = match &self.options.sha256_column {
                    Some(column) => (format!(", {column}"), ", $4", format!(", {column} = EXCLUDED.{column}")),
                    None => (String::new(), "", String::new()),
                };
                let statement = format!(
                    "INSERT INTO {table} (username, domain, password, ha1, ha1b{columns}) \
                     VALUES ($1, $2, '', $3, $3{values}) \
                     ON CONFLICT (username, domain) DO UPDATE \
                     SET password = '', ha1 = EXCLUDED.ha1, ha1b = EXCLUDED.ha1b{updates}"
                );
                let (user, realm, md5, sha256) = (user.clone(), ha1.realm.clone(), ha1.md5.clone(), ha1.sha256.clone());
                self.with_client(async move |client| {
                    let outcome = if self.options.sha256_column.is_some() {
                        client.execute(&statement, &[&user, &realm, &md5, &sha256]).await
                    } else {
                        client.execute(&statement, &[&user, &realm, &md5]).await
                    };
                    (client, outcome.map(drop))
                })
            }
            Change::Delete { user, realm } => {
                let statement = format!("DELETE FROM {table} WHERE username = $1 AND domain = $2");
                let (user, realm) = (user.clone(), realm.clone());
                self.with_client(async move |client| {
                    let outcome = client.execute(&statement, &[&user, &realm]).await;
                    (client, outcome.map(drop))
                })
            }
        }
    }

    fn users(&self, realm: &str) -> Result<Option<BTreeSet<String>>, RegistrarError> {
        let statement = format!("SELECT username FROM {} WHERE domain = $1", self.options.table);
        let realm = realm.to_owned();
        let users = self.with_client(async move |client| {
            let outcome = client.query(&statement, &[&realm]).await;
            (client, outcome.map(|rows| rows.iter().map(|row| row.get::<_, String>(0)).collect()))
        })?;
        Ok(Some(users))
    }
}

/// A database error as an operator reads it: the server's message, never a parameter value.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Whether `name` may be put into SQL as a table or column name.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_column_names_are_plain_sql_names() {
        let options = |table: &str| KamailioOptions {
            name: "k".into(),
            url: "postgres://kamailio@127.0.0.1/kamailio".into(),
            table: table.into(),
            sha256_column: None,
            ca_file: None,
        };
        assert!(KamailioSubscriber::new(options("subscriber")).is_ok());
        let refused = KamailioSubscriber::new(options("subscriber; DROP TABLE version")).unwrap_err();
        assert!(refused.to_string().contains("not a plain SQL name"), "{refused}");
        let bad_url = KamailioSubscriber::new(KamailioOptions { url: "postgres://[".into(), ..options("s") });
        assert!(bad_url.unwrap_err().to_string().contains("invalid database URL"));
    }
}
