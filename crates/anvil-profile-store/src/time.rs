//! Unix time ↔ the date strings of 0.4.0's `profile.json` (no time-zone database needed: always UTC).

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in Unix milliseconds (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Now, in Unix seconds.
pub fn now_s() -> i64 {
    now_ms() / 1000
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn num(s: &str, len: usize) -> Option<i64> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS` with an optional fraction and an optional `Z` or
/// `+00:00` suffix (UTC), into Unix seconds.
pub fn parse_date(s: &str) -> Option<i64> {
    let (date, time) = match s.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut parts = date.split('-');
    let y = num(parts.next()?, 4)?;
    let m = num(parts.next()?, 2)?;
    let d = num(parts.next()?, 2)?;
    if parts.next().is_some() || !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if let Some(t) = time {
        let t = t
            .strip_suffix('Z')
            .or_else(|| t.strip_suffix("+00:00"))
            .unwrap_or(t);
        let t = t.split_once('.').map_or(t, |(whole, frac)| {
            if frac.bytes().all(|b| b.is_ascii_digit()) {
                whole
            } else {
                t
            }
        });
        let mut hms = t.split(':');
        let h = num(hms.next()?, 2)?;
        let mi = num(hms.next()?, 2)?;
        let se = num(hms.next()?, 2)?;
        if hms.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs += h * 3600 + mi * 60 + se;
    }
    Some(secs)
}

/// Renders Unix seconds as `YYYY-MM-DD` at midnight UTC, else `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_date(secs: i64) -> String {
    if secs.rem_euclid(86_400) == 0 {
        let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format_datetime(secs)
    }
}

/// Renders Unix seconds as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_datetime(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_render() {
        let cases = [
            ("1970-01-01", Some(0), "1970-01-01"),
            ("2026-06-28", Some(1_782_604_800), "2026-06-28"),
            (
                "2026-06-28T12:30:05Z",
                Some(1_782_649_805),
                "2026-06-28T12:30:05Z",
            ),
            (
                "2026-06-28T12:30:05.123+00:00",
                Some(1_782_649_805),
                "2026-06-28T12:30:05Z",
            ),
            ("2024-02-29", Some(1_709_164_800), "2024-02-29"),
            ("2023-02-29", None, ""),
            ("2026-13-01", None, ""),
            ("26-06-28", None, ""),
            ("2026-06-28T25:00:00Z", None, ""),
            ("yesterday", None, ""),
        ];
        for (text, secs, rendered) in cases {
            assert_eq!(parse_date(text), secs, "{text}");
            if let Some(s) = secs {
                assert_eq!(format_date(s), rendered, "{text}");
                assert_eq!(parse_date(&format_datetime(s)), Some(s), "{text}");
            }
        }
    }
}
