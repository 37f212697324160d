//! The daemon the end-to-end tests drive: `sipprovd run` from a demo directory, its output
//! collected, and the real clients (`curl`, the `sipprov` CLI) pointed at it.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different part

pub mod kamailio;
pub mod linphone;
pub mod phone_ca;
pub mod prometheus;
pub mod webdriver;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A daemon started with `sipprovd run` from a demo directory whose database was cleared.
pub struct Daemon {
    pub child: Child,
    pub dir: PathBuf,
    pub phones: String,
    pub admin: String,
    pub admin_token: String,
    pub auditor_token: String,
    /// Every line the daemon wrote, stdout and stderr.
    pub output: Arc<Mutex<Vec<String>>>,
}

/// Adds `tables` (whole TOML tables) to the end of the prepared directory's `sipprov.toml`.
pub fn append_config(dir: &Path, tables: &str) {
    let path = dir.join("sipprov.toml");
    let mut config = std::fs::read_to_string(&path).unwrap();
    config.push('\n');
    config.push_str(tables);
    std::fs::write(path, config).unwrap();
}

impl Daemon {
    pub fn start(dir: &Path) -> Self {
        Self::start_with(dir, |_| {})
    }

    /// Starts after `edit` has changed the prepared directory (config, files).
    pub fn start_with(dir: &Path, edit: impl FnOnce(&Path)) -> Self {
        prepare_demo(dir);
        edit(dir);
        let token = |role: &str| {
            let output =
                sipprovd(&["token", "create", "--role", role, "--name", &format!("e2e-{role}"), "--config"], dir);
            assert!(output.status.success(), "token create: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).unwrap().trim().to_owned()
        };
        let (admin_token, auditor_token) = (token("admin"), token("auditor"));
        Self::run(dir, admin_token, auditor_token)
    }

    /// A second node: `sipprovd run` with this daemon's directory and config (so its store, its
    /// keys and its tokens), on ports of its own.
    pub fn another_node(&self) -> Self {
        Self::run(&self.dir, self.admin_token.clone(), self.auditor_token.clone())
    }

    /// `sipprovd run` in a prepared directory, with tokens created already.
    pub fn run(dir: &Path, admin_token: String, auditor_token: String) -> Self {
        Self::run_with_env::<&str, &str>(&[], dir, admin_token, auditor_token)
    }

    /// [`Daemon::run`] with `env` added to its environment (e.g. libfaketime's).
    pub fn run_with_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        env: &[(K, V)],
        dir: &Path,
        admin_token: String,
        auditor_token: String,
    ) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sipprovd"));
        command
            .envs(env.iter().map(|(key, value)| (key, value)))
            .args(["run", "--config"])
            .arg(dir.join("sipprov.toml"));
        Self::spawn(command, dir, admin_token, auditor_token)
    }

    /// Starts `command`, which must end up as `sipprovd run` in its own process (a wrapper
    /// `exec`s it), and waits until it serves.
    pub fn spawn(mut command: Command, dir: &Path, admin_token: String, auditor_token: String) -> Self {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start sipprovd run");
        let output = Arc::new(Mutex::new(Vec::new()));
        let (lines_tx, lines_rx) = mpsc::channel::<String>();
        for stream in
            [Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>, Box::new(child.stderr.take().unwrap())]
        {
            let (output, lines_tx) = (Arc::clone(&output), lines_tx.clone());
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    output.lock().unwrap().push(line.clone());
                    let _ = lines_tx.send(line);
                }
            });
        }
        let mut daemon = Self {
            child,
            dir: dir.to_owned(),
            phones: String::new(),
            admin: String::new(),
            admin_token,
            auditor_token,
            output,
        };
        while daemon.phones.is_empty() {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("sipprovd run did not start: {:#?}", daemon.output.lock().unwrap()));
            let Ok(log) = serde_json::from_str::<Value>(&line) else { continue };
            if log["message"] == "serving" {
                daemon.phones = format!("https://{}", log["phones"].as_str().unwrap());
                daemon.admin = format!("https://{}", log["admin"].as_str().unwrap());
            }
        }
        daemon
    }

    /// `curl` with `args`, trusting the demo's server CA; returns (status, headers and body), the
    /// status 0 when no HTTP answer came.
    pub fn curl(&self, args: &[&str]) -> (u16, String) {
        let output = Command::new("curl")
            .args(["--silent", "--max-time", "10", "--include", "--write-out", "\n%{http_code}", "--cacert"])
            .arg(self.pki("server-ca.pem"))
            .args(args)
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (response, status) = text.rsplit_once('\n').unwrap_or(("", ""));
        (status.parse().unwrap_or(0), response.to_owned())
    }

    pub fn pki(&self, file: &str) -> PathBuf {
        self.dir.join("pki").join(file)
    }

    /// Runs the `sipprov` CLI against this daemon with `token`.
    pub fn cli(&self, token: &str, args: &[&str]) -> Output {
        let sipprov = Path::new(env!("CARGO_BIN_EXE_sipprovd")).with_file_name("sipprov");
        assert!(sipprov.exists(), "{} is missing: run `cargo test --workspace`, which builds it", sipprov.display());
        Command::new(sipprov)
            .args(["--url", &self.admin, "--ca"])
            .arg(self.pki("server-ca.pem"))
            .env("SIPPROV_TOKEN", token)
            .args(args)
            .output()
            .expect("run sipprov")
    }

    /// `curl` on the phone listener presenting `cert`/`key`; returns (status, body).
    pub fn fetch(&self, path: &str, cert: &Path, key: &Path) -> (Option<u16>, String) {
        self.fetch_from("127.0.0.1", path, cert, key)
    }

    /// [`Daemon::fetch`] from the loopback address `source` (any of 127.0.0.0/8).
    pub fn fetch_from(&self, source: &str, path: &str, cert: &Path, key: &Path) -> (Option<u16>, String) {
        self.fetch_with(source, path, cert, key, "curl")
    }

    /// Demo phone `mac` fetching `path` with the User-Agent `user_agent`.
    pub fn fetch_as_phone_with_agent(&self, mac: &str, path: &str, user_agent: &str) -> (Option<u16>, String) {
        let devices = self.dir.join("pki").join("devices");
        let (cert, key) = (devices.join(format!("{mac}.pem")), devices.join(format!("{mac}.key")));
        self.fetch_with("127.0.0.1", path, &cert, &key, user_agent)
    }

    fn fetch_with(&self, source: &str, path: &str, cert: &Path, key: &Path, user_agent: &str) -> (Option<u16>, String) {
        let output = Command::new("curl")
            .args(["--silent", "--max-time", "10", "--write-out", "\n%{http_code}", "--interface", source])
            .args(["--user-agent", user_agent])
            .arg("--cacert")
            .arg(self.pki("server-ca.pem"))
            .arg("--cert")
            .arg(cert)
            .arg("--key")
            .arg(key)
            .arg(format!("{}{path}", self.phones))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap_or(("", ""));
        (status.parse().ok().filter(|s| *s != 0), body.to_owned())
    }

    pub fn fetch_as_phone(&self, mac: &str) -> (Option<u16>, String) {
        self.fetch_as_phone_from("127.0.0.1", mac)
    }

    /// Demo phone `mac` fetching its own file from the loopback address `source`.
    pub fn fetch_as_phone_from(&self, source: &str, mac: &str) -> (Option<u16>, String) {
        let devices = self.dir.join("pki").join("devices");
        let (cert, key) = (devices.join(format!("{mac}.pem")), devices.join(format!("{mac}.key")));
        self.fetch_from(source, &format!("/{mac}.cfg"), &cert, &key)
    }

    /// A call of the admin API with the admin token: (status, JSON body or `null`).
    pub fn admin(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let output = Command::new("curl")
            .args(["--silent", "--max-time", "10", "--write-out", "\n%{http_code}", "-X", method, "--cacert"])
            .arg(self.pki("server-ca.pem"))
            .args(["-H", &format!("Authorization: Bearer {}", self.admin_token)])
            .args(["-H", "Content-Type: application/json", "--data", &body.to_string()])
            .arg(format!("{}{path}", self.admin))
            .output()
            .expect("run curl");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let (body, status) = text.rsplit_once('\n').unwrap();
        (status.parse().unwrap(), serde_json::from_str(body).unwrap_or(Value::Null))
    }

    /// Enrols `mac` with SIP user `user` through the CLI.
    pub fn enrol(&self, mac: &str, user: &str) {
        let added = self.cli(&self.admin_token, &["device", "add", mac, "--user", user]);
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    }

    /// The Prometheus text of `/metrics`, read with the auditor token.
    pub fn metrics(&self) -> String {
        let output = Command::new("curl")
            .args(["--silent", "--max-time", "10", "--cacert"])
            .arg(self.pki("server-ca.pem"))
            .args(["-H", &format!("Authorization: Bearer {}", self.auditor_token)])
            .arg(format!("{}/metrics", self.admin))
            .output()
            .expect("run curl");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(status.success(), "kill -{name}");
    }

    pub fn log_contains(&self, needle: &str) -> bool {
        self.output.lock().unwrap().iter().any(|line| line.contains(needle))
    }

    pub fn all_output(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A demo directory (PKI, sealing key, config) with an empty database and JSON logs on free ports.
pub fn prepare_demo(dir: &Path) {
    let mut demo = Command::new(env!("CARGO_BIN_EXE_sipprovd"))
        .args(["demo", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(demo.stdout.take().unwrap());
    for line in stdout.lines().map_while(Result::ok) {
        if line.starts_with("Press Ctrl-C") {
            break;
        }
    }
    demo.kill().unwrap();
    demo.wait().unwrap();
    for file in ["sipprov.db", "sipprov.db-wal", "sipprov.db-shm", "admin.token"] {
        let _ = std::fs::remove_file(dir.join(file));
    }
    // The demo recorded the ports it was given; each run here picks free ones again.
    let config_path = dir.join("sipprov.toml");
    let config: Vec<String> = std::fs::read_to_string(&config_path)
        .unwrap()
        .lines()
        .map(|line| match line {
            _ if line.starts_with("listen = ") => "listen = \"127.0.0.1:0\"".to_owned(),
            "format = \"text\"" => "format = \"json\"".to_owned(),
            _ => line.to_owned(),
        })
        .collect();
    std::fs::write(&config_path, config.join("\n")).unwrap();
}

/// The SIP password of the first account in a Grandstream config: `P34` on a desk phone, `P4120`
/// on an ATA (a User-Agent naming an HT8xx picks that layout).
pub fn grandstream_password(config: &str) -> Option<String> {
    ["P34", "P4120"].iter().find_map(|key| {
        let start = config.find(&format!("<{key}>"))? + key.len() + 2;
        let end = config[start..].find(&format!("</{key}>"))? + start;
        Some(config[start..end].to_owned())
    })
}

/// The environment that runs a program on a clock moved by `offset` (libfaketime's syntax:
/// `+15d`, `-1h`), or, with `file`, on the offset written in that file, read again at every
/// clock reading (so a test can jump the clock of a running daemon). Only the wall clock moves:
/// timers and timeouts keep the real monotonic clock, as an NTP step leaves them. `None`, loudly
/// outside CI, when libfaketime (Debian's `faketime`) is not installed.
pub fn faketime(offset: &str, file: Option<&Path>) -> Option<Vec<(&'static str, String)>> {
    let library =
        Path::new("/usr/lib").join(format!("{}-linux-gnu", std::env::consts::ARCH)).join("faketime/libfaketime.so.1");
    if !library.exists() {
        assert!(std::env::var_os("CI").is_none(), "libfaketime required in CI (.ci/run installs faketime)");
        eprintln!("SKIPPED: {} not found; install Debian's faketime to run this test", library.display());
        return None;
    }
    let mut env = vec![("LD_PRELOAD", library.display().to_string()), ("DONT_FAKE_MONOTONIC", "1".to_owned())];
    match file {
        Some(file) => {
            std::fs::write(file, offset).unwrap();
            env.push(("FAKETIME_TIMESTAMP_FILE", file.display().to_string()));
            env.push(("FAKETIME_NO_CACHE", "1".to_owned()));
        }
        None => env.push(("FAKETIME", offset.to_owned())),
    }
    Some(env)
}

pub fn sipprovd(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sipprovd")).args(args).arg(dir.join("sipprov.toml")).output().unwrap()
}

pub fn have_tools() -> bool {
    let missing: Vec<_> =
        ["curl", "openssl"].into_iter().filter(|tool| Command::new(tool).arg("version").output().is_err()).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{missing:?} required in CI (.ci/run installs them)");
    eprintln!("SKIPPED: {missing:?} not found; install them to run the operations end-to-end tests");
    false
}

pub fn json_of(output: &Output) -> Value {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A TCP connection to `addr` (`host:port`) from the loopback address `source` (any of
/// 127.0.0.0/8), so tests can play clients from several networks.
pub fn connect_from(source: &str, addr: &str) -> std::io::Result<std::net::TcpStream> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build()?;
    let (source, addr): (std::net::IpAddr, std::net::SocketAddr) = (source.parse().unwrap(), addr.parse().unwrap());
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(std::net::SocketAddr::new(source, 0))?;
        socket.connect(addr).await
    })?;
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// A TLS connection to the phone listener from `source`, presenting demo phone `mac`'s
/// certificate, with its handshake completed.
pub fn phone_tls(
    daemon: &Daemon,
    mac: &str,
    source: &str,
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    phone_tls_after(daemon, mac, source, &[])
}

/// [`phone_tls`], sending `prefix` in the clear first (a PROXY protocol header).
pub fn phone_tls_after(
    daemon: &Daemon,
    mac: &str,
    source: &str,
    prefix: &[u8],
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    let devices = daemon.dir.join("pki").join("devices");
    let (cert, key) = (devices.join(format!("{mac}.pem")), devices.join(format!("{mac}.key")));
    tls_as(daemon, &cert, &key, source, prefix, &[])
}

/// A TLS connection to the phone listener from `source`, presenting the certificate `cert` with
/// its key `key` (PEM files), sending `prefix` in the clear first and offering the ALPN
/// protocols `alpn`, with its handshake completed.
pub fn tls_as(
    daemon: &Daemon,
    cert: &Path,
    key: &Path,
    source: &str,
    prefix: &[u8],
    alpn: &[&[u8]],
) -> std::io::Result<rustls::StreamOwned<rustls::ClientConnection, std::net::TcpStream>> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::io::Write;
    let chain = vec![CertificateDer::from_pem_file(cert).unwrap()];
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from_pem_file(daemon.pki("server-ca.pem")).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    let mut connection =
        rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let mut tcp = connect_from(source, daemon.phones.trim_start_matches("https://"))?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    tcp.write_all(prefix)?;
    while connection.is_handshaking() {
        connection.complete_io(&mut tcp)?;
    }
    Ok(rustls::StreamOwned::new(connection, tcp))
}

/// A TCP port on loopback free at the time of asking (for a listener whose address must be
/// known before it starts, such as a URL in a config file).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
