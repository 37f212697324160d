//! Build script of both binaries: names the commit they are built from, for `--version` and
//! the `sipprov_build_info` metric. `SIPPROV_COMMIT` if set (a build from a source archive or a
//! package build), else the checkout's commit, else `unknown`.

#![allow(clippy::print_stdout)] // a build script talks to cargo on stdout

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SIPPROV_COMMIT");
    let commit = std::env::var("SIPPROV_COMMIT")
        .ok()
        .filter(|commit| !commit.trim().is_empty())
        .or_else(checkout_commit)
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=SIPPROV_COMMIT={}", commit.trim());
}

/// The checked-out commit; and the files whose change means another commit, so cargo runs this
/// again.
fn checkout_commit() -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git").args(args).output().ok().filter(|out| out.status.success()).map(|out| out.stdout)
    };
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).ok().map(|s| s.trim().to_owned());
    let git_dir = text(git(&["rev-parse", "--absolute-git-dir"])?)?;
    println!("cargo:rerun-if-changed={git_dir}/HEAD");
    if let Some(head) = text(git(&["symbolic-ref", "-q", "HEAD"]).unwrap_or_default()).filter(|r| !r.is_empty()) {
        println!("cargo:rerun-if-changed={git_dir}/{head}");
        // Only a file that exists: cargo takes a missing one as changed, and would run this
        // script, and build the binaries again, on every build.
        let packed = std::path::Path::new(&git_dir).join("packed-refs");
        if packed.exists() {
            println!("cargo:rerun-if-changed={}", packed.display());
        }
    }
    text(git(&["rev-parse", "--short=12", "HEAD"])?)
}
