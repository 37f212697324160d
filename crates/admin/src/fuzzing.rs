//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, never in a release build):
//! the admin API's parsers of outside input, driven exactly as the handlers drive them, each
//! asserting what must hold of whatever it accepts.

use std::ops::ControlFlow;

use hyper::body::Bytes;
use sipprov_identity::Mac;
use tokio::sync::mpsc;

use super::import_body::BodyReader;
use super::import_rows::{ImportFormat, MAX_ROW, read_rows};
use super::model::{DeviceInput, ReissueInput, check_password};

/// A JSON body as `POST /v1/devices`, `POST /v1/pending/{mac}/enrol` and the re-issue calls
/// read it. A device that passes every check has a canonical MAC and its accounts on distinct
/// lines, in order.
pub fn device_body(bytes: &[u8]) {
    let path_mac = Mac::parse("001565aabbcc").ok();
    if let Ok(input) = serde_json::from_slice::<DeviceInput>(bytes) {
        for from_path in [None, path_mac] {
            if let Ok(device) = input.clone().validate(from_path) {
                assert_eq!(device.mac.to_string().parse::<Mac>().ok(), Some(device.mac));
                assert!(device.accounts.windows(2).all(|pair| pair[0].line < pair[1].line));
                if from_path.is_some() {
                    assert_eq!(Some(device.mac), path_mac);
                }
            }
        }
    }
    if let Ok(input) = serde_json::from_slice::<ReissueInput>(bytes) {
        if let Some(password) = input.password {
            let accepted = check_password(password.clone()).is_ok();
            assert!(!accepted || ((12..=128).contains(&password.len()) && !password.chars().any(char::is_control)));
        }
    }
}

/// An import body, as CSV and as JSON lines, delivered in pieces of `piece` bytes the way the
/// request body streams in. Rows come with increasing line numbers inside the body; every row
/// that reads as a device is validated as the import validates it.
pub fn import_body(bytes: &[u8], piece: usize) {
    let lines = u64::try_from(bytes.iter().filter(|b| **b == b'\n').count()).unwrap_or(u64::MAX);
    for format in [ImportFormat::Csv, ImportFormat::JsonLines] {
        let (sender, receiver) = mpsc::channel(bytes.len() / piece.max(1) + 2);
        for chunk in bytes.chunks(piece.max(1)) {
            // The channel holds every piece: sending never waits.
            let _ = sender.try_send(Ok(Bytes::copy_from_slice(chunk)));
        }
        drop(sender);
        let (reader, row_end) = BodyReader::new(receiver, MAX_ROW);
        let mut last = 0u64;
        let _ = read_rows(format, reader, &row_end, |line, row| {
            assert!(line > last || (line == 0 && last == 0), "rows out of order: {line} after {last}");
            assert!(line <= lines + 1, "row {line} of a body with {lines} line breaks");
            last = line;
            if let Ok(device) = row {
                let _ = device.validate(None);
            }
            ControlFlow::Continue(())
        });
    }
}
