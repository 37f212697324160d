//! Writing files the daemon creates: never over an existing one, private keys private.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::Context;

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
