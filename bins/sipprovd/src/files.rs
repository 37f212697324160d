//! Writing files the daemon creates: never over an existing one, private keys private.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

/// Creates `path` and any missing parents with mode 0700 (private to the daemon's user).
pub fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path).with_context(|| format!("cannot create {}", path.display()))
}

/// Replaces the file at `path` with `contents` (mode `mode`), through a temporary file renamed
/// over it, so a reader never sees half of it.
pub fn replace_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let temporary = path.with_extension("new");
    let _ = fs::remove_file(&temporary);
    write_new_file(&temporary, contents, mode)?;
    fs::rename(&temporary, path).with_context(|| format!("cannot replace {}", path.display()))
}

/// Writes a new file with `mode` (e.g. 0o600 for keys), refusing to overwrite: keys and
/// databases are never clobbered by a second run.
pub fn write_new_file(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options.open(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(contents).with_context(|| format!("cannot write {}", path.display()))?;
    file.sync_all().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
