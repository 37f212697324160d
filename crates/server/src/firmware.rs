//! Firmware images streamed to identified phones: the URL that names a registered image, and
//! the body that streams it from disk. Which images exist, and whether a file still has its
//! hash, is `sipprov_fleet`'s.

use std::io::Read;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::body::{Body, Bytes, Frame};
use sipprov_fleet::FirmwareImage;
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

/// The image hash and file name a catalogue URL names: `/firmware/<sha256>/<file name>`. The
/// file name is whatever the phone appends (Grandstream builds its own from its model); the
/// hash alone picks the image.
pub(crate) fn catalogue_image(path: &str) -> Option<(&str, &str)> {
    let (hash, name) = path.strip_prefix("/firmware/")?.split_once('/')?;
    (sipprov_fleet::is_sha256(hash) && sipprov_fleet::is_plain_file_name(name)).then_some((hash, name))
}

/// Whether a Fanvil phone asks for its version file (`fanvil_<model>_hw<n>.txt`, named after
/// its model) in an image's directory, rather than for the image.
pub(crate) fn is_fanvil_version_file(image: &FirmwareImage, name: &str) -> bool {
    image.vendor == "fanvil" && name != image.name && name.ends_with(".txt")
}

/// The URL a config names an image by, below `provisioning_url`: what [`catalogue_image`]
/// reads back.
pub(crate) fn image_url(provisioning_url: &str, image: &FirmwareImage) -> String {
    format!("{}/firmware/{}/{}", provisioning_url.trim_end_matches('/'), image.sha256, image.name)
}

/// The version file a Fanvil phone reads before upgrading: the version, and where the image is.
pub(crate) fn fanvil_version_file(provisioning_url: &str, image: &FirmwareImage) -> String {
    format!("Version={}\nFirmware={}\n", image.version, image_url(provisioning_url, image))
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
    fn only_a_hash_and_a_plain_name_make_a_catalogue_url() {
        let hash = "ab".repeat(32);
        assert_eq!(
            catalogue_image(&format!("/firmware/{hash}/T54W-96.86.0.100.rom")),
            Some((hash.as_str(), "T54W-96.86.0.100.rom"))
        );
        assert_eq!(catalogue_image(&format!("/firmware/{hash}/gxp2170fw.bin")), Some((hash.as_str(), "gxp2170fw.bin")));
        for hostile in [
            format!("/firmware/{hash}/"),
            format!("/firmware/{hash}/../x"),
            format!("/firmware/{hash}/a/b"),
            format!("/firmware/{hash}/.hidden"),
            format!("/firmware/{}/x.rom", "AB".repeat(32)),
            format!("/firmware/{}/x.rom", &hash[1..]),
            format!("/fw/{hash}/x.rom"),
        ] {
            assert_eq!(catalogue_image(&hostile), None, "{hostile}");
        }
    }
}
