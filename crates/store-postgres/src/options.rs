//! Where the database is and how to reach it: the connection pool and its TLS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::config::SslMode;

use crate::OpenError;

/// How a [`PostgresStore`](crate::PostgresStore) connects.
#[derive(Clone)]
pub struct PostgresOptions {
    /// A libpq-style connection string or `postgres://` URL. It may carry a password: it is
    /// never logged, and errors name only its host and database.
    pub url: String,
    /// PEM file of the certificate authorities that may vouch for the database server. With
    /// it, the connection requires TLS (rustls, host name verified; the URL's `sslmode` may
    /// only make it stricter); without it, the connection is plain, for a database on the
    /// same host or a private network.
    pub ca_file: Option<PathBuf>,
    /// Connections per pool at most. A store keeps two pools: one for its blocking methods,
    /// one for work async callers hand over.
    pub pool_size: usize,
    /// How long one store call may take, waiting for a connection included, before it fails
    /// (and rolls back): a database that does not answer costs a request this long, not forever.
    pub timeout: Duration,
}

impl PostgresOptions {
    /// Connections at most by default: enough for a node's blocking threads' bursts.
    pub const DEFAULT_POOL_SIZE: usize = 16;
    /// A store call's time limit by default.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

    /// Options for `url`, with the defaults.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), ca_file: None, pool_size: Self::DEFAULT_POOL_SIZE, timeout: Self::DEFAULT_TIMEOUT }
    }

    /// The host and database the URL names, for messages (never its password).
    pub fn describe(&self) -> String {
        match self.url.parse::<tokio_postgres::Config>() {
            Ok(config) => {
                let hosts: Vec<String> = config
                    .get_hosts()
                    .iter()
                    .map(|host| match host {
                        tokio_postgres::config::Host::Tcp(name) => name.clone(),
                        tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                    })
                    .collect();
                format!("{}/{}", hosts.join(","), config.get_dbname().unwrap_or("(default database)"))
            }
            Err(_) => "(unparsable connection string)".into(),
        }
    }

    /// The connection pool these options describe; it connects lazily, on first use.
    pub(crate) fn pool(&self) -> Result<Pool, OpenError> {
        let mut config: tokio_postgres::Config =
            self.url.parse().map_err(|e: tokio_postgres::Error| OpenError::Url(e.to_string()))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.timeout);
        }
        // The server gives up on a statement (or a lock wait) when the caller does: a call
        // dropped at its time limit leaves no work running behind it.
        let limit = self.timeout.as_millis();
        let limits = format!("-c statement_timeout={limit} -c lock_timeout={limit}");
        let options = match config.get_options() {
            Some(own) => format!("{own} {limits}"),
            None => limits,
        };
        config.options(&options);
        // With certificate authorities given, TLS is required: "prefer" would let a network
        // attacker refuse TLS and read the connection.
        if self.ca_file.is_some() && config.get_ssl_mode() == SslMode::Prefer {
            config.ssl_mode(SslMode::Require);
        }
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("sipprovd");
        }
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match &self.ca_file {
            Some(path) => Manager::from_config(config, tls(path)?, manager_config),
            None => Manager::from_config(config, NoTls, manager_config),
        };
        Pool::builder(manager)
            .max_size(self.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.timeout))
            .create_timeout(Some(self.timeout))
            .recycle_timeout(Some(self.timeout))
            .build()
            .map_err(|e| OpenError::Pool(e.to_string()))
    }
}

impl std::fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("database", &self.describe())
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A rustls connector trusting only the authorities in `path`.
fn tls(path: &PathBuf) -> Result<tokio_postgres_rustls::MakeRustlsConnect, OpenError> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

    let fail = |reason: String| OpenError::Tls { path: path.clone(), reason };
    let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| fail(e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| fail(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates {
        roots.add(certificate).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("no certificate in the file".into()));
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| fail(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}
