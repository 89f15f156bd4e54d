//! Marketo's three limits: a sliding-window rate limit (606), calls in flight (615) and a
//! daily quota (607). Calls refused by any of them count against none of them, as Marketo
//! documents; identity calls are not limited at all (the router applies this layer only to
//! the User Management routes).

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use tokio::time::Instant;

use super::dates::quota_day;
use super::error::ApiError;
use super::state::{Sandbox, SandboxConfig};
use crate::limits::RateLimit;
use crate::sandbox::lock;
use crate::sandbox::requests::ErrorCode;

/// The limits' configuration and live counters.
#[derive(Debug)]
pub(crate) struct Limits {
    rate: RateLimit,
    concurrency: usize,
    daily_quota: u64,
    counters: Mutex<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// Arrival times of admitted calls still inside the window.
    window: VecDeque<Instant>,
    in_flight: usize,
    day: Option<NaiveDate>,
    used_today: u64,
}

/// An admitted call; dropping it (even when the client disconnects mid-call) frees its slot.
pub(crate) struct Admission<'a> {
    limits: &'a Limits,
}

impl Admission<'_> {
    /// Gives the call back: calls answered 601 or 602 count against no limit.
    fn refund(&self, admitted_at: Instant) {
        let mut counters = lock(&self.limits.counters);
        if let Some(at) = counters.window.iter().rposition(|t| *t == admitted_at) {
            counters.window.remove(at);
        }
        counters.used_today = counters.used_today.saturating_sub(1);
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        let mut counters = lock(&self.limits.counters);
        counters.in_flight = counters.in_flight.saturating_sub(1);
    }
}

impl Limits {
    pub(crate) fn new(config: &SandboxConfig) -> Self {
        Self {
            rate: config.rate_limit,
            concurrency: config.concurrency,
            daily_quota: config.daily_quota,
            counters: Mutex::new(Counters::default()),
        }
    }

    /// Counts `calls` made on `day` before the sandbox started (a fixture's usage).
    pub(crate) fn already_used(&self, day: NaiveDate, calls: u64) {
        let mut counters = lock(&self.counters);
        counters.day = Some(day);
        counters.used_today = calls;
    }

    /// Admits a call or says which limit refuses it.
    pub(crate) fn admit(&self, now: Instant, today: NaiveDate) -> Result<Admission<'_>, ApiError> {
        let mut counters = lock(&self.counters);
        if counters.day != Some(today) {
            counters.day = Some(today);
            counters.used_today = 0;
        }
        if counters.used_today >= self.daily_quota {
            return Err(ApiError::quota_reached());
        }
        while counters
            .window
            .front()
            .is_some_and(|&at| now.duration_since(at) >= self.rate.window)
        {
            counters.window.pop_front();
        }
        if counters.window.len() >= self.rate.calls as usize {
            return Err(ApiError::rate_limited(
                self.rate.calls,
                self.rate.window.as_secs(),
            ));
        }
        if counters.in_flight >= self.concurrency {
            return Err(ApiError::concurrency_limited(self.concurrency));
        }
        counters.window.push_back(now);
        counters.in_flight += 1;
        counters.used_today += 1;
        Ok(Admission { limits: self })
    }

    /// Calls used in the current quota day.
    pub(crate) fn used_today(&self) -> u64 {
        lock(&self.counters).used_today
    }
}

/// The largest request body Marketo takes (NOTES.md: over 1 MB is HTTP 413).
const MAX_BODY: usize = 1024 * 1024;
/// The longest request URI it takes (over 8 KB is HTTP 414).
const MAX_URI: usize = 8 * 1024;

/// Middleware refusing what Marketo's front end refuses before any API sees it: a body over
/// 1 MB (413) or a URI over 8 KB (414). Such answers carry no Marketo envelope.
pub(crate) async fn sizes(request: Request, next: Next) -> Response {
    use axum::http::StatusCode;
    if request.uri().to_string().len() > MAX_URI {
        return (StatusCode::URI_TOO_LONG, "Request-URI Too Long").into_response();
    }
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(bytes) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Err(_) => (StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").into_response(),
    }
}

/// Middleware enforcing the limits on the User Management routes.
pub(crate) async fn enforce(
    State(sandbox): State<Sandbox>,
    request: Request,
    next: Next,
) -> Response {
    let today = quota_day(sandbox.now());
    let admitted_at = Instant::now();
    let admission = match sandbox.shared.limits.admit(admitted_at, today) {
        Ok(admission) => admission,
        Err(refusal) => return refusal.into_response(),
    };
    let response = next.run(request).await;
    let authentication = response
        .extensions()
        .get::<ErrorCode>()
        .is_some_and(|code| code.0 == "601" || code.0 == "602");
    if authentication {
        admission.refund(admitted_at);
    }
    drop(admission);
    response
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(calls: u32, window_ms: u64, concurrency: usize, quota: u64) -> Limits {
        Limits::new(&SandboxConfig {
            rate_limit: RateLimit {
                calls,
                window: Duration::from_millis(window_ms),
            },
            concurrency,
            daily_quota: quota,
            token_ttl: Duration::from_mins(1),
            behaviours: Vec::new(),
        })
    }

    fn day(n: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, n).unwrap()
    }

    #[test]
    fn sliding_window_refuses_then_recovers() {
        let limits = limits(2, 1000, 10, 100);
        let t0 = Instant::now();
        drop(limits.admit(t0, day(1)).unwrap());
        drop(
            limits
                .admit(t0 + Duration::from_millis(500), day(1))
                .unwrap(),
        );
        let refused = limits
            .admit(t0 + Duration::from_millis(999), day(1))
            .err()
            .unwrap();
        assert_eq!(refused.code, "606");
        assert_eq!(
            refused.message,
            "Max rate limit '2' exceeded with in '1' secs"
        );
        assert!(limits.admit(t0 + Duration::from_secs(1), day(1)).is_ok());
    }

    #[test]
    fn concurrency_counts_calls_in_flight() {
        let limits = limits(100, 1000, 2, 100);
        let now = Instant::now();
        let first = limits.admit(now, day(1)).unwrap();
        let _second = limits.admit(now, day(1)).unwrap();
        assert_eq!(limits.admit(now, day(1)).err().unwrap().code, "615");
        drop(first);
        assert!(limits.admit(now, day(1)).is_ok());
    }

    #[test]
    fn quota_resets_with_the_day_and_refusals_are_free() {
        let limits = limits(100, 1000, 10, 2);
        let now = Instant::now();
        for _ in 0..2 {
            drop(limits.admit(now, day(1)).unwrap());
        }
        assert_eq!(limits.admit(now, day(1)).err().unwrap().code, "607");
        assert_eq!(limits.used_today(), 2);
        assert!(limits.admit(now, day(2)).is_ok());
    }
}
