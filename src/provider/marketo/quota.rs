//! Marketo's daily quota: how much of today's is left, and the quota day, which resets at
//! 12:00 AM US Central time.
//!
//! US Central is UTC-6, or UTC-5 from the second Sunday of March to the first Sunday of
//! November (02:00 local). The rule is small enough to state here rather than pull in a time-zone
//! database for one zone.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc, Weekday,
};

use super::Api;
use crate::provider::ProviderError;

/// Reads this many calls long or longer are weighed against what is left of today's quota
/// before they start; shorter ones cost less than the look would be worth.
pub const WEIGH_FROM: u64 = 300;

/// Today's calls against the daily quota, as the usage statistics count them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaToday {
    /// Calls every API user of the instance made today.
    pub used: u64,
    /// Calls allowed per quota day.
    pub daily: u64,
}

impl QuotaToday {
    /// Calls left today.
    pub fn left(self) -> u64 {
        self.daily.saturating_sub(self.used)
    }

    /// The part of what is left today that `calls` would use: over 1 when they do not fit.
    #[allow(clippy::cast_precision_loss)] // call counts are far below 2^52
    pub fn share_of_left(self, calls: u64) -> f64 {
        match self.left() {
            0 => f64::INFINITY,
            left => calls as f64 / left as f64,
        }
    }
}

/// Reads today's calls from the usage statistics (one call).
pub async fn today<A: Api>(provider: &A, daily: u64) -> Result<QuotaToday, ProviderError> {
    let day = quota_day(Utc::now());
    let days = provider.usage_last_7_days().await?;
    let used = days
        .iter()
        .filter(|usage| usage.date == day)
        .flat_map(|usage| usage.calls.values())
        .sum();
    Ok(QuotaToday { used, daily })
}

/// The US Central offset in force at `at`.
pub fn central_offset(at: DateTime<Utc>) -> FixedOffset {
    let year = at.year();
    // DST starts 02:00 CST (08:00 UTC) and ends 02:00 CDT (07:00 UTC).
    let start = nth_sunday(year, 3, 2)
        .and_hms_opt(8, 0, 0)
        .map(|n| Utc.from_utc_datetime(&n));
    let end = nth_sunday(year, 11, 1)
        .and_hms_opt(7, 0, 0)
        .map(|n| Utc.from_utc_datetime(&n));
    let daylight = matches!((start, end), (Some(s), Some(e)) if at >= s && at < e);
    let hours = if daylight { -5 } else { -6 };
    FixedOffset::east_opt(hours * 3600).unwrap_or_else(|| Utc.fix())
}

/// The quota day (a US Central calendar date) that `at` falls in.
pub fn quota_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&central_offset(at)).date_naive()
}

/// The instant the quota day containing `at` ends.
pub fn next_reset(at: DateTime<Utc>) -> DateTime<Utc> {
    let next_day = quota_day(at) + Duration::days(1);
    let midnight = next_day.and_hms_opt(0, 0, 0).unwrap_or_default();
    // Midnight never falls in a DST transition (they happen at 02:00), so the offset of the
    // following noon is the offset of that midnight.
    let probe = Utc.from_utc_datetime(&(midnight + Duration::hours(12)));
    let offset = central_offset(probe);
    offset
        .from_local_datetime(&midnight)
        .single()
        .map_or(probe, |local| local.with_timezone(&Utc))
}

fn nth_sunday(year: i32, month: u32, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Sun, n).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_share_of_what_is_left_today() {
        let today = QuotaToday {
            used: 45_000,
            daily: 50_000,
        };
        assert_eq!(today.left(), 5_000);
        assert!((today.share_of_left(2_000) - 0.4).abs() < 1e-9);
        let spent = QuotaToday {
            used: 60_000,
            daily: 50_000,
        };
        assert_eq!(spent.left(), 0);
        assert!(spent.share_of_left(1).is_infinite());
    }

    #[test]
    fn resets_at_central_midnight() {
        // Winter: CST, midnight is 06:00 UTC.
        assert_eq!(
            next_reset(utc("2026-01-15T12:00:00Z")),
            utc("2026-01-16T06:00:00Z")
        );
        assert_eq!(
            next_reset(utc("2026-01-15T05:59:59Z")),
            utc("2026-01-15T06:00:00Z")
        );
        // Summer: CDT, midnight is 05:00 UTC.
        assert_eq!(
            next_reset(utc("2026-07-01T12:00:00Z")),
            utc("2026-07-02T05:00:00Z")
        );
    }

    #[test]
    fn follows_the_dst_switches() {
        // 2026: DST from 8 March to 1 November.
        assert_eq!(
            central_offset(utc("2026-03-08T07:59:59Z")).local_minus_utc(),
            -6 * 3600
        );
        assert_eq!(
            central_offset(utc("2026-03-08T08:00:00Z")).local_minus_utc(),
            -5 * 3600
        );
        assert_eq!(
            central_offset(utc("2026-11-01T06:59:59Z")).local_minus_utc(),
            -5 * 3600
        );
        assert_eq!(
            central_offset(utc("2026-11-01T07:00:00Z")).local_minus_utc(),
            -6 * 3600
        );
        assert_eq!(
            quota_day(utc("2026-11-23T03:00:00Z")).to_string(),
            "2026-11-22"
        );
    }
}
