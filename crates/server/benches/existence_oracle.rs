//! Threat 10, measured: can a client holding one device's certificate tell, by timing, whether
//! another MAC is enrolled? It asks for an enrolled device's file, an unenrolled device's file and
//! an unknown path, interleaved at random on one kept-alive connection, and compares the median
//! latencies measured in the same run. The body and status are byte-identical (tested elsewhere);
//! here the ratio enrolled / unenrolled should be 1 within the machine's noise.
//!
//! ```text
//! cargo bench -p sipprov-server --bench existence_oracle
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, missing_docs)] // a measurement program

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use sipprov_ratelimit::{Allowlist, Policy, RateLimit};
use support::{Harness, OTHER, OWN, ca, yealink_phone, yealink_trust};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUNDS: usize = 3_000;
const NOT_ENROLLED: &str = "001565000099";

#[tokio::main]
async fn main() {
    let vendor_ca = ca("Yealink CA");
    // The measuring client must not be throttled or banned: what is measured is the answer.
    let mut limits = Policy::default();
    limits.allowlist = Allowlist::parse(["127.0.0.0/8"]).unwrap();
    limits.requests_per_source = RateLimit::new(1_000_000, Duration::from_micros(1)).unwrap();
    limits.requests_per_device = RateLimit::new(1_000_000, Duration::from_micros(1)).unwrap();
    let harness = Harness::start_with_limits(yealink_trust(&vendor_ca), limits).await;
    harness.enrol(OWN);
    harness.enrol(OTHER);
    let phone = yealink_phone(&vendor_ca, OWN);
    let mut tls = harness.tls(Some(&phone)).await.unwrap();

    let kinds = [
        ("enrolled", format!("/{OTHER}.cfg")),
        ("not enrolled", format!("/{NOT_ENROLLED}.cfg")),
        ("unknown path", "/nothing-here".to_owned()),
    ];
    let mut samples: [Vec<Duration>; 3] = Default::default();
    let mut bodies: [Option<Vec<u8>>; 3] = Default::default();
    for kind in interleaved(kinds.len()) {
        let request = format!("GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n", kinds[kind].1);
        let started = Instant::now();
        tls.write_all(request.as_bytes()).await.unwrap();
        let response = read_response(&mut tls).await;
        samples[kind].push(started.elapsed());
        let body = response
            .split(|b| *b == b'\n')
            .skip_while(|line| !line.starts_with(b"content-length"))
            .collect::<Vec<_>>()
            .concat();
        match &bodies[kind] {
            None => bodies[kind] = Some(body),
            Some(first) => assert_eq!(first, &body, "{}: the answer changed", kinds[kind].0),
        }
    }
    assert_eq!(bodies[0], bodies[1], "enrolled and not enrolled get the same bytes");

    println!("existence oracle: {} requests of each kind, one kept-alive connection, same run", ROUNDS);
    let medians: Vec<f64> = samples.iter_mut().map(|s| percentile(s, 50)).collect();
    for ((name, _), samples) in kinds.iter().zip(samples.iter_mut()) {
        println!("  {name:<13} median {:>8.1} us   p90 {:>8.1} us", percentile(samples, 50), percentile(samples, 90));
    }
    println!("  ratio enrolled / not enrolled (medians): {:.3}", medians[0] / medians[1]);
    println!("  ratio enrolled / unknown path (medians): {:.3}", medians[0] / medians[2]);
}

/// Each kind `ROUNDS` times, shuffled (Fisher-Yates over xorshift: no dependency needed).
fn interleaved(kinds: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..ROUNDS * kinds).map(|i| i % kinds).collect();
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for i in (1..order.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        order.swap(i, (seed % (i as u64 + 1)) as usize);
    }
    order
}

fn percentile(samples: &mut [Duration], percent: usize) -> f64 {
    samples.sort_unstable();
    let index = (samples.len() * percent / 100).min(samples.len() - 1);
    samples[index].as_secs_f64() * 1e6
}

/// One response with a Content-Length body, head lowercased for comparison.
async fn read_response(stream: &mut (impl AsyncReadExt + Unpin)) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&received[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: ").map(str::to_owned))
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if received.len() >= end + 4 + length {
                let mut response = head.into_bytes();
                response.extend_from_slice(&received[end..]);
                // The Date header changes by the second: leave it out of comparisons.
                return String::from_utf8_lossy(&response)
                    .lines()
                    .filter(|line| !line.starts_with("date:"))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .into_bytes();
            }
        }
        let read = stream.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the server closed the connection");
        received.extend_from_slice(&buffer[..read]);
    }
}
