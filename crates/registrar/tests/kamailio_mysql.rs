//! Kamailio's subscriber table in a real MariaDB/MySQL (`SIPPROV_TEST_MYSQL_URL`, e.g.
//! `mysql://root@127.0.0.1:3306/test`): rows written as `auth_db` reads them, replaced, listed
//! and deleted; a database on another host is refused. Each test makes a database of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use mysql::prelude::Queryable;
use sipprov_credentials::{DigestHa1, Password};
use sipprov_registrar::{Change, KamailioMysql, KamailioOptions, Registrar};

/// Kamailio's own MySQL schema of the table (`/usr/share/kamailio/mysql/auth_db-create.sql`),
/// with a column for the SHA-256 HA1 added.
const SUBSCRIBER: &str = "CREATE TABLE subscriber (
    id INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    username VARCHAR(64) DEFAULT '' NOT NULL,
    domain VARCHAR(64) DEFAULT '' NOT NULL,
    password VARCHAR(64) DEFAULT '' NOT NULL,
    ha1 VARCHAR(128) DEFAULT '' NOT NULL,
    ha1b VARCHAR(128) DEFAULT '' NOT NULL,
    ha1_sha256 VARCHAR(128) DEFAULT '' NOT NULL,
    CONSTRAINT account_idx UNIQUE (username, domain)
)";

/// A database of its own on the server, dropped at the end.
struct Database {
    server: String,
    name: String,
}

impl Database {
    fn create(test: &str) -> Option<Self> {
        let Some(server) = std::env::var("SIPPROV_TEST_MYSQL_URL").ok().filter(|url| !url.is_empty()) else {
            assert!(std::env::var_os("CI").is_none(), "SIPPROV_TEST_MYSQL_URL required in CI (.ci/run sets it)");
            eprintln!("SKIPPED {test}: SIPPROV_TEST_MYSQL_URL is not set (a MariaDB or MySQL server to test on)");
            return None;
        };
        let name = format!("sipprov_registrar_{}_{}", std::process::id(), test.len());
        let mut connection = mysql::Conn::new(mysql::Opts::from_url(&server).unwrap()).unwrap();
        connection.query_drop(format!("CREATE DATABASE {name}")).unwrap();
        connection.query_drop(format!("USE {name}")).unwrap();
        connection.query_drop(SUBSCRIBER).unwrap();
        Some(Self { server, name })
    }

    fn url(&self) -> String {
        let (base, _) = self.server.rsplit_once('/').unwrap();
        format!("{base}/{}", self.name)
    }

    fn rows(&self) -> Vec<(String, String, String, String, String, String)> {
        let mut connection = mysql::Conn::new(mysql::Opts::from_url(&self.url()).unwrap()).unwrap();
        connection
            .query_map(
                "SELECT username, domain, password, ha1, ha1b, ha1_sha256 FROM subscriber ORDER BY username",
                |(user, domain, password, ha1, ha1b, sha256)| (user, domain, password, ha1, ha1b, sha256),
            )
            .unwrap()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut connection) = mysql::Conn::new(mysql::Opts::from_url(&self.server).unwrap()) {
            let _ = connection.query_drop(format!("DROP DATABASE IF EXISTS {}", self.name));
        }
    }
}

fn options(url: String) -> KamailioOptions {
    KamailioOptions {
        name: "kamailio".into(),
        url,
        table: "subscriber".into(),
        sha256_column: Some("ha1_sha256".into()),
        ca_file: None,
    }
}

fn set(user: &str, password: &str) -> Change {
    Change::Set {
        user: user.into(),
        ha1: DigestHa1::compute(user, "sip.example.net", &Password::from_string(password.into())),
    }
}

#[test]
fn subscriber_rows_are_written_replaced_listed_and_deleted() {
    let Some(database) = Database::create("subscriber_rows_are_written_replaced_listed_and_deleted") else { return };
    let registrar = KamailioMysql::new(options(database.url())).unwrap();
    registrar.apply(&set("1001", "first-password")).unwrap();
    registrar.apply(&set("1002", "other-password")).unwrap();
    let Change::Set { ha1: rotated, .. } = set("1001", "second-password") else { unreachable!() };
    registrar.apply(&set("1001", "second-password")).unwrap();
    let rows = database.rows();
    assert_eq!(rows.len(), 2, "a rotation replaces the row: {rows:?}");
    let (user, domain, password, ha1, ha1b, sha256) = rows[0].clone();
    assert_eq!((user.as_str(), domain.as_str(), password.as_str()), ("1001", "sip.example.net", ""));
    assert_eq!(
        (ha1.as_str(), ha1b.as_str(), sha256.as_str()),
        (rotated.md5.as_str(), rotated.md5.as_str(), rotated.sha256.as_str())
    );

    let users = registrar.users("sip.example.net").unwrap().unwrap();
    assert_eq!(users.into_iter().collect::<Vec<_>>(), ["1001", "1002"]);
    assert!(registrar.users("elsewhere.example.net").unwrap().unwrap().is_empty());

    let delete = |user: &str| Change::Delete { user: user.into(), realm: "sip.example.net".into() };
    registrar.apply(&delete("1001")).unwrap();
    registrar.apply(&delete("1001")).unwrap(); // gone already: still a success
    assert_eq!(database.rows().iter().map(|row| row.0.as_str()).collect::<Vec<_>>(), ["1002"]);
}

#[test]
fn only_a_database_on_this_host_and_plain_names_are_accepted() {
    let refused = |url: &str, table: &str| {
        let options = KamailioOptions { table: table.into(), ..options(url.into()) };
        KamailioMysql::new(options).unwrap_err().to_string()
    };
    assert!(refused("mysql://kamailio@db.example.net/kamailio", "subscriber").contains("not this host"));
    assert!(refused("mysql://kamailio@127.0.0.1/kamailio", "subscriber; DROP TABLE x").contains("plain SQL name"));
    assert!(refused("postgres://kamailio@127.0.0.1/kamailio", "subscriber").contains("invalid database URL"));
    let with_tls = KamailioOptions { ca_file: Some("/etc/ca.pem".into()), ..options("mysql://k@127.0.0.1/k".into()) };
    assert!(KamailioMysql::new(with_tls).unwrap_err().to_string().contains("TLS"));
    let socket = options("mysql://kamailio@localhost/kamailio?socket=/run/mysqld/mysqld.sock".into());
    assert!(KamailioMysql::new(socket).is_ok());
}
