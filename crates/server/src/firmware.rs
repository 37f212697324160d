//! Firmware images from the operator's directory, streamed to identified phones.
//!
//! Layout: `<directory>/<vendor>/<file name>`, e.g. `firmware/yealink/T54W-96.86.0.100.rom`.
//! Only a plain file name from the request is used (no directory part, no leading dot), under
//! the directory of the vendor the certificate names: a phone cannot read outside it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::body::{Body, Bytes, Frame};
use sipprov_template::Vendor;
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

/// The file a firmware request names, if its name is safe to look up.
pub(crate) fn path_for(directory: &Path, vendor: Vendor, request_path: &str) -> Option<PathBuf> {
    let name = request_path.rsplit('/').next()?;
    let safe = !name.is_empty()
        && name.len() <= 255
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    safe.then(|| directory.join(vendor.name()).join(name))
}

/// Opens `path` for streaming; `None` if it is not a readable regular file.
pub(crate) fn open(path: &Path) -> Option<(std::fs::File, u64)> {
    let file = std::fs::File::open(path).ok()?;
    let metadata = file.metadata().ok()?;
    metadata.is_file().then_some((file, metadata.len()))
}

/// A response body fed by a blocking reader thread, one chunk at a time, so a large image is
/// never held in memory whole and a slow phone only holds one chunk.
pub(crate) struct FileBody {
    chunks: mpsc::Receiver<std::io::Result<Bytes>>,
}

impl FileBody {
    pub(crate) fn stream(mut file: std::fs::File) -> Self {
        let (sender, chunks) = mpsc::channel(2);
        tokio::task::spawn_blocking(move || {
            loop {
                let mut buffer = vec![0u8; CHUNK];
                let chunk = match file.read(&mut buffer) {
                    Ok(0) => return,
                    Ok(n) => {
                        buffer.truncate(n);
                        Ok(Bytes::from(buffer))
                    }
                    Err(e) => Err(e),
                };
                let failed = chunk.is_err();
                // The phone went away: stop reading.
                if sender.blocking_send(chunk).is_err() || failed {
                    return;
                }
            }
        });
        Self { chunks }
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.get_mut().chunks.poll_recv(cx).map(|chunk| chunk.map(|result| result.map(Frame::data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_under_the_vendor_directory() {
        let dir = Path::new("/srv/firmware");
        assert_eq!(
            path_for(dir, Vendor::Yealink, "/fw/T54W-96.86.0.100.rom"),
            Some(PathBuf::from("/srv/firmware/yealink/T54W-96.86.0.100.rom"))
        );
        for hostile in ["/..", "/fw/.hidden.rom", "/fw/a%2F..%2Fb.rom", "/fw/", "/fw/a b.rom", "/fw/ä.rom"] {
            assert_eq!(path_for(dir, Vendor::Yealink, hostile), None, "{hostile}");
        }
    }
}
