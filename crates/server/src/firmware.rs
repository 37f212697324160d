//! Firmware images from the operator's directory, streamed to identified phones.
//!
//! Layout: `<directory>/<vendor>/<file name>`, e.g. `firmware/yealink/T54W-96.86.0.100.rom`.
//! Only a plain file name from the request is used (no directory part, no leading dot), under
//! the directory of the vendor the certificate names: a phone cannot read outside it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

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

/// A response body read from disk one chunk at a time, so a large image is never held in
/// memory whole. Each read borrows a blocking thread only for that read; a phone that stops
/// reading for [`STALL`] is cut off, so slow clients cannot pin threads or memory.
pub(crate) struct FileBody {
    chunks: mpsc::Receiver<std::io::Result<Bytes>>,
}

/// How long a phone may leave a chunk unread before the download is abandoned.
const STALL: Duration = Duration::from_secs(60);

impl FileBody {
    pub(crate) fn stream(file: std::fs::File) -> Self {
        let (sender, chunks) = mpsc::channel(2);
        tokio::spawn(async move {
            let mut file = Some(file);
            while let Some(mut open) = file.take() {
                let read = tokio::task::spawn_blocking(move || {
                    let mut buffer = vec![0u8; CHUNK];
                    let read = open.read(&mut buffer).map(|n| {
                        buffer.truncate(n);
                        Bytes::from(buffer)
                    });
                    (open, read)
                })
                .await;
                let Ok((open, read)) = read else { return };
                let chunk = match read {
                    Ok(chunk) if chunk.is_empty() => return,
                    Ok(chunk) => Ok(chunk),
                    Err(e) => Err(e),
                };
                let failed = chunk.is_err();
                match tokio::time::timeout(STALL, sender.send(chunk)).await {
                    Ok(Ok(())) if !failed => file = Some(open),
                    // Gone, stalled, or the read failed: stop.
                    _ => return,
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
