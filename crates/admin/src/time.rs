//! Times in the admin API: RFC 3339 UTC out; RFC 3339, Unix seconds or "ago" durations in.

use sipprov_credentials::{Clock, SystemClock, Timestamp};

/// The wall-clock time now.
pub(crate) fn now() -> Timestamp {
    SystemClock.now()
}

/// `2026-11-27T18:04:05Z`.
pub(crate) fn format(at: Timestamp) -> String {
    let seconds = at.unix();
    let (days, rest) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

/// Parses `2026-11-27T18:04:05Z`, a Unix time in seconds, or a duration before `now` such as
/// `90s`, `15m`, `24h`, `7d`.
pub(crate) fn parse(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    let text = text.trim();
    if let Ok(unix) = text.parse::<i64>() {
        return Ok(Timestamp::from_unix(unix));
    }
    if let Some(ago) = parse_duration(text) {
        return Ok(Timestamp::from_unix(now.unix().saturating_sub(ago)));
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!("{text:?} is not a time: use 2026-11-27T18:00:00Z, Unix seconds, or a duration ago like 24h or 7d")
    })
}

fn parse_duration(text: &str) -> Option<i64> {
    let unit = match text.chars().last()? {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 604_800,
        _ => return None,
    };
    let number: i64 = text[..text.len() - 1].parse().ok().filter(|n| *n >= 0)?;
    number.checked_mul(unit)
}

fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    let bytes = text.as_bytes();
    if bytes.len() != 20 || bytes[4] != b'-' || bytes[7] != b'-' || bytes[10] != b'T' || bytes[19] != b'Z' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        return None; // 31 February and the like
    }
    Some(Timestamp::from_unix(days * 86_400 + hour * 3600 + minute * 60 + second))
}

// Howard Hinnant's algorithms for the proleptic Gregorian calendar.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
        for bad in ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday", "24x", "-5h", "", "h"] {
            assert!(parse(bad, now).is_err(), "{bad}");
        }
    }
}
