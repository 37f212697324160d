//! Times in the admin API: RFC 3339 UTC out; RFC 3339, Unix seconds or "ago" durations in.

use sipprov_credentials::{Clock, SystemClock, Timestamp};

/// The wall-clock time now.
pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

/// `2026-11-27T18:04:05Z`.
pub(crate) fn format(at: Timestamp) -> String {
    jiff::Timestamp::from_second(at.unix()).map_or_else(|_| at.unix().to_string(), |at| at.to_string())
}

/// Parses an RFC 3339 time (`2026-11-27T18:04:05Z`, `2026-12-05T17:00:00+00:00`, with or
/// without fractional seconds, which are dropped), a Unix time in seconds, or a duration
/// before `now` such as `90s`, `15m`, `1h30m`, `24h`, `7d`, `2w` (a day is 24 hours).
pub(crate) fn parse(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(unix) = text.parse::<i64>() {
        return Ok(Timestamp::from_unix(unix));
    }
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Ok(Timestamp::from_unix(at.as_second()));
    }
    if let Some(ago) = parse_duration(text) {
        return Ok(Timestamp::from_unix(now.unix().saturating_sub(ago)));
    }
    Err(format!(
        "{text:?} is not a time: use 2026-11-27T18:00:00Z (or another RFC 3339 time, as `date -Is` prints), \
         Unix seconds, or a duration ago like 24h, 1h30m or 7d"
    ))
}

/// A duration in whole seconds, days counted as 24 hours; `None` for anything else or a
/// negative one.
pub(crate) fn parse_duration(text: &str) -> Option<i64> {
    let span: jiff::Span = text.parse().ok()?;
    if span.is_negative() {
        return None;
    }
    let seconds = span.total((jiff::Unit::Second, jiff::SpanRelativeTo::days_are_24_hours())).ok()?;
    // Whole seconds; a span too long for i64 seconds is no time anyone means.
    (seconds.is_finite() && seconds < 9.0e18).then_some(seconds as i64)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: failing loudly is the point

    use super::*;

    #[test]
    fn formats_and_parses_utc_times() {
        // date -u -d @1795803845 +%FT%TZ
        assert_eq!(format(Timestamp::from_unix(1_795_803_845)), "2026-11-27T18:24:05Z");
        assert_eq!(format(Timestamp::from_unix(0)), "1970-01-01T00:00:00Z");
        assert_eq!(format(Timestamp::from_unix(951_782_400)), "2000-02-29T00:00:00Z");
        let now = Timestamp::from_unix(1_000_000);
        for unix in [0, 951_782_400, 1_795_803_845, 4_102_444_799] {
            let at = Timestamp::from_unix(unix);
            assert_eq!(parse(&format(at), now).unwrap(), at);
        }
        assert_eq!(parse("1795803845", now).unwrap().unix(), 1_795_803_845);
        assert_eq!(parse("24h", now).unwrap().unix(), 1_000_000 - 86_400);
        assert_eq!(parse("90s", now).unwrap().unix(), 1_000_000 - 90);
        // What `date -Is` prints, fractions, compound durations.
        assert_eq!(parse("2026-11-27T18:24:05+00:00", now).unwrap().unix(), 1_795_803_845);
        assert_eq!(parse("2026-11-27T19:24:05+01:00", now).unwrap().unix(), 1_795_803_845);
        assert_eq!(parse("2026-11-27T18:24:05.750Z", now).unwrap().unix(), 1_795_803_845);
        assert_eq!(parse("1h30m", now).unwrap().unix(), 1_000_000 - 5_400);
        assert_eq!(parse("2w", now).unwrap().unix(), 1_000_000 - 14 * 86_400);
        for bad in ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday", "24x", "-5h", "", "h"] {
            assert!(parse(bad, now).is_err(), "{bad}");
        }
    }
}
