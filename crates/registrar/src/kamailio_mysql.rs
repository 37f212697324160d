//! Kamailio's `subscriber` table (module `auth_db`), in MySQL or MariaDB.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder};

use crate::{Change, KamailioOptions, Registrar, RegistrarError};

/// How long connecting, or one statement, may take before the change is retried later.
const TIMEOUT: Duration = Duration::from_secs(10);

/// [`KamailioSubscriber`](crate::KamailioSubscriber) for a MySQL or MariaDB database
/// (`mysql://user:password@host:port/database`): the same rows, written the same way.
///
/// The connection is not encrypted, so the database must be on this host (`127.0.0.1`, `::1`,
/// `localhost`, or a socket: `?socket=/run/mysqld/mysqld.sock`). For a database elsewhere, use
/// a tunnel to it, or the webhook.
pub struct KamailioMysql {
    options: KamailioOptions,
    opts: Opts,
    connection: Mutex<Option<Conn>>,
}

impl std::fmt::Debug for KamailioMysql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KamailioMysql").field("name", &self.options.name).finish_non_exhaustive()
    }
}

impl KamailioMysql {
    /// Checks the options; the database is connected to on first use (and again after a failure).
    pub fn new(options: KamailioOptions) -> Result<Self, RegistrarError> {
        options.check_names()?;
        let fail = |reason: String| RegistrarError::Config(format!("registrar {:?}: {reason}", options.name));
        if options.ca_file.is_some() {
            return Err(fail("TLS to MySQL is not built in: the database must be on this host".into()));
        }
        let opts = Opts::from_url(&options.url).map_err(|e| fail(format!("invalid database URL: {e}")))?;
        let host = opts.get_ip_or_hostname();
        let local = opts.get_socket().is_some() || ["127.0.0.1", "::1", "[::1]", "localhost"].contains(&&*host);
        if !local {
            return Err(fail(format!(
                "{host} is not this host: HA1 values would cross the network unencrypted (use a tunnel, or the webhook)"
            )));
        }
        let opts = OptsBuilder::from_opts(opts)
            .tcp_connect_timeout(Some(TIMEOUT))
            .read_timeout(Some(TIMEOUT))
            .write_timeout(Some(TIMEOUT))
            .into();
        Ok(Self { options, opts, connection: Mutex::new(None) })
    }

    /// Runs `work` on a connection, connecting first if there is none; a failure drops the
    /// connection, so the next call starts afresh.
    fn with_connection<T>(&self, work: impl FnOnce(&mut Conn) -> mysql::Result<T>) -> Result<T, RegistrarError> {
        let unavailable =
            |reason: String| RegistrarError::Unavailable(format!("registrar {:?}: {reason}", self.options.name));
        let mut slot = self.connection.lock().map_err(|_| unavailable("connection lock poisoned".into()))?;
        let mut connection = match slot.take() {
            Some(connection) => connection,
            None => {
                Conn::new(self.opts.clone()).map_err(|e| unavailable(format!("cannot connect: {}", describe(&e))))?
            }
        };
        let outcome = work(&mut connection).map_err(|e| unavailable(describe(&e)))?;
        *slot = Some(connection);
        Ok(outcome)
    }
}

impl Registrar for KamailioMysql {
    fn name(&self) -> &str {
        &self.options.name
    }

    fn apply(&self, change: &Change) -> Result<(), RegistrarError> {
        let table = &self.options.table;
        match change {
            Change::Set { user, ha1 } => {
                let (columns, values, updates) = match &self.options.sha256_column {
                    Some(column) => (format!(", {column}"), ", ?", format!(", {column} = VALUES({column})")),
                    None => (String::new(), "", String::new()),
                };
                let statement = format!(
                    "INSERT INTO {table} (username, domain, password, ha1, ha1b{columns}) VALUES (?, ?, '', ?, ?{values}) \
                     ON DUPLICATE KEY UPDATE password = '', ha1 = VALUES(ha1), ha1b = VALUES(ha1b){updates}"
                );
                let md5 = ha1.md5.as_str();
                self.with_connection(|connection| match self.options.sha256_column {
                    Some(_) => connection.exec_drop(&statement, (user, &ha1.realm, md5, md5, &ha1.sha256)),
                    None => connection.exec_drop(&statement, (user, &ha1.realm, md5, md5)),
                })
            }
            Change::Delete { user, realm } => {
                let statement = format!("DELETE FROM {table} WHERE username = ? AND domain = ?");
                self.with_connection(|connection| connection.exec_drop(&statement, (user, realm)))
            }
        }
    }

    fn users(&self, realm: &str) -> Result<Option<BTreeSet<String>>, RegistrarError> {
        let statement = format!("SELECT username FROM {} WHERE domain = ?", self.options.table);
        let users: Vec<String> = self.with_connection(|connection| connection.exec(&statement, (realm,)))?;
        Ok(Some(users.into_iter().collect()))
    }
}

/// A database error as an operator reads it: the server's message, never a parameter value.
fn describe(error: &mysql::Error) -> String {
    match error {
        mysql::Error::MySqlError(server) => format!("{} ({})", server.message, server.code),
        other => other.to_string(),
    }
}
