//! Debian's `linphonec` (package `linphone-cli`), a real softphone: started on an rc file,
//! stopped once it fetched its configuration.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `linphonec` is installed; outside CI a missing one skips the test, loudly.
pub fn available() -> bool {
    if Command::new("linphonec").arg("--version").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "linphonec required in CI (.ci/run installs linphone-cli)");
    eprintln!("SKIPPED: linphonec not found; install Debian's linphone-cli to run this test");
    false
}

/// Runs `linphonec -c rc` with `home` as its `$HOME` until `fetched` says it fetched its
/// configuration, gives it a moment to write what it applied, stops it, and returns the rc
/// file as it left it.
pub fn run_until(rc: &Path, home: &Path, fetched: impl FnMut() -> bool) -> String {
    // Linphone refuses to start without its data directory.
    std::fs::create_dir_all(home.join(".local/share/linphone")).unwrap();
    let mut linphone = Command::new("linphonec")
        .arg("-c")
        .arg(rc)
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    super::wait_until("Linphone fetched its configuration", fetched);
    std::thread::sleep(Duration::from_secs(2));
    let _ = linphone.stdin.take().unwrap().write_all(b"quit\n");
    let deadline = Instant::now() + Duration::from_secs(15);
    while linphone.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = linphone.kill();
    let _ = linphone.wait();
    std::fs::read_to_string(rc).unwrap()
}
