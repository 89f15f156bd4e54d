//! The emulator's own reading of Marketo's dates and quota day, written apart from the client's
//! (`provider::marketo::{dates, quota}`) on purpose: if both ends shared one table, a misreading
//! of the reference would be wrong on both sides of the wire while every test stayed green.
//! Here the shapes are taken from the reference's examples directly, and US Central's daylight
//! time is reckoned from the UTC instants it starts and ends at.
//!
//! Shapes (reference/marketo-user-management-api.txt): user records write
//! `2020-12-31T08:00:00.000t+0000`; roles, workspaces and invitations write
//! `20200807T20:49:54.0t+0000`; requests send W3C ISO-8601 (`2020-12-31T23:59:59-05:00`) or the
//! update example's `20211231T08:00:00.000t+0000`.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

/// A date-time in none of the shapes Marketo takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Marketo date-time (expected e.g. `2020-12-31T08:00:00.000t+0000` or `2020-12-31T23:59:59-05:00`)"
)]
pub(crate) struct NotADate(String);

/// Reads a date-time as Marketo takes it in a request or the emulator in a fixture: W3C
/// ISO-8601, or either of Marketo's own shapes, whose lowercase `t` before the offset is
/// dropped first.
pub(crate) fn parse(text: &str) -> Result<DateTime<Utc>, NotADate> {
    read(text.trim())
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| NotADate(text.to_owned()))
}

fn read(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at);
    }
    // Marketo writes a lowercase `t` right before the offset; nothing else is lowercase.
    let joined = text.replacen("t+", "+", 1).replacen("t-", "-", 1);
    ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y%m%dT%H:%M:%S%.f%z"]
        .iter()
        .find_map(|shape| DateTime::parse_from_str(&joined, shape).ok())
}

/// A user record's shape: `2020-12-31T08:00:00.000t+0000` (always UTC here).
pub(crate) fn user_record(at: DateTime<Utc>) -> String {
    let millis = at.timestamp_subsec_millis();
    format!("{}.{millis:03}t+0000", stamp(at, "-"))
}

/// The compact shape of roles, workspaces and invitations: `20200807T20:49:54.0t+0000`, one
/// fractional digit as in every example of the reference.
pub(crate) fn compact(at: DateTime<Utc>) -> String {
    let tenths = at.timestamp_subsec_millis() / 100;
    format!("{}.{tenths}t+0000", stamp(at, ""))
}

/// `at` to the second, its date's parts joined by `dash`: `2020-08-07T20:49:54` or
/// `20200807T20:49:54`.
fn stamp(at: DateTime<Utc>, dash: &str) -> String {
    format!(
        "{:04}{dash}{:02}{dash}{:02}T{:02}:{:02}:{:02}",
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// The quota day `at` falls in: Marketo's daily quota resets at midnight US Central.
pub(crate) fn quota_day(at: DateTime<Utc>) -> NaiveDate {
    let hours_behind = if central_daylight(at) { 5 } else { 6 };
    (at - Duration::hours(hours_behind)).date_naive()
}

/// Whether US Central keeps daylight time at `at`: from the second Sunday of March, 08:00 UTC
/// (02:00 CST), to the first Sunday of November, 07:00 UTC (02:00 CDT).
fn central_daylight(at: DateTime<Utc>) -> bool {
    let year = at.year();
    let instant = |month, first_day: u32, hour| {
        // The first Sunday on or after `first_day`.
        let from = NaiveDate::from_ymd_opt(year, month, first_day)?;
        let sunday =
            from + Duration::days(i64::from((7 - from.weekday().num_days_from_sunday()) % 7));
        Some(Utc.from_utc_datetime(&sunday.and_hms_opt(hour, 0, 0)?))
    };
    match (instant(3, 8, 8), instant(11, 1, 7)) {
        (Some(starts), Some(ends)) => at >= starts && at < ends,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map_or_else(|e| panic!("{text}: {e}"), |at| at.with_timezone(&Utc))
    }

    #[test]
    fn reads_the_references_examples() {
        for (text, instant) in [
            ("2020-12-31T08:00:00.000t+0000", "2020-12-31T08:00:00Z"),
            ("20200807T20:49:54.0t+0000", "2020-08-07T20:49:54Z"),
            ("2020-12-31T23:59:59-05:00", "2021-01-01T04:59:59Z"),
            ("20211231T08:00:00.000t+0000", "2021-12-31T08:00:00Z"),
            ("2020-12-31T08:00:00.000t+0530", "2020-12-31T02:30:00Z"),
            ("2020-12-31T08:00:00.000t+05:30", "2020-12-31T02:30:00Z"),
            ("2020-12-31T08:00:00.000+0000", "2020-12-31T08:00:00Z"),
        ] {
            assert_eq!(parse(text), Ok(utc(instant)), "{text}");
        }
        for bad in [
            "",
            "tomorrow",
            "2020-13-01T00:00:00Z",
            "20200807T20:49:54.0x+0000",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn writes_the_references_shapes() {
        let at = utc("2020-08-07T20:49:54.123Z");
        assert_eq!(user_record(at), "2020-08-07T20:49:54.123t+0000");
        assert_eq!(compact(at), "20200807T20:49:54.1t+0000");
        assert_eq!(parse(&user_record(at)), Ok(at));
        assert_eq!(parse(&compact(at)), Ok(utc("2020-08-07T20:49:54.1Z")));
    }

    #[test]
    fn the_quota_day_turns_at_central_midnight() {
        for (at, day) in [
            // CST: midnight is 06:00 UTC.
            ("2026-01-16T05:59:59Z", "2026-01-15"),
            ("2026-01-16T06:00:00Z", "2026-01-16"),
            // CDT: 05:00 UTC.
            ("2026-07-02T04:59:59Z", "2026-07-01"),
            ("2026-07-02T05:00:00Z", "2026-07-02"),
            // 2026's switches: 8 March 08:00 UTC, 1 November 07:00 UTC.
            ("2026-03-08T07:59:59Z", "2026-03-08"),
            ("2026-11-01T06:59:59Z", "2026-11-01"),
            ("2026-11-02T05:59:59Z", "2026-11-01"),
        ] {
            assert_eq!(quota_day(utc(at)).to_string(), day, "{at}");
        }
    }
}
