//! Image files on disk, named by their hash: `<directory>/sha256/<hex>`.
//!
//! An upload streams into `<directory>/.incoming/` while it is hashed, and is renamed to its
//! hash only when complete, so a half-written file is never served and no client-chosen name
//! ever reaches the file system. When opened for a phone, a file is hashed again unless it is
//! the very file last verified (same device, inode, size, modification and change times:
//! `touch` can reset the modification time, not the change time).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::FleetError;
use crate::image::is_sha256;

/// The directory images are kept in.
#[derive(Debug)]
pub struct ImageFiles {
    directory: PathBuf,
    /// The largest image an upload may be, in bytes.
    max_bytes: u64,
    /// The file last verified per hash, and whether it matched.
    verified: Mutex<HashMap<String, (FileKey, bool)>>,
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileKey {
    device: u64,
    inode: u64,
    size: u64,
    modified: (i64, i64),
    changed: (i64, i64),
}

impl FileKey {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            device: metadata.dev(),
            inode: metadata.ino(),
            size: metadata.len(),
            modified: (metadata.mtime(), metadata.mtime_nsec()),
            changed: (metadata.ctime(), metadata.ctime_nsec()),
        }
    }
}

/// Why an image is not served.
#[derive(Debug, thiserror::Error)]
pub enum OpenRefusal {
    /// The file is missing or unreadable on this node.
    #[error("the image file cannot be opened: {0}")]
    Missing(std::io::Error),
    /// The file no longer has its registered hash (`first`: this node has not seen this
    /// version of the file before, so it is news to alert on).
    #[error("the image file no longer has its registered hash")]
    Altered {
        /// Whether this is the first time this node finds this version of the file.
        first: bool,
    },
}

/// An upload being written: hashed and counted as it streams in; removed unless finished.
#[derive(Debug)]
pub struct Upload {
    file: Option<File>,
    /// Stored under its hash: nothing to remove when dropped.
    finished: bool,
    path: PathBuf,
    images: PathBuf,
    hasher: Sha256,
    size: u64,
    limit: u64,
}

/// A finished upload, stored under its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// SHA-256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

impl ImageFiles {
    /// Images under `directory` (its subdirectories created when the first image is stored),
    /// each at most `max_bytes`.
    pub fn new(directory: impl Into<PathBuf>, max_bytes: u64) -> Self {
        Self { directory: directory.into(), max_bytes, verified: Mutex::default() }
    }

    /// The directory.
    pub fn directory(&self) -> &Path {
        &self.directory
    }

    fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        is_sha256(sha256).then(|| self.directory.join("sha256").join(sha256))
    }

    /// Starts an upload.
    pub fn upload(&self) -> Result<Upload, FleetError> {
        let limit = self.max_bytes;
        let incoming = self.directory.join(".incoming");
        let images = self.directory.join("sha256");
        for dir in [&incoming, &images] {
            std::fs::DirBuilder::new().recursive(true).mode(0o750).create(dir)?;
        }
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|e| FleetError::Io(std::io::Error::other(e.to_string())))?;
        let path = incoming.join(format!("upload-{}", hex::encode(random)));
        remove_abandoned(&incoming);
        let file = OpenOptions::new().write(true).create_new(true).mode(0o640).open(&path)?;
        Ok(Upload { file: Some(file), finished: false, path, images, hasher: Sha256::new(), size: 0, limit })
    }

    /// Opens a registered image for a phone, checking it still has its hash.
    pub fn open(&self, sha256: &str, size: u64) -> Result<(File, u64), OpenRefusal> {
        let not_an_image = || OpenRefusal::Missing(std::io::Error::other("not an image name"));
        let path = self.path_of(sha256).ok_or_else(not_an_image)?;
        let mut file = File::open(&path).map_err(OpenRefusal::Missing)?;
        let metadata = file.metadata().map_err(OpenRefusal::Missing)?;
        if !metadata.is_file() {
            return Err(not_an_image());
        }
        let key = FileKey::of(&metadata);
        let known = self.lock().get(sha256).copied();
        let matches = match known {
            Some((known_key, matched)) if known_key == key => matched,
            _ => {
                let matched = metadata.len() == size && hash_of(&mut file).map_err(OpenRefusal::Missing)? == sha256;
                file.rewind().map_err(OpenRefusal::Missing)?;
                // Written while it was read: what was hashed may not be what is there now, so
                // nothing is remembered and nothing served; the next open hashes it again.
                let after = file.metadata().map_err(OpenRefusal::Missing)?;
                if FileKey::of(&after) != key {
                    return Err(OpenRefusal::Missing(std::io::Error::other("the file changed while it was verified")));
                }
                self.lock().insert(sha256.to_owned(), (key, matched));
                if !matched {
                    return Err(OpenRefusal::Altered { first: true });
                }
                matched
            }
        };
        if matches { Ok((file, metadata.len())) } else { Err(OpenRefusal::Altered { first: false }) }
    }

    /// Deletes an image's file (a removed image); a file already gone is no error.
    pub fn remove(&self, sha256: &str) -> Result<(), FleetError> {
        let Some(path) = self.path_of(sha256) else { return Ok(()) };
        self.lock().remove(sha256);
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
            _ => Ok(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (FileKey, bool)>> {
        // Entries are replaced whole: a poisoned map is still consistent.
        self.verified.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Upload {
    /// Appends a chunk; over the limit the upload fails (and its file is removed when dropped).
    pub fn write(&mut self, chunk: &[u8]) -> Result<(), FleetError> {
        self.size += chunk.len() as u64;
        if self.size > self.limit {
            return Err(FleetError::TooLarge(self.limit));
        }
        self.hasher.update(chunk);
        let file = self.file.as_mut().ok_or_else(|| FleetError::Io(std::io::Error::other("upload closed")))?;
        file.write_all(chunk)?;
        Ok(())
    }

    /// Makes the upload durable and stores it under its hash.
    pub fn finish(mut self) -> Result<Stored, FleetError> {
        if self.size == 0 {
            return Err(FleetError::Invalid("the image is empty".into()));
        }
        let file = self.file.take().ok_or_else(|| FleetError::Io(std::io::Error::other("upload closed")))?;
        file.sync_all()?;
        drop(file);
        let sha256 = hex::encode(std::mem::take(&mut self.hasher).finalize());
        std::fs::rename(&self.path, self.images.join(&sha256))?;
        self.finished = true;
        // The rename is durable once its directory is; if that fails the file stays
        // unregistered, and an unregistered file is never served.
        File::open(&self.images)?.sync_all()?;
        Ok(Stored { sha256, size: self.size })
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        // Unfinished (failed, too large, abandoned): nothing of it stays.
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How old an upload left in `.incoming/` must be to count as abandoned (by a process that
/// died): far longer than any upload takes.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Removes uploads a crashed process left in `incoming`. Only old ones: another node sharing
/// the directory may be writing a fresh one.
fn remove_abandoned(incoming: &Path) {
    let Ok(entries) = std::fs::read_dir(incoming) else { return };
    for entry in entries.flatten() {
        let old = entry.metadata().ok().and_then(|m| m.modified().ok()).and_then(|m| m.elapsed().ok());
        if entry.file_name().to_string_lossy().starts_with("upload-") && old.is_some_and(|age| age > ABANDONED_AFTER) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn hash_of(file: &mut File) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}
