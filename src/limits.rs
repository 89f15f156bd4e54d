//! Limits of a platform's API: so many calls per sliding window, so many in flight, and the
//! durations they are written with. Shared by the plan language, the clients' limiters and the
//! sandboxes, and owned by none of them.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

tokio::task_local! {
    static URGENCY: Cell<u32>;
}

/// Runs `work` with an urgency its calls carry to the limiter ([`set_urgency`] changes it as
/// the work goes on). Calls made outside any such scope are the most urgent: planning reads
/// that every later step waits for.
pub async fn with_urgency<F: Future>(work: F) -> F::Output {
    URGENCY.scope(Cell::new(u32::MAX), work).await
}

/// Sets the urgency of the calls the current [`with_urgency`] scope makes from now on: a run
/// uses the steps it has left, so when the instance's limits are the bottleneck, the runs
/// furthest from their end go first and many runs end together rather than one after another.
pub fn set_urgency(urgency: u32) {
    let _ = URGENCY.try_with(|cell| cell.set(urgency));
}

/// The urgency of a call made now.
pub fn urgency() -> u32 {
    URGENCY.try_with(Cell::get).unwrap_or(u32::MAX)
}

/// At most `calls` calls in any sliding window of `window`; written `100/20s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Calls allowed in one window.
    pub calls: u32,
    /// Length of the sliding window.
    pub window: Duration,
}

impl RateLimit {
    /// Marketo's documented default: 100 calls per 20 seconds.
    pub const MARKETO_DEFAULT: RateLimit = RateLimit {
        calls: 100,
        window: Duration::from_secs(20),
    };
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::MARKETO_DEFAULT
    }
}

/// How many calls a client keeps in flight at most, by default (Marketo's limit).
pub const DEFAULT_CONCURRENCY: usize = 10;

/// Rate and concurrency limits of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Calls per sliding window.
    pub rate: RateLimit,
    /// Calls in flight.
    pub concurrency: usize,
    /// The part of both that relinker may use: the instance's limits are shared with every
    /// integration, the services being rotated included.
    pub share: Share,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            rate: RateLimit::MARKETO_DEFAULT,
            concurrency: DEFAULT_CONCURRENCY,
            share: Share::WHOLE,
        }
    }
}

impl Limits {
    /// The limits relinker keeps to: its share of each, at least one call.
    #[must_use]
    pub fn own(&self) -> Limits {
        let part = |n: u64| (n * u64::from(self.share.0) / 1000).max(1);
        Limits {
            rate: RateLimit {
                calls: u32::try_from(part(u64::from(self.rate.calls))).unwrap_or(u32::MAX),
                window: self.rate.window,
            },
            concurrency: usize::try_from(part(self.concurrency as u64)).unwrap_or(usize::MAX),
            share: Share::WHOLE,
        }
    }
}

/// A part of an instance's limits, from 0.001 to 1, written as a decimal (`0.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Share(u16);

impl Share {
    /// All of it.
    pub const WHOLE: Share = Share(1000);

    /// A share from a decimal in (0, 1], to the thousandth; `None` outside that range.
    pub fn new(part: f64) -> Option<Share> {
        let thousandths = (part * 1000.0).round();
        if !(part.is_finite() && part > 0.0 && (1.0..=1000.0).contains(&thousandths)) {
            return None;
        }
        // In 1..=1000 by the check above: the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Some(Share(thousandths as u16))
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = format!("{:.3}", f64::from(self.0) / 1000.0);
        f.write_str(text.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A duration as plans write it: `90s`, `30m`, `24h`, `1500ms`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let seconds = duration.as_secs();
    if !millis.is_multiple_of(1000) {
        format!("{millis}ms")
    } else if seconds > 0 && seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds > 0 && seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// A rate limit that is not of the form `CALLS/WINDOW` (`100/20s`, `50/2s`, `6000/1h`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a rate limit: expected CALLS/WINDOW such as `100/20s` (window units ms, s, m, h)"
)]
pub struct RateLimitError {
    /// The text that failed to parse.
    pub value: String,
}

impl FromStr for RateLimit {
    type Err = RateLimitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || RateLimitError {
            value: text.to_owned(),
        };
        let (calls, window) = text.trim().split_once('/').ok_or_else(error)?;
        let calls: u32 = calls.trim().parse().map_err(|_| error())?;
        let window = parse_duration(window.trim()).ok_or_else(error)?;
        if calls == 0 || window.is_zero() {
            return Err(error());
        }
        Ok(Self { calls, window })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.window.as_millis();
        if millis.is_multiple_of(1000) {
            write!(f, "{}/{}s", self.calls, millis / 1000)
        } else {
            write!(f, "{}/{millis}ms", self.calls)
        }
    }
}

/// Parses `250ms`, `20s`, `30m`, `1h`, `7d`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let millis = match unit {
        "ms" => number,
        "" | "s" => number.checked_mul(1_000)?,
        "m" => number.checked_mul(60_000)?,
        "h" => number.checked_mul(3_600_000)?,
        "d" => number.checked_mul(86_400_000)?,
        _ => return None,
    };
    Some(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn rate(text: &str, calls: u32, window_ms: u64) {
        let parsed: RateLimit = text.parse().unwrap();
        assert_eq!(
            parsed,
            RateLimit {
                calls,
                window: Duration::from_millis(window_ms)
            }
        );
    }

    #[test]
    fn parses_rate_limits() {
        rate("100/20s", 100, 20_000);
        rate("100/2s", 100, 2_000);
        rate(" 5 / 250ms ", 5, 250);
        rate("6000/1h", 6000, 3_600_000);
        rate("10/20", 10, 20_000);
    }

    #[test]
    fn rejects_bad_rate_limits() {
        for bad in [
            "", "100", "0/20s", "100/0s", "x/20s", "100/20w", "-1/2s", "100/s",
        ] {
            assert!(bad.parse::<RateLimit>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn durations_parse_and_print() {
        for (text, millis) in [
            ("250ms", 250),
            ("90s", 90_000),
            ("30m", 1_800_000),
            ("7d", 604_800_000),
            ("12", 12_000),
        ] {
            assert_eq!(
                parse_duration(text),
                Some(Duration::from_millis(millis)),
                "{text}"
            );
        }
        assert_eq!(parse_duration("1w"), None);
        for (millis, text) in [
            (250, "250ms"),
            (90_000, "90s"),
            (1_800_000, "30m"),
            (86_400_000, "24h"),
        ] {
            assert_eq!(format_duration(Duration::from_millis(millis)), text);
        }
    }

    #[test]
    fn a_share_scales_both_limits_and_keeps_one_call() {
        let half = Limits {
            share: Share::new(0.5).unwrap(),
            ..Limits::default()
        };
        assert_eq!(half.own().rate.calls, 50);
        assert_eq!(half.own().concurrency, 5);
        assert_eq!(half.own().rate.window, Duration::from_secs(20));
        let sliver = Limits {
            share: Share::new(0.001).unwrap(),
            ..Limits::default()
        };
        assert_eq!((sliver.own().rate.calls, sliver.own().concurrency), (1, 1));
        assert_eq!(Limits::default().own(), Limits::default());
        for bad in [0.0, -0.5, 1.01, f64::NAN, f64::INFINITY, 0.0004] {
            assert_eq!(Share::new(bad), None, "{bad}");
        }
        assert_eq!(Share::new(0.25).unwrap().to_string(), "0.25");
        assert_eq!(Share::WHOLE.to_string(), "1");
    }

    #[test]
    fn displays_round_trip() {
        for text in ["100/20s", "5/250ms"] {
            assert_eq!(text.parse::<RateLimit>().unwrap().to_string(), text);
        }
    }
}
