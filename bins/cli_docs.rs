//! Shell completions and man pages for both binaries, generated from the same clap definitions
//! as `--help`, so they cannot drift from it. The Debian package ships them
//! (`scripts/build-deb.sh`); other installs generate them with `completions`.

use std::path::Path;
use std::process::ExitCode;

/// Prints `command`'s completion script for `shell` on stdout.
pub(crate) fn completions(mut command: clap::Command, shell: clap_complete::Shell) -> ExitCode {
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, &mut std::io::stdout());
    ExitCode::SUCCESS
}

/// Writes one man page per command and subcommand of `command` into `dir`.
pub(crate) fn manpages(command: clap::Command, dir: &Path) -> ExitCode {
    let written = std::fs::create_dir_all(dir).and_then(|()| clap_mangen::generate_to(command, dir));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "cannot write the man pages into {}: {e}", dir.display());
            ExitCode::FAILURE
        }
    }
}
