//! Records and a cuttable TCP proxy for the PostgreSQL store's tests.
#![allow(clippy::unwrap_used)] // test code: failing loudly is the point

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sipprov_credentials::{Account, CredentialState, DeviceProfile, DeviceRecord, Timestamp};
use sipprov_identity::Mac;

pub(crate) fn mac(n: u8) -> Mac {
    Mac::from_bytes([0x00, 0x15, 0x65, 0x00, 0x00, n])
}

pub(crate) fn device(mac: Mac) -> DeviceRecord {
    DeviceRecord {
        mac,
        accounts: vec![Account::new(1, "1001", format!("sp-{mac}"), "Desk")],
        state: CredentialState::Purged,
        secrets: None,
        pinned_spki: None,
        disabled: false,
        enrolled_at: Timestamp::from_unix(1_800_000_000),
        last_seen: None,
        profile: DeviceProfile::default(),
    }
}

/// A loopback TCP proxy to the database that can be cut (every connection closed, new ones
/// closed at once) and restored: the database "going away" without stopping the server.
pub(crate) struct Proxy {
    address: SocketAddr,
    up: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    /// A proxy to the host and port of `url` (a `postgres://` URL).
    pub(crate) fn to_database(url: &str) -> Self {
        let authority = url.split_once("://").unwrap().1.split('/').next().unwrap();
        let target = authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Self {
            address: listener.local_addr().unwrap(),
            up: Arc::new(AtomicBool::new(true)),
            connections: Arc::new(Mutex::new(Vec::new())),
        };
        let (up, connections) = (proxy.up.clone(), proxy.connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else { continue };
                let mut open = connections.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(server.try_clone().unwrap());
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        proxy
    }

    /// `url` with its host and port replaced by the proxy's.
    pub(crate) fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let (authority, path) = rest.split_once('/').unwrap();
        let user = authority.rsplit_once('@').map(|(user, _)| format!("{user}@")).unwrap_or_default();
        format!("{scheme}://{user}{}/{path}", self.address)
    }

    pub(crate) fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for stream in self.connections.lock().unwrap().drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    pub(crate) fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = from.set_read_timeout(Some(Duration::from_secs(60)));
        let mut buffer = [0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buffer) {
            if n == 0 || to.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}
