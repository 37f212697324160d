//! The Debian package as an operations team meets it: built with `cargo deb` from this build's
//! binaries, its contents checked with `dpkg-deb`, its unit with `systemd-analyze` (verify, and
//! the security score), and the daemon started from the extracted package the way the unit
//! starts it: `ExecStartPre` check, `ExecStart` with the sealing key as a systemd credential,
//! readiness, watchdog and reload status on a notify socket. Then a byte-order-marked CSV is
//! imported with the packaged CLI, `/metrics` is parsed strictly and every log line as JSON.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{prepare_demo, prometheus, wait_until};

/// What the test needs beyond curl and openssl: the packaging and systemd tools.
fn have_packaging_tools() -> bool {
    let probes: [(&str, &[&str]); 4] = [
        ("cargo-deb", &["--version"]),
        ("dpkg-deb", &["--version"]),
        ("systemd-analyze", &["--version"]),
        ("curl", &["--version"]),
    ];
    let missing: Vec<_> = probes
        .iter()
        .filter(|(tool, args)| Command::new(tool).args(*args).output().is_err())
        .map(|(t, _)| *t)
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{missing:?} required in CI (.ci/run installs them)");
    eprintln!(
        "SKIPPED: {missing:?} not found; `cargo install cargo-deb --locked` and Debian's dpkg and systemd run this test"
    );
    false
}

fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The workspace root, where `cargo deb` runs.
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The package, built once for every test of this file (they run in parallel, and share the
/// assets directory).
fn package() -> &'static Path {
    static PACKAGE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PACKAGE.get_or_init(|| {
        let binaries = Path::new(env!("CARGO_BIN_EXE_sipprovd")).parent().unwrap();
        build_package(&binaries.join("packaging-test"))
    })
}

/// Builds the package from the binaries this test was built with (the `dev` profile): the man
/// pages and completions they generate, then `cargo deb --no-build`, as `scripts/build-deb.sh`.
fn build_package(out: &Path) -> PathBuf {
    let binaries = Path::new(env!("CARGO_BIN_EXE_sipprovd")).parent().unwrap().to_owned();
    let assets = binaries.join("packaging");
    let _ = std::fs::remove_dir_all(&assets);
    std::fs::create_dir_all(assets.join("completions")).unwrap();
    for binary in ["sipprovd", "sipprov"] {
        let path = binaries.join(binary);
        run(Command::new(&path).arg("manpages").arg(assets.join("man")));
        for (shell, file) in
            [("bash", format!("{binary}.bash")), ("zsh", format!("_{binary}")), ("fish", format!("{binary}.fish"))]
        {
            let script = run(Command::new(&path).args(["completions", shell]));
            std::fs::write(assets.join("completions").join(file), script.stdout).unwrap();
        }
    }
    let built = run(Command::new("cargo")
        .current_dir(workspace())
        .args(["deb", "-p", "sipprovd", "--no-build", "--locked", "--profile", "dev", "--fast", "-o"])
        .arg(out));
    let path = text(&built).lines().last().unwrap().trim().to_owned();
    assert!(path.ends_with(".deb") && Path::new(&path).exists(), "{}", text(&built));
    assert!(Path::new(&path).file_name().unwrap().to_str().unwrap().starts_with("sipprov_"), "{path}");
    PathBuf::from(path)
}

#[test]
fn the_package_installs_a_daemon_that_runs_the_way_its_unit_starts_it() {
    if !have_packaging_tools() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let deb = package();

    // What the package holds, and how dpkg installs it.
    let listing = text(&run(Command::new("dpkg-deb").arg("-c").arg(deb)));
    for path in [
        "./usr/bin/sipprovd",
        "./usr/bin/sipprov",
        "./usr/lib/systemd/system/sipprovd.service",
        "./etc/sipprov/sipprov.toml",
        "./usr/share/man/man1/sipprovd.1",
        "./usr/share/man/man1/sipprov-device-import.1",
        "./usr/share/bash-completion/completions/sipprov",
        "./usr/share/zsh/vendor-completions/_sipprovd",
        "./usr/share/fish/vendor_completions.d/sipprov.fish",
        "./usr/share/doc/sipprov/operations.md",
    ] {
        assert!(listing.lines().any(|line| line.ends_with(path)), "{path} is not in the package:\n{listing}");
    }
    assert!(listing.lines().any(|l| l.starts_with("-rwxr-xr-x 0/0") && l.ends_with("./usr/bin/sipprovd")));
    assert!(listing.lines().any(|l| l.starts_with("-rw-r----- 0/0") && l.ends_with("./etc/sipprov/sipprov.toml")));
    let control = text(&run(Command::new("dpkg-deb").args(["-f"]).arg(deb)));
    assert!(control.contains("Package: sipprov\n") && control.contains("adduser"), "{control}");
    let meta = scratch.path().join("DEBIAN");
    run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(&meta));
    assert_eq!(std::fs::read_to_string(meta.join("conffiles")).unwrap().trim(), "/etc/sipprov/sipprov.toml");
    let postinst = std::fs::read_to_string(meta.join("postinst")).unwrap();
    assert!(
        postinst.contains("adduser --system") && postinst.contains("sipprovd keygen /etc/sipprov/keys/sealing.key")
    );
    for script in ["postinst", "postrm", "prerm"] {
        run(Command::new("sh").arg("-n").arg(meta.join(script)));
    }

    let root = scratch.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    let version = text(&run(Command::new(root.join("usr/bin/sipprovd")).arg("--version")));
    assert!(version.starts_with("sipprovd 0.") && version.contains("(commit "), "{version}");

    // The unit: valid, and hardened to systemd's "OK" (exposure 2.0 or less).
    let unit = std::fs::read_to_string(root.join("usr/lib/systemd/system/sipprovd.service")).unwrap();
    let rooted = |text: &str| text.replace("/usr/bin/", &format!("{}/usr/bin/", root.display()));
    let unit_copy = scratch.path().join("sipprovd.service");
    std::fs::write(&unit_copy, rooted(&unit)).unwrap();
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_copy)
        .env("MANPATH", root.join("usr/share/man"))
        .output()
        .unwrap();
    assert!(verified.status.success() && verified.stderr.is_empty(), "{verified:?}");
    let security =
        Command::new("systemd-analyze").args(["security", "--offline=true"]).arg(&unit_copy).output().unwrap();
    let security = text(&security);
    let exposure: f64 = security
        .lines()
        .find_map(|line| line.split("Overall exposure level for sipprovd.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|score| score.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{security}"));
    assert!(exposure <= 2.0, "exposure {exposure}:\n{security}");
    let directive = |name: &str| -> Vec<String> {
        unit.lines().filter_map(|line| line.strip_prefix(&format!("{name}="))).map(str::to_owned).collect()
    };
    assert_eq!(directive("Type"), ["notify"]);
    assert_eq!(directive("LoadCredential"), ["sealing.key:/etc/sipprov/keys/sealing.key"]);

    // An installed system, as postinst leaves it, with this test's PKI in the operator's place.
    let pki = scratch.path().join("demo");
    prepare_demo(&pki);
    let etc = root.join("etc/sipprov");
    for (from, to) in
        [("pki/server.pem", "server.pem"), ("pki/server.key", "server.key"), ("pki/device-ca.pem", "ca/yealink.pem")]
    {
        std::fs::create_dir_all(etc.join(to).parent().unwrap()).unwrap();
        std::fs::copy(pki.join(from), etc.join(to)).unwrap();
    }
    std::fs::create_dir_all(root.join("var/lib/sipprov")).unwrap();
    let config = std::fs::read_to_string(etc.join("sipprov.toml"))
        .unwrap()
        .replace("/etc/sipprov/", &format!("{}/", etc.display()))
        .replace("/var/lib/sipprov/", &format!("{}/var/lib/sipprov/", root.display()))
        .replace("\"0.0.0.0:443\"", "\"127.0.0.1:0\"")
        .replace("\"127.0.0.1:8444\"", "\"127.0.0.1:0\"")
        .replace("rule = \"yealink\"", "rule = \"cn-mac\"")
        .replace("https://prov.example.net", "https://localhost");
    std::fs::write(etc.join("sipprov.toml"), config).unwrap();
    // postinst's key, then handed over as systemd hands a LoadCredential= file: the service
    // reads the credential, not the file (which is gone here).
    let sipprovd = root.join("usr/bin/sipprovd");
    std::fs::create_dir_all(etc.join("keys")).unwrap();
    run(Command::new(&sipprovd).arg("keygen").arg(etc.join("keys/sealing.key")));
    let credentials = scratch.path().join("credentials");
    std::fs::create_dir_all(&credentials).unwrap();
    std::fs::rename(etc.join("keys/sealing.key"), credentials.join("sealing.key")).unwrap();
    std::fs::set_permissions(credentials.join("sealing.key"), std::fs::Permissions::from_mode(0o400)).unwrap();
    // As root (CI), every unit command runs as an unprivileged service user, the way User=,
    // NoNewPrivileges= and an empty CapabilityBoundingSet= run it; the daemon itself also with
    // the file system read-only but for its state directory (ProtectSystem=strict,
    // StateDirectory=). The seccomp filter needs systemd itself: systemd-analyze checks it.
    let state = root.join("var/lib/sipprov");
    let sandboxed = is_root();
    if sandboxed {
        std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for path in [&etc, &state, &credentials] {
            chown_tree(path, SERVICE_USER);
        }
    } else {
        eprintln!("NOTE: not root: the unit's commands run as this user, without the sandbox");
    }
    let unit_command = |line: &str| -> Command {
        let mut words =
            line.split_whitespace().map(|word| word.replace("/etc/sipprov/", &format!("{}/", etc.display())));
        let program = rooted(&words.next().unwrap());
        let mut command = if sandboxed {
            let mut command = Command::new("setpriv");
            command.args(SERVICE_PRIVILEGES).arg(program);
            command
        } else {
            Command::new(program)
        };
        command.args(words).env("CREDENTIALS_DIRECTORY", &credentials);
        command
    };

    // ExecStartPre.
    let check = unit_command(&directive("ExecStartPre")[0]).output().unwrap();
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    // ExecStart, with what systemd gives a Type=notify service with WatchdogSec=.
    let notify_path = scratch.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    if sandboxed {
        std::os::unix::fs::chown(&notify_path, Some(SERVICE_USER), Some(SERVICE_USER)).unwrap();
    }
    let mut exec_start = unit_command(&directive("ExecStart")[0]);
    if sandboxed {
        let mut read_only = Command::new("unshare");
        read_only.args(["--mount", "--propagation", "private", "sh", "-c", READ_ONLY_BUT_STATE, "sh"]);
        read_only.arg(&state).arg(exec_start.get_program()).args(exec_start.get_args());
        exec_start = read_only;
    }
    let mut daemon = exec_start
        .env("CREDENTIALS_DIRECTORY", &credentials)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = collect(&mut daemon);
    let mut notices = Vec::new();
    let mut wait_for = |what: &str| -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(at) = notices.iter().position(|n: &String| n.contains(what)) {
                return notices.drain(..=at).next_back().unwrap();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} from the daemon; got {notices:?}; log:\n{}",
                log.lock().unwrap().join("\n")
            );
            let mut buffer = [0u8; 4096];
            if let Ok(n) = notify.recv(&mut buffer) {
                notices.push(String::from_utf8_lossy(&buffer[..n]).into_owned());
            }
        }
    };
    let ready = wait_for("READY=1");
    assert!(ready.contains("STATUS=serving phones on 127.0.0.1:"), "{ready}");
    wait_for("WATCHDOG=1");
    wait_for("WATCHDOG=1");
    if sandboxed {
        let status = std::fs::read_to_string(format!("/proc/{}/status", daemon.id())).unwrap();
        let uid = status.lines().find(|line| line.starts_with("Uid:")).unwrap();
        assert!(uid.split_whitespace().skip(1).all(|id| id == "65534"), "{uid}");
        assert!(status.lines().any(|line| line == "NoNewPrivs:\t1"), "{status}");
        assert!(status.lines().any(|line| line == "CapEff:\t0000000000000000"), "{status}");
        let database = std::fs::metadata(state.join("sipprov.db")).unwrap();
        assert_eq!(
            (std::os::unix::fs::MetadataExt::uid(&database), database.permissions().mode() & 0o777),
            (65534, 0o600)
        );
    }
    let serving = log_record(&log, "serving");
    let (phones, admin) = (
        format!("https://{}", serving["phones"].as_str().unwrap()),
        format!("https://{}", serving["admin"].as_str().unwrap()),
    );

    // The operator's first steps with the packaged CLI: a token, then Excel's CSV.
    let token = text(&run(&mut unit_command(
        "/usr/bin/sipprovd token create --role admin --name ops --config /etc/sipprov/sipprov.toml",
    )));
    let cli = |args: &[&str]| -> Output {
        Command::new(root.join("usr/bin/sipprov"))
            .args(["--url", &admin, "--ca"])
            .arg(pki.join("pki/server-ca.pem"))
            .env("SIPPROV_TOKEN", token.trim())
            .args(args)
            .output()
            .unwrap()
    };
    let csv = scratch.path().join("phones.csv");
    std::fs::write(
        &csv,
        "\u{feff}MAC;user_name;display_name\r\n00:15:65:00:00:01;1001;\"Empfang; vorne\"\r\n00:15:65:00:00:02;1002;Lager\r\n",
    )
    .unwrap();
    let imported = cli(&["device", "import", csv.to_str().unwrap()]);
    assert!(imported.status.success(), "{imported:?}");
    assert!(text(&imported).contains("2 rows: 2 created"), "{}", text(&imported));

    // A phone fetches; a client without a certificate does not.
    let devices = pki.join("pki/devices");
    let fetched = Command::new("curl")
        .args(["--silent", "--max-time", "10", "--cacert"])
        .arg(pki.join("pki/server-ca.pem"))
        .arg("--cert")
        .arg(devices.join("001565000001.pem"))
        .arg("--key")
        .arg(devices.join("001565000001.key"))
        .arg(format!("{phones}/001565000001.cfg"))
        .output()
        .unwrap();
    assert!(text(&fetched).contains("Empfang; vorne"), "{fetched:?}");
    let anonymous = Command::new("curl")
        .args(["--silent", "--max-time", "10", "--cacert"])
        .arg(pki.join("pki/server-ca.pem"))
        .arg(format!("{phones}/001565000001.cfg"))
        .output()
        .unwrap();
    assert!(!anonymous.status.success());

    // /metrics, parsed strictly.
    let scraped = Command::new("curl")
        .args(["--silent", "--fail", "--max-time", "10", "--cacert"])
        .arg(pki.join("pki/server-ca.pem"))
        .args(["-H", &format!("Authorization: Bearer {}", token.trim())])
        .arg(format!("{admin}/metrics"))
        .output()
        .unwrap();
    let metrics = prometheus::parse(&text(&scraped)).unwrap_or_else(|e| panic!("{e}\n{}", text(&scraped)));
    let value = |name: &str, labels: &[(&str, &str)]| {
        metrics.value(name, labels).unwrap_or_else(|| panic!("no {name}{labels:?} in:\n{}", text(&scraped)))
    };
    assert_eq!(value("sipprov_phone_requests_total", &[("outcome", "served_with_secrets")]), 1.0);
    assert_eq!(
        value("sipprov_phone_requests_total", &[("outcome", "refused_dormant")]),
        0.0,
        "every outcome from the start"
    );
    assert_eq!(value("sipprov_phone_request_duration_seconds_count", &[("outcome", "served_with_secrets")]), 1.0);
    assert_eq!(value("sipprov_tls_handshake_failures_total", &[("reason", "no_certificate")]), 1.0);
    assert_eq!(value("sipprov_tls_handshake_failures_total", &[("reason", "revoked")]), 0.0);
    assert!(value("sipprov_tls_handshake_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(value("sipprov_audit_events_total", &[("kind", "delivered")]), 1.0);
    assert_eq!(value("sipprov_audit_events_total", &[("kind", "purged")]), 0.0);
    assert_eq!(value("sipprov_devices", &[("state", "delivered")]), 1.0);
    assert_eq!(value("sipprov_devices", &[("state", "issued")]), 1.0);
    assert_eq!(
        value("sipprov_admin_requests_total", &[("method", "POST"), ("route", "/v1/import"), ("status", "2xx")]),
        1.0
    );
    assert!(value("sipprov_store_call_duration_seconds_count", &[]) >= 1.0);
    assert_eq!(value("sipprov_job_runs_total", &[("job", "store compaction")]), 0.0, "jobs are there before they run");
    assert!(value("sipprov_job_last_success_timestamp_seconds", &[("job", "expiry sweep")]) > 1.7e9);
    assert!(value("sipprov_server_certificate_expiry_timestamp_seconds", &[("listener", "phones")]) > 1.7e9);
    let build = metrics.all("sipprov_build_info");
    assert_eq!(build.len(), 1);
    assert!(version.contains(&format!("(commit {})", build[0].labels["commit"])), "{version} vs {build:?}");
    assert!(value("process_resident_memory_bytes", &[]) > 1e6);
    assert!(value("process_open_fds", &[]) > 0.0);

    // A reload the unit would refuse: ExecReload's check fails, so systemd never sends SIGHUP.
    // Sent anyway, the daemon keeps its trust and says so in its status.
    let bundle = etc.join("ca/yealink.pem");
    let good_bundle = std::fs::read(&bundle).unwrap();
    std::fs::write(&bundle, "not a certificate").unwrap();
    let reload_check = unit_command(&directive("ExecReload")[0]).output().unwrap();
    assert!(!reload_check.status.success(), "the reload gate refuses a broken bundle");
    signal(&daemon, "HUP");
    wait_for("RELOADING=1");
    let refused = wait_for("READY=1");
    assert!(refused.contains("the last reload was refused"), "{refused}");
    std::fs::write(&bundle, good_bundle).unwrap();
    assert!(unit_command(&directive("ExecReload")[0]).output().unwrap().status.success());
    signal(&daemon, "HUP");
    wait_for("RELOADING=1");
    let applied = wait_for("READY=1");
    assert!(applied.contains("the last reload was applied"), "{applied}");

    // Stop as systemd does: SIGTERM, STOPPING=1, exit 0.
    signal(&daemon, "TERM");
    wait_for("STOPPING=1");
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status:?}");

    // Every line of the log is one JSON record.
    wait_until("the log is read to its end", || log.lock().unwrap().iter().any(|line| line.contains("\"stopped\"")));
    for line in log.lock().unwrap().iter() {
        let record: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(record["timestamp"].as_str().is_some_and(|at| at.ends_with('Z')), "{line}");
    }
}

/// What `postinst configure` does, run for real as root with the package unpacked as dpkg
/// would, in a mount namespace whose `/etc`, `/usr/bin` and `/var/lib` are overlays: the
/// `sipprov` user, the directories with their owners and modes, and the sealing key, made once.
#[test]
fn the_maintainer_script_creates_the_user_the_directories_and_the_key_once() {
    if !have_packaging_tools() {
        return;
    }
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        eprintln!("SKIPPED: running postinst needs root (a mount namespace with overlays)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let deb = package();
    let root = scratch.path().join("root");
    run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    run(Command::new("dpkg-deb").arg("-e").arg(deb).arg(scratch.path().join("DEBIAN")));
    let script = r#"set -e
for dir in /etc /usr/bin /var/lib; do
    mkdir -p "$S/overlay$dir/upper" "$S/overlay$dir/work"
    mount -t overlay overlay -o "lowerdir=$dir,upperdir=$S/overlay$dir/upper,workdir=$S/overlay$dir/work" "$dir"
done
cp "$S/root/usr/bin/sipprovd" /usr/bin/sipprovd
mkdir -p /etc/sipprov && cp "$S/root/etc/sipprov/sipprov.toml" /etc/sipprov/
sh "$S/DEBIAN/postinst" configure
getent passwd sipprov | cut -d: -f6,7
stat -c '%n %U:%G %a' /etc/sipprov /etc/sipprov/ca /etc/sipprov/keys /etc/sipprov/keys/sealing.key /etc/sipprov/sipprov.toml /var/lib/sipprov
sha256sum < /etc/sipprov/keys/sealing.key
sh "$S/DEBIAN/postinst" configure
sha256sum < /etc/sipprov/keys/sealing.key
runuser -u sipprov -- /usr/bin/sipprovd keygen /etc/sipprov/keys/sealing.key 2>&1 || echo "keygen refused"
"#;
    let output = run(Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", script])
        .env("S", scratch.path()));
    let said = text(&output);
    let lines: Vec<&str> = said.lines().collect();
    assert_eq!(lines[0], "/var/lib/sipprov:/usr/sbin/nologin", "{said}");
    for expected in [
        "/etc/sipprov root:sipprov 750",
        "/etc/sipprov/ca root:sipprov 750",
        "/etc/sipprov/keys sipprov:sipprov 700",
        "/etc/sipprov/keys/sealing.key sipprov:sipprov 600",
        "/etc/sipprov/sipprov.toml root:sipprov 640",
        "/var/lib/sipprov sipprov:sipprov 700",
    ] {
        assert!(lines.contains(&expected), "{expected} in:\n{said}");
    }
    let digests: Vec<&&str> = lines.iter().filter(|line| line.ends_with("  -")).collect();
    assert_eq!(digests.len(), 2, "{said}");
    assert_eq!(digests[0], digests[1], "a second configure keeps the key: {said}");
    assert!(said.contains("keygen refused"), "keygen never overwrites: {said}");
    assert!(root.join("usr/bin/sipprovd").exists() && !Path::new("/etc/sipprov").exists(), "the host is untouched");
}

/// The user the sandboxed commands run as (`nobody`).
const SERVICE_USER: u32 = 65534;

/// `setpriv` arguments for the unit's User=, NoNewPrivileges= and capabilities.
const SERVICE_PRIVILEGES: [&str; 6] =
    ["--no-new-privs", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"];

/// Runs `$2...` with the whole file system read-only but the directory `$1`, and UMask=0077.
const READ_ONLY_BUT_STATE: &str =
    "state=$1; shift; mount --bind \"$state\" \"$state\" && mount -o remount,bind,ro / && umask 077 && exec \"$@\"";

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| text(&out).trim() == "0")
}

fn chown_tree(path: &Path, user: u32) {
    std::os::unix::fs::chown(path, Some(user), Some(user)).unwrap();
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), user);
        }
    }
}

/// Every line the child writes on stdout and stderr.
fn collect(child: &mut Child) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let streams: [Box<dyn std::io::Read + Send>; 2] =
        [Box::new(child.stdout.take().unwrap()), Box::new(child.stderr.take().unwrap())];
    for stream in streams {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
    }
    lines
}

/// The first log record whose message is `message`.
fn log_record(log: &Mutex<Vec<String>>, message: &str) -> Value {
    let mut found = None;
    wait_until(message, || {
        found = log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|record| record["message"] == message);
        found.is_some()
    });
    found.unwrap()
}

fn signal(child: &Child, name: &str) {
    run(Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()));
}

/// The strict reader the package test scrapes with refuses what a scraper would.
#[test]
fn the_metrics_reader_refuses_what_a_scraper_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",y=\"q\\\"z\"} 3\n\
                # HELP h Seconds.\n# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.3\nh_count 2\n";
    let scrape = prometheus::parse(good).unwrap();
    assert_eq!(scrape.value("a_total", &[("x", "1"), ("y", "q\"z")]), Some(3.0));
    for bad in [
        "# TYPE a counter\na 1\n",
        "# HELP a A.\n# TYPE a gauge\na 1\na 2\n",
        "a 1\n",
        "# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_sum 1\nh_count 2\n",
        "# HELP a A.\n# TYPE a gauge\na{x=\"1} 1\n",
        "# HELP a A.\n# TYPE a gauge\na one\n",
    ] {
        assert!(prometheus::parse(bad).is_err(), "{bad}");
    }
}
