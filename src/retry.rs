//! How long a client keeps trying a platform that does not answer, or answers with errors:
//! a time budget per call, not a count, shared by every provider's client.
//!
//! Within the budget, attempts are spaced with exponential backoff and jitter; a wait the
//! server asks for (Marketo's 606 needs a whole rate window, dotdigital's 429 names the moment
//! its limit resets) is honoured, and the budget grows to cover it. Each wait is one warning
//! line at the default verbosity, saying what it waits for and when it will give up.

use std::fmt::Display;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use backon::ExponentialBuilder;
use tokio::time::Instant;

/// How hard to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long one call may keep retrying (waits and attempts together) before it gives up.
    /// A wait the server asks for is always granted on top.
    pub give_up_after: Duration,
    /// First backoff delay.
    pub min_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
}

/// The default time budget of one call.
pub const DEFAULT_GIVE_UP_AFTER: Duration = Duration::from_mins(1);

/// The shortest per-attempt timeout, however little of the budget is left: a change needs a
/// fair chance to be answered, or it ends up with an unknown outcome.
const MIN_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            give_up_after: DEFAULT_GIVE_UP_AFTER,
            min_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The backoff between attempts; the budget, not a count, ends the retries.
    pub fn backoff(self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.min_delay)
            .with_max_delay(self.max_delay)
            .with_max_times(usize::MAX)
            .with_jitter()
    }
}

/// One call's time budget: when it gives up, and how long its attempts may take. The attempt
/// and the retry decision both see the deadline; a std mutex guards it, never held across an
/// `.await`.
#[derive(Debug)]
pub struct Budget {
    deadline: Mutex<Instant>,
    timeout: Duration,
}

impl Budget {
    /// A budget starting now, for attempts that each time out after `timeout`.
    pub fn new(policy: RetryPolicy, timeout: Duration) -> Self {
        Self {
            deadline: Mutex::new(Instant::now() + policy.give_up_after),
            timeout,
        }
    }

    fn deadline(&self) -> Instant {
        *self.deadline.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves the deadline back by time that was not spent on the platform (waiting in the
    /// client's own queue).
    pub fn extend(&self, by: Duration) {
        let mut deadline = self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
        *deadline += by;
    }

    /// The timeout of the next attempt: the configured one, cut to what is left of the budget.
    pub fn attempt_timeout(&self) -> Duration {
        let left = self.deadline().saturating_duration_since(Instant::now());
        self.timeout.min(left.max(MIN_ATTEMPT_TIMEOUT))
    }

    /// How long to wait after `error` before the next attempt of `what`, or `None` to give
    /// up. `at_least` is a wait the server asked for; the budget grows to cover it.
    pub fn next_wait(
        &self,
        error: &dyn Display,
        backoff: Option<Duration>,
        at_least: Option<Duration>,
        what: &str,
    ) -> Option<Duration> {
        let now = Instant::now();
        let wait = match at_least {
            Some(wait) => {
                let room = now + wait + self.timeout.min(wait);
                let mut deadline = self.deadline.lock().unwrap_or_else(PoisonError::into_inner);
                *deadline = (*deadline).max(room);
                wait.max(backoff.unwrap_or_default())
            }
            None => backoff?,
        };
        let deadline = self.deadline();
        if now + wait >= deadline {
            tracing::warn!("giving up on {what}: {error}");
            return None;
        }
        let left = deadline.saturating_duration_since(now + wait);
        tracing::warn!(
            "waiting {:.1} s before trying {what} again: {error} (gives up in {} s)",
            wait.as_secs_f64(),
            left.as_secs()
        );
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_budget_ends_retries_and_grows_for_a_wait_the_server_asks_for() {
        let policy = RetryPolicy {
            give_up_after: Duration::from_secs(5),
            ..RetryPolicy::default()
        };
        let budget = Budget::new(policy, Duration::from_secs(30));
        assert_eq!(budget.attempt_timeout(), Duration::from_secs(5));
        let second = Duration::from_secs(1);
        assert_eq!(
            budget.next_wait(&"503", Some(second), None, "x"),
            Some(second)
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            budget.next_wait(&"503", Some(second), None, "x"),
            None,
            "spent"
        );
        // A server that asks for 20 s gets them, however little budget is left.
        let window = Duration::from_secs(20);
        assert_eq!(
            budget.next_wait(&"606", Some(second), Some(window), "x"),
            Some(window)
        );
    }
}
