//! End to end: the real `sipprovd demo` binary, fetched from with the real `curl`.
//!
//! Each test starts its own demo on a free loopback port in a temporary directory, and stops it
//! when done. Without `curl` on the machine the tests are skipped loudly (in CI they fail).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct DemoServer {
    child: Child,
    dir: PathBuf,
    url: String,
    stdout: Vec<String>,
    lines: mpsc::Receiver<String>,
}

impl DemoServer {
    fn start(dir: &Path, grace: u64) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sipprovd"))
            .args([
                "demo",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--grace",
                &grace.to_string(),
                "--dir",
            ])
            .arg(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sipprovd demo");
        let stdout = child.stdout.take().unwrap();
        // From here on, Drop kills the child, also when a panic below unwinds.
        let (lines_tx, lines_rx) = mpsc::channel();
        let mut server = Self { child, dir: dir.to_owned(), url: String::new(), stdout: Vec::new(), lines: lines_rx };
        std::thread::spawn(move || {
            // Keep draining after the receiver is gone, so the daemon's stdout never fills.
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(line);
            }
        });
        while server.url.is_empty() {
            let line = server
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("sipprovd demo did not start; it printed {:#?}", server.stdout));
            if let Some(url) = line.strip_prefix("Serving phones on ") {
                server.url = url.to_owned();
            }
            server.stdout.push(line);
        }
        server
    }

    /// Every line printed so far.
    fn lines(&mut self) -> &[String] {
        self.stdout.extend(self.lines.try_iter());
        &self.stdout
    }

    fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("pki").join(file)
    }

    /// Fetches `path` with curl, presenting phone `as_phone`'s certificate when given.
    fn fetch(&self, path: &str, as_phone: Option<&str>) -> Fetched {
        let mut curl = Command::new("curl");
        curl.args(["--silent", "--show-error", "--max-time", "10", "--dump-header", "-"])
            .arg("--cacert")
            .arg(self.pki("server-ca.pem"));
        if let Some(mac) = as_phone {
            curl.arg("--cert")
                .arg(self.pki(&format!("devices/{mac}.pem")))
                .arg("--key")
                .arg(self.pki(&format!("devices/{mac}.key")));
        }
        let output = curl.arg(format!("{}{path}", self.url)).output().expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or(("", ""));
        Fetched {
            curl_exit: output.status.code(),
            status: head.split(' ').nth(1).and_then(|s| s.parse().ok()),
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug)]
struct Fetched {
    curl_exit: Option<i32>,
    status: Option<u16>,
    head: String,
    body: String,
}

impl Fetched {
    /// The lines that carry a secret: the SIP password and the phone's admin password.
    fn password_lines(&self) -> Vec<&str> {
        self.body.lines().filter(|line| line.starts_with("account.1.password")).collect()
    }

    fn admin_password_line(&self) -> Option<&str> {
        self.body.lines().find(|line| line.starts_with("static.security.user_password"))
    }
}

/// Whether curl is available; says so loudly when it is not, and fails in CI.
fn have_curl() -> bool {
    if Command::new("curl").arg("--version").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "curl is required in CI (.ci/run installs it)");
    eprintln!("SKIPPED: curl not found; install curl to run the end-to-end tests");
    false
}

const PHONE_1: &str = "001565000001";
const PHONE_2: &str = "001565000002";

#[test]
fn phone_gets_its_password_once_then_a_config_without_it_after_the_grace() {
    if !have_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = DemoServer::start(dir.path(), 1);
    assert!(server.stdout.iter().any(|l| l.starts_with("Created a demo in")), "{:#?}", server.stdout);

    let first = server.fetch(&format!("/{PHONE_1}.cfg"), Some(PHONE_1));
    assert_eq!(first.status, Some(200), "{first:?}");
    assert!(first.head.contains("cache-control: no-store"), "{first:?}");
    assert!(first.body.starts_with("#!version:1.0.0.1\n"), "{first:?}");
    assert!(first.body.contains("account.1.user_name = 1001\n"), "{first:?}");
    let password = first.password_lines();
    assert_eq!(password.len(), 1, "{first:?}");
    let secret = password[0].strip_prefix("account.1.password = ").unwrap();
    assert_eq!(secret.len(), 22);
    let admin = first.admin_password_line().expect("a per-device admin password").to_owned();
    assert_ne!(admin, "static.security.user_password = admin:admin");
    assert!(first.head.contains("content-type: text/plain"), "{first:?}");
    assert!(first.body.contains("static.wui.http_enable = 0\n"), "hardened: {first:?}");

    // Whole-second timestamps: two seconds is always past a one-second grace.
    std::thread::sleep(Duration::from_millis(2100));
    let after = server.fetch(&format!("/{PHONE_1}.cfg"), Some(PHONE_1));
    assert_eq!(after.status, Some(200), "{after:?}");
    assert!(after.password_lines().is_empty(), "{after:?}");
    assert_eq!(after.admin_password_line(), None, "the admin password leaves with the SIP password");
    assert!(!after.body.contains(secret));
    assert!(after.body.contains("account.1.user_name = 1001\n"), "{after:?}");
}

#[test]
fn another_phones_file_unknown_paths_and_the_root_get_the_same_404() {
    if !have_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = DemoServer::start(dir.path(), 300);
    let unknown = server.fetch("/no-such-file.cfg", Some(PHONE_1));
    assert_eq!(unknown.status, Some(404), "{unknown:?}");
    assert!(!unknown.body.is_empty());
    for path in [
        format!("/{PHONE_2}.cfg"),
        "/".to_owned(),
        "/y000000000000.cfg".to_owned(),
        format!("/%30{}.cfg", &PHONE_1[1..]),
        format!("/..%2f{PHONE_1}.cfg"),
        format!("/{PHONE_1}.cfg%00"),
        "/001565000004.cfg".to_owned(),
    ] {
        let other = server.fetch(&path, Some(PHONE_1));
        assert_eq!(other.status, Some(404), "{path}: {other:?}");
        assert_eq!(other.body, unknown.body, "{path}");
        assert!(other.password_lines().is_empty());
    }
    // The phone's own file still works: the mismatch consumed nothing.
    let own = server.fetch(&format!("/{PHONE_1}.cfg"), Some(PHONE_1));
    assert_eq!(own.status, Some(200), "{own:?}");
    assert_eq!(own.password_lines().len(), 1, "{own:?}");
}

#[test]
fn no_client_certificate_is_refused_at_the_tls_layer() {
    if !have_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = DemoServer::start(dir.path(), 300);
    let anonymous = server.fetch(&format!("/{PHONE_1}.cfg"), None);
    assert_eq!(anonymous.status, None, "no HTTP response at all: {anonymous:?}");
    assert_ne!(anonymous.curl_exit, Some(0), "{anonymous:?}");
    assert!(anonymous.body.is_empty());
    // The refused attempt consumed nothing: the phone still gets its password.
    let phone = server.fetch(&format!("/{PHONE_1}.cfg"), Some(PHONE_1));
    assert_eq!(phone.password_lines().len(), 1, "{phone:?}");
}

#[test]
fn rerunning_the_demo_reuses_its_directory_and_database() {
    if !have_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let first_password = {
        let server = DemoServer::start(dir.path(), 300);
        server.fetch(&format!("/{PHONE_2}.cfg"), Some(PHONE_2)).password_lines().concat()
    };
    assert!(first_password.starts_with("account.1.password = "));
    let server = DemoServer::start(dir.path(), 300);
    assert!(server.stdout.iter().any(|l| l.starts_with("Reusing the existing demo in")), "{:#?}", server.stdout);
    let again = server.fetch(&format!("/{PHONE_2}.cfg"), Some(PHONE_2));
    assert_eq!(
        again.password_lines().concat(),
        first_password,
        "same database, same phone, inside the grace: {again:?}"
    );
}

#[test]
fn the_demo_prints_a_cli_command_that_works_with_its_admin_token() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mut server = DemoServer::start(dir.path(), 300);
    // The banner comes after the phone URL line; wait for the CLI line to be read.
    let mut cli_line = None;
    for _ in 0..100 {
        cli_line = server.lines().iter().find(|l| l.trim_start().starts_with("cargo run -q -p sipprov --")).cloned();
        if cli_line.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let cli_line = cli_line.expect("the demo prints how to use the CLI");
    let token = dir.path().join("admin.token");
    assert_eq!(std::fs::metadata(&token).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(dir.path().join("pki").join("server-ca.pem").exists());

    // Run the printed command with the built binary instead of `cargo run`.
    let args: Vec<&str> = cli_line.split_whitespace().skip_while(|word| *word != "--").skip(1).collect();
    let sipprov = Path::new(env!("CARGO_BIN_EXE_sipprovd")).with_file_name("sipprov");
    let listed = Command::new(sipprov).args(&args).arg("--json").output().unwrap();
    assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
    let devices: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let macs: Vec<_> = devices["devices"].as_array().unwrap().iter().map(|d| d["mac"].as_str().unwrap()).collect();
    assert_eq!(macs, [PHONE_1, PHONE_2, "001565000003"]);
}

/// Item 12: the demo's `sipprov.toml` holds the addresses and grace it ran with, so `sipprovd
/// run --config` comes up the same; and everything it writes is private to its user.
#[test]
fn the_demo_writes_what_it_runs_with_and_keeps_every_file_private() {
    use std::os::unix::fs::PermissionsExt;
    if !have_curl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let demo_dir = dir.path().join("demo");
    let (url, admin_url) = {
        let mut server = DemoServer::start(&demo_dir, 7);
        let mut admin = None;
        for _ in 0..100 {
            admin = server.lines().iter().find_map(|l| l.strip_prefix("Admin API on ")).map(str::to_owned);
            if admin.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let admin = admin.expect("the admin address is printed");
        let admin = admin.split(';').next().unwrap().to_owned();
        assert_eq!(server.fetch(&format!("/{PHONE_1}.cfg"), Some(PHONE_1)).status, Some(200));
        (server.url.clone(), admin)
    };
    let config = std::fs::read_to_string(demo_dir.join("sipprov.toml")).unwrap();
    let phones = url.trim_start_matches("https://");
    let admin = admin_url.trim_start_matches("https://");
    for line in [
        format!("listen = \"{phones}\""),
        format!("listen = \"{admin}\""),
        "grace_seconds = 7".to_owned(),
        format!("provisioning_url = \"{url}\""),
    ] {
        assert!(config.lines().any(|l| l == line), "{line} in:\n{config}");
    }

    // Directories 0700, files 0600, the database's WAL and shared memory included.
    let mut checked = 0;
    let mut pending = vec![demo_dir.clone()];
    while let Some(path) = pending.pop() {
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        if path.is_dir() {
            assert_eq!(mode, 0o700, "{}", path.display());
            pending.extend(std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()));
        } else {
            assert_eq!(mode, 0o600, "{}", path.display());
        }
        checked += 1;
    }
    assert!(checked >= 14, "the PKI, key, token, config and database files were all checked: {checked}");
    for file in ["sipprov.db", "sipprov.db-wal", "sipprov.db-shm"] {
        assert!(demo_dir.join(file).exists(), "{file}");
    }

    // `sipprovd run` from the file serves where the demo did.
    let mut run = Command::new(env!("CARGO_BIN_EXE_sipprovd"))
        .args(["run", "--config"])
        .arg(demo_dir.join("sipprov.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    let stderr = BufReader::new(run.stderr.take().unwrap());
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut serving = None;
    while serving.is_none() && std::time::Instant::now() < deadline {
        match lines_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.contains(": serving") => serving = Some(line),
            _ => {}
        }
    }
    let _ = run.kill();
    let _ = run.wait();
    let serving = serving.expect("sipprovd run started");
    assert!(serving.contains(phones) && serving.contains(admin), "{serving}");
}
