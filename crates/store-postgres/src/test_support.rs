//! Throw-away databases for tests that need a real PostgreSQL, and a proxy that takes the
//! database away and brings it back (feature `test-support`).
//!
//! Tests read the server from `SIPPROV_TEST_DATABASE_URL`. Without it a test says by name that
//! it was skipped; under CI (`CI` set) a missing variable fails the test instead, so a run that
//! skipped the PostgreSQL tests cannot pass.
#![allow(clippy::print_stderr, clippy::panic, clippy::expect_used)] // a test fixture: it reports and fails loudly

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_postgres::NoTls;

/// The variable naming the PostgreSQL server tests may create databases on.
pub const DATABASE_URL_VARIABLE: &str = "SIPPROV_TEST_DATABASE_URL";

/// A database of its own for one test, dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    server: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// A fresh database on the server `SIPPROV_TEST_DATABASE_URL` names, or `None` (after
    /// saying that `test` was skipped) when the variable is not set. Panics under CI without
    /// it, and whenever the database cannot be created.
    pub fn for_test(test: &str) -> Option<Self> {
        let Ok(server) = std::env::var(DATABASE_URL_VARIABLE) else {
            if std::env::var_os("CI").is_some() {
                panic!("{test}: {DATABASE_URL_VARIABLE} is not set, and CI may not skip PostgreSQL tests");
            }
            eprintln!(
                "SKIPPED {test}: {DATABASE_URL_VARIABLE} is not set (e.g. postgres://postgres@127.0.0.1:5432/test)"
            );
            return None;
        };
        match Self::create(&server) {
            Ok(database) => Some(database),
            Err(e) => panic!("{test}: cannot create a database on {DATABASE_URL_VARIABLE}: {e}"),
        }
    }

    /// Creates a database with a fresh name on the server `server` (a URL whose database the
    /// login may connect to and create databases from).
    pub fn create(server: &str) -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("sipprov_test_{}_{}_{nanos}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        execute(server, &format!("CREATE DATABASE {name}"))?;
        let url = with_database(server, &name)?;
        Ok(Self { server: server.to_owned(), name, url })
    }

    /// The connection URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs `sql` (statements separated by `;`) in this database: for tests that look under
    /// the store, or damage what it wrote.
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        execute(&self.url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Err(e) = execute(&self.server, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)) {
            eprintln!("cannot drop the test database {}: {e}", self.name);
        }
    }
}

/// `url` with its database replaced by `name` (a `postgres://` URL or `key=value` string).
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let Some((scheme, rest)) = url.split_once("://") else { return Ok(format!("{url} dbname={name}")) };
    let (address, query) = match rest.split_once('?') {
        Some((address, query)) => (address, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = address.split_once('/').map_or(address, |(authority, _)| authority);
    if authority.is_empty() {
        return Err(format!("{DATABASE_URL_VARIABLE} names no host"));
    }
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

/// Runs `sql` on its own thread and runtime: callable from sync tests and async ones alike.
fn execute(url: &str, sql: &str) -> Result<(), String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    let work = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await.map_err(|e| e.to_string())?;
            let connection = tokio::spawn(connection);
            let result = client.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(client);
            let _ = connection.await;
            result
        })
    });
    work.join().map_err(|_| "the database thread panicked".to_owned())?
}

/// A loopback TCP proxy in front of a database that can be cut (its connections closed, new
/// ones closed at once) and restored: the database going away without stopping the server.
pub struct Proxy {
    url: String,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// A proxy to the host and port of `url` (a `postgres://` URL with a host).
    pub fn in_front_of(url: &str) -> Self {
        let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (user, target) = match authority.rsplit_once('@') {
            Some((user, target)) => (format!("{user}@"), target.to_owned()),
            None => (String::new(), authority.to_owned()),
        };
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address: SocketAddr = listener.local_addr().expect("the proxy's address");
        let proxy = Self {
            url: format!("{scheme}://{user}{address}/{path}"),
            up: Arc::new(AtomicBool::new(true)),
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        let (up, connections) = (proxy.up.clone(), proxy.connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                // Without it, Nagle's algorithm and delayed acknowledgements hold every small
                // message 40 ms: a query per round trip would crawl.
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let (Ok(client_copy), Ok(server_copy)) = (client.try_clone(), server.try_clone()) else { continue };
                let mut open = connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                open.extend(client.try_clone().ok());
                open.extend(server.try_clone().ok());
                pipe(client_copy, server_copy);
                pipe(server, client);
            }
        });
        proxy
    }

    /// The database's URL through the proxy.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Takes the database away: open connections are closed, new ones refused.
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.connections.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// Brings the database back for new connections.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_secs(60)));
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn the_database_name_is_replaced_in_every_spelling() {
        let url = "postgres://postgres@127.0.0.1:5432/test";
        assert_eq!(with_database(url, "x").unwrap(), "postgres://postgres@127.0.0.1:5432/x");
        assert_eq!(with_database("postgres://h", "x").unwrap(), "postgres://h/x");
        assert_eq!(with_database("postgres://h/db?sslmode=disable", "x").unwrap(), "postgres://h/x?sslmode=disable");
        assert_eq!(with_database("host=h user=u", "x").unwrap(), "host=h user=u dbname=x");
        assert!(with_database("postgres:///db", "x").is_err());
    }
}
