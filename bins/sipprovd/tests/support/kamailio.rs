//! A real Kamailio (Debian's `kamailio`) as the registrar, on a throw-away PostgreSQL database
//! with Kamailio's own schema, run with `examples/kamailio/kamailio.cfg`; and `sipp` playing
//! a phone that registers at it.

use std::net::UdpSocket;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sipprov_store_postgres::TestDatabase;

/// Kamailio's PostgreSQL schema files, as Debian installs them.
const SCHEMA: &str = "/usr/share/kamailio/postgres";

/// A running Kamailio, stopped (with its children) when dropped.
pub struct Kamailio {
    child: Child,
    /// Its UDP port on 127.0.0.1.
    pub port: u16,
    /// Its database: the `subscriber` table sipprov writes.
    pub db: TestDatabase,
    dir: tempfile::TempDir,
}

/// Whether `kamailio`, its PostgreSQL module, `sipp` and `psql` are here; loudly `false`
/// outside CI when not (in CI they must be: `.ci/run` installs them).
pub fn available(test: &str) -> bool {
    let missing: Vec<&str> = [
        ("kamailio", Path::new("/usr/sbin/kamailio").exists()),
        ("kamailio-postgres-modules", Path::new(SCHEMA).join("auth_db-create.sql").exists()),
        ("sip-tester (sipp)", Command::new("sipp").arg("-v").output().is_ok()),
        ("psql", Command::new("psql").arg("--version").output().is_ok()),
    ]
    .into_iter()
    .filter_map(|(tool, here)| (!here).then_some(tool))
    .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{missing:?} required in CI (.ci/run installs them)");
    eprintln!("SKIPPED {test}: {missing:?} not installed (Debian: kamailio kamailio-postgres-modules sip-tester)");
    false
}

/// A free UDP port on 127.0.0.1 (free when asked: the caller binds it at once).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Kamailio {
    /// Kamailio on a fresh database, or `None` when no test database is configured.
    pub fn start(test: &str) -> Option<Self> {
        let db = TestDatabase::for_test(test)?;
        for file in ["standard-create.sql", "auth_db-create.sql"] {
            let sql = std::fs::read_to_string(Path::new(SCHEMA).join(file)).unwrap();
            db.execute(&sql).unwrap_or_else(|e| panic!("{file}: {e}"));
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/kamailio/kamailio.cfg");
        let log = std::fs::File::create(dir.path().join("kamailio.log")).unwrap();
        let child = Command::new("/usr/sbin/kamailio")
            .arg("-f")
            .arg(&config)
            .args(["-DD", "-E", "-m", "64", "-M", "8", "-l", &format!("udp:127.0.0.1:{port}")])
            .arg("-A")
            .arg(format!("DBURL=\"{}\"", db.url()))
            .arg("-w")
            .arg(dir.path())
            .arg("-Y")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            // Its own process group, so the children it forks stop with it.
            .process_group(0)
            .spawn()
            .expect("start kamailio");
        let kamailio = Self { child, port, db, dir };
        kamailio.wait_until_listening();
        Some(kamailio)
    }

    /// Waits until Kamailio answers on its port (an OPTIONS gets 403 from this configuration).
    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let local = socket.local_addr().unwrap();
        let options = format!(
            "OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-probe{n}\r\n\
             From: <sip:probe@127.0.0.1>;tag=p\r\nTo: <sip:127.0.0.1:{port}>\r\nCall-ID: probe-{n}@127.0.0.1\r\n\
             CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
            port = self.port,
            n = std::process::id()
        );
        let mut answer = [0u8; 2048];
        loop {
            socket.send_to(options.as_bytes(), ("127.0.0.1", self.port)).unwrap();
            if socket.recv(&mut answer).is_ok() {
                return;
            }
            assert!(Instant::now() < deadline, "kamailio did not start: {}", self.log());
        }
    }

    /// What Kamailio logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default()
    }

    /// `user`'s subscriber row in `realm`: (password, ha1, ha1b), or `None` if there is none.
    pub fn subscriber(&self, user: &str, realm: &str) -> Option<(String, String, String)> {
        let sql = format!(
            "SELECT password, ha1, ha1b FROM subscriber WHERE username = '{}' AND domain = '{}'",
            user.replace('\'', "''"),
            realm.replace('\'', "''")
        );
        let rows = psql(self.db.url(), &sql);
        let line = rows.lines().next()?;
        let mut fields = line.split('|').map(str::to_owned);
        Some((fields.next()?, fields.next()?, fields.next()?))
    }

    /// Every user name in the subscriber table, sorted.
    pub fn users(&self) -> Vec<String> {
        psql(self.db.url(), "SELECT username FROM subscriber ORDER BY username").lines().map(str::to_owned).collect()
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-TERM", "--", &group]).stderr(Stdio::null()).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
    }
}

/// Runs `sql` with `psql` on `url`; its rows, one per line, fields joined by `|`.
pub fn psql(url: &str, sql: &str) -> String {
    let output =
        Command::new("psql").args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql]).output().unwrap();
    assert!(output.status.success(), "psql {sql}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// What a phone played by `sipp` got when it registered.
#[derive(Debug)]
pub struct Registration {
    /// The scenario ended with `200 OK`.
    pub registered: bool,
    /// The status codes of the responses it received, in order.
    pub statuses: Vec<u16>,
}

/// `sipp` registers `user` with `password` at Kamailio (digest authentication, UDP), as a
/// phone would (`bins/sipprovd/tests/sipp/register.xml`).
pub fn register(kamailio: &Kamailio, user: &str, password: &str) -> Registration {
    let dir = tempfile::tempdir().unwrap();
    let output =
        sipp(kamailio, &scenario("register.xml"), None, (user, password), 15, dir.path()).output().expect("run sipp");
    let messages = dir.path().join("messages.log");
    let log = std::fs::read_to_string(&messages).unwrap_or_default();
    let statuses = log
        .lines()
        .filter_map(|line| line.strip_prefix("SIP/2.0 "))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect();
    Registration { registered: output.status.success(), statuses }
}

/// `sipp` as a phone registering `user` with digest password `password` at Kamailio (UDP),
/// running `scenario` once in `dir` (`out_of_call` answering requests of other calls), its
/// messages traced to `dir/messages.log`; it gives up after `timeout` seconds.
fn sipp(
    kamailio: &Kamailio,
    scenario: &Path,
    out_of_call: Option<&Path>,
    (user, password): (&str, &str),
    timeout: u32,
    dir: &Path,
) -> Command {
    let mut command = Command::new("sipp");
    command.arg("-sf").arg(scenario);
    if let Some(out_of_call) = out_of_call {
        command.arg("-oocsf").arg(out_of_call);
    }
    command
        .args(["-s", user, "-au", user, "-ap", password, "-m", "1", "-i", "127.0.0.1"])
        .args(["-p", &free_udp_port().to_string(), "-t", "u1", "-timeout", &timeout.to_string()])
        .args(["-nostdin", "-trace_msg", "-message_file"])
        .arg(dir.join("messages.log"))
        .arg(format!("127.0.0.1:{}", kamailio.port))
        .current_dir(dir);
    command
}

/// A sipp scenario of the tests.
pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp").join(name)
}

/// A phone played by `sipp`, registered at Kamailio for a minute, answering NOTIFYs.
pub struct RegisteredPhone {
    child: std::process::Child,
    messages: PathBuf,
    _dir: tempfile::TempDir,
}

impl RegisteredPhone {
    /// Registers `user` with `password`; a NOTIFY that then arrives is answered with `answer`
    /// (`200 OK`, `489 Bad Event`). Returns once registered.
    pub fn start(kamailio: &Kamailio, user: &str, password: &str, answer: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let answers = std::fs::read_to_string(scenario("phone_answers_notify.xml")).unwrap();
        let answers_file = dir.path().join("phone_answers_notify.xml");
        std::fs::write(&answers_file, answers.replace("ANSWER_STATUS", answer)).unwrap();
        let child =
            sipp(kamailio, &scenario("registered_phone.xml"), Some(&answers_file), (user, password), 70, dir.path())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("run sipp");
        let messages = dir.path().join("messages.log");
        let phone = Self { child, messages, _dir: dir };
        super::wait_until(&format!("{user} is registered"), || phone.messages().contains("SIP/2.0 200 OK"));
        phone
    }

    /// What it sent and received so far.
    pub fn messages(&self) -> String {
        std::fs::read_to_string(&self.messages).unwrap_or_default()
    }

    /// The `Event` of every NOTIFY it received, in order.
    pub fn notify_events(&self) -> Vec<String> {
        let messages = self.messages();
        let notifies = messages.split("NOTIFY sip:").skip(1);
        let event = |message: &str| {
            let line = message.lines().find(|line| line.starts_with("Event:"))?;
            Some(line.trim_start_matches("Event:").trim().to_owned())
        };
        notifies.filter_map(event).collect()
    }
}

impl Drop for RegisteredPhone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
