//! The clock is read only at the edges (handlers, CLI, background tasks) and passed in as `now`
//! (seconds since the Unix epoch), so domain logic stays testable and deterministic.

pub type UnixTime = i64;

/// Read the wall clock. Call this only at an edge, never inside domain logic.
pub fn now() -> UnixTime {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A Unix time as (year, month, day, hour, minute, second) in UTC (civil-from-days, H. Hinnant's
/// algorithm): two page fields and the verifier's messages need dates; a date crate would add nothing.
pub fn civil(t: UnixTime) -> (i64, i64, i64, i64, i64, i64) {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d, secs / 3600, secs % 3600 / 60, secs % 60)
}

/// The inverse of [`civil`] for a date at midnight UTC (days-from-civil).
pub fn from_civil(y: i64, m: i64, d: i64) -> UnixTime {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * 86_400
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(super::civil(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(super::civil(1_795_046_400), (2026, 11, 19, 0, 0, 0));
        for t in [0, 951_782_400, 1_795_046_400, 4_102_444_800] {
            let (y, m, d, ..) = super::civil(t);
            assert_eq!(super::from_civil(y, m, d), t);
        }
    }
}
