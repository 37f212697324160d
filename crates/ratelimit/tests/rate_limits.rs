//! Properties of the keyed GCRA limits, driven by a fake clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stderr)] // test code: failing loudly is the point

use std::net::IpAddr;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use sipprov_ratelimit::{Error, GateRefusal, Gatekeeper, KeyedLimiter, Moment, Policy, RateLimit};

fn limiter(burst: u32, interval_ms: u64) -> KeyedLimiter<&'static str> {
    KeyedLimiter::new(RateLimit::new(burst, Duration::from_millis(interval_ms)).unwrap(), 16)
}

proptest! {
    /// Over every window between two admissions, admitted <= burst + elapsed / interval.
    #[test]
    fn admissions_never_exceed_burst_plus_refill(
        burst in 1u32..20,
        interval_ms in 1u64..1_000,
        mut times in vec(0u64..20_000, 1..200),
    ) {
        times.sort_unstable();
        let mut limiter = limiter(burst, interval_ms);
        let admitted: Vec<u64> =
            times.iter().copied().filter(|&t| limiter.check(&"phone", Moment::from_millis(t)).is_ok()).collect();
        for (i, first) in admitted.iter().enumerate() {
            for (j, last) in admitted.iter().enumerate().skip(i) {
                let count = (j - i + 1) as u64;
                let bound = u64::from(burst) + (last - first) / interval_ms;
                prop_assert!(count <= bound, "{count} admitted in [{first}, {last}] ms, bound {bound}");
            }
        }
    }

    /// A clock stepping backwards counts as no time passing: it never grants extra admissions.
    #[test]
    fn time_going_backwards_grants_nothing(
        burst in 1u32..20,
        interval_ms in 1u64..1_000,
        times in vec(0u64..20_000, 1..200),
    ) {
        let mut limiter = limiter(burst, interval_ms);
        let admitted = times.iter().filter(|&&t| limiter.check(&"phone", Moment::from_millis(t)).is_ok()).count() as u64;
        let latest = times.iter().copied().max().unwrap();
        prop_assert!(admitted <= u64::from(burst) + (latest - times[0]) / interval_ms);
    }

    /// After a refusal the next allowed time is unchanged, and retry_after points exactly at it.
    #[test]
    fn a_refusal_consumes_nothing(
        burst in 1u32..10,
        interval_ms in 1u64..1_000,
        mut times in vec(0u64..10_000, 1..200),
    ) {
        times.sort_unstable();
        let mut limiter = limiter(burst, interval_ms);
        let mut latest = Moment::ZERO;
        for t in times {
            let now = Moment::from_millis(t).max(latest);
            let before = limiter.earliest_admission(&"phone");
            match limiter.check(&"phone", now) {
                Ok(()) => prop_assert!(before <= now),
                Err(limited) => {
                    prop_assert_eq!(limiter.earliest_admission(&"phone"), before);
                    prop_assert_eq!(now.saturating_add(limited.retry_after), before);
                    prop_assert!(limiter.would_admit(&"phone", before).is_ok(), "admitted at the promised time");
                }
            }
            latest = now;
        }
    }
}

#[test]
fn a_full_burst_is_admitted_at_once_and_then_one_per_interval() {
    let mut limiter = limiter(5, 1_000);
    let now = Moment::from_secs(100);
    for _ in 0..5 {
        limiter.check(&"phone", now).unwrap();
    }
    let refused = limiter.check(&"phone", now).unwrap_err();
    assert_eq!(refused.retry_after, Duration::from_secs(1));
    assert!(limiter.check(&"phone", Moment::from_millis(100_999)).is_err());
    limiter.check(&"phone", Moment::from_secs(101)).unwrap();
    assert!(limiter.check(&"phone", Moment::from_secs(101)).is_err());
    // Other keys have budgets of their own.
    limiter.check(&"other", now).unwrap();
}

#[test]
fn hammering_while_refused_does_not_delay_reopening() {
    // Exhaustive over a 10 s run of checks every 10 ms against a burst of 3 per second.
    let mut limiter = limiter(3, 1_000);
    let mut admitted_at = Vec::new();
    for t in (0..10_000).step_by(10) {
        let before = limiter.earliest_admission(&"scanner");
        if limiter.check(&"scanner", Moment::from_millis(t)).is_ok() {
            admitted_at.push(t);
        } else {
            assert_eq!(limiter.earliest_admission(&"scanner"), before, "refusal at {t} ms moved the schedule");
        }
    }
    // The burst at once, then exactly one per second however hard the key knocked.
    let expected: Vec<u64> = [0, 10, 20].into_iter().chain((1..10).map(|s| s * 1_000)).collect();
    assert_eq!(admitted_at, expected);
}

#[test]
fn idle_keys_are_forgotten_because_their_state_equals_a_fresh_one() {
    let mut limiter = limiter(2, 1_000);
    limiter.check(&"a", Moment::from_secs(10)).unwrap();
    limiter.check(&"b", Moment::from_secs(12)).unwrap();
    assert_eq!(limiter.forget_idle(Moment::from_secs(12)), 1, "a's budget is full again at 11 s");
    assert_eq!(limiter.len(), 1);
}

#[test]
fn zero_rates_are_refused() {
    assert!(matches!(RateLimit::new(0, Duration::from_secs(1)), Err(Error::InvalidRate { .. })));
    assert!(matches!(RateLimit::new(1, Duration::ZERO), Err(Error::InvalidRate { .. })));
    assert!(matches!(RateLimit::per_second(10, 0), Err(Error::InvalidRate { .. })));
    assert_eq!(RateLimit::per_second(10, 4).unwrap().interval(), Duration::from_millis(250));
}

/// A MAC as the server would key it: every spelling parses to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CanonicalMac([u8; 6]);

impl CanonicalMac {
    fn parse(text: &str) -> Self {
        let digits: Vec<u8> = text
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .map(|c| u8::try_from(c.to_digit(16).unwrap()).unwrap())
            .collect();
        assert_eq!(digits.len(), 12, "{text}");
        let mut bytes = [0; 6];
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks(2)) {
            *byte = pair[0] << 4 | pair[1];
        }
        Self(bytes)
    }
}

const SPELLINGS: [&str; 5] =
    ["00:15:65:AA:BB:CC", "001565aabbcc", "00-15-65-aa-bb-cc", "0015.65aa.bbcc", "001565AABBCC"];

#[test]
fn spellings_of_one_device_share_one_budget_when_keys_are_canonical() {
    let gate: Gatekeeper<CanonicalMac> = Gatekeeper::new(Policy::default()).unwrap();
    let burst = Policy::default().requests_per_device.burst() as usize;
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let now = Moment::from_secs(50);
    // Spend the whole device budget, rotating through the spellings.
    for spelling in SPELLINGS.iter().cycle().take(burst) {
        gate.admit_request(ip, Some(&CanonicalMac::parse(spelling)), now).unwrap();
    }
    for spelling in SPELLINGS {
        let refused = gate.admit_request(ip, Some(&CanonicalMac::parse(spelling)), now);
        assert!(matches!(refused, Err(GateRefusal::DeviceRate { .. })), "{spelling} got a fresh budget");
    }
    assert_eq!(gate.occupancy().devices, 1);
}

#[test]
fn raw_spellings_as_keys_would_each_get_a_budget() {
    // Why keys must be canonical: keyed by the text, each spelling is a new device.
    let mut limiter = KeyedLimiter::new(RateLimit::new(1, Duration::from_secs(60)).unwrap(), 16);
    let now = Moment::from_secs(1);
    assert!(SPELLINGS.iter().all(|spelling| limiter.check(&spelling.to_string(), now).is_ok()));
    let mut canonical = KeyedLimiter::new(RateLimit::new(1, Duration::from_secs(60)).unwrap(), 16);
    let admitted = SPELLINGS.iter().filter(|spelling| canonical.check(&CanonicalMac::parse(spelling), now).is_ok());
    assert_eq!(admitted.count(), 1);
}

#[test]
fn a_request_refused_for_its_device_consumes_no_source_budget() {
    let mut policy = Policy::default();
    policy.requests_per_source = RateLimit::new(3, Duration::from_secs(60)).unwrap();
    policy.requests_per_device = RateLimit::new(1, Duration::from_secs(60)).unwrap();
    let gate: Gatekeeper<u32> = Gatekeeper::new(policy).unwrap();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let now = Moment::from_secs(1);
    gate.admit_request(ip, Some(&1), now).unwrap();
    for _ in 0..10 {
        assert!(matches!(gate.admit_request(ip, Some(&1), now), Err(GateRefusal::DeviceRate { .. })));
    }
    // Two of the source's three requests are left.
    gate.admit_request(ip, Some(&2), now).unwrap();
    gate.admit_request(ip, None, now).unwrap();
    assert!(matches!(gate.admit_request(ip, Some(&3), now), Err(GateRefusal::RequestRate { .. })));
}

#[test]
fn a_device_request_after_its_source_was_admitted_takes_only_the_devices_budget() {
    let mut policy = Policy::default();
    policy.requests_per_source = RateLimit::new(2, Duration::from_secs(60)).unwrap();
    policy.requests_per_device = RateLimit::new(1, Duration::from_secs(60)).unwrap();
    let gate: Gatekeeper<u32> = Gatekeeper::new(policy).unwrap();
    let ip: IpAddr = "192.0.2.7".parse().unwrap();
    let now = Moment::from_secs(1);
    // The source admitted before its credentials are checked, then the device they name.
    gate.admit_request(ip, None, now).unwrap();
    gate.admit_device_request(ip, &1, now).unwrap();
    assert!(matches!(gate.admit_device_request(ip, &1, now), Err(GateRefusal::DeviceRate { .. })));
    // One of the source's two requests is left: the device's admission took none of it.
    gate.admit_request(ip, None, now).unwrap();
    assert!(matches!(gate.admit_request(ip, None, now), Err(GateRefusal::RequestRate { .. })));
    assert!(gate.admit_device_request(ip, &2, now).is_ok(), "another device's own budget is untouched");
}
