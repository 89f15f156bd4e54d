//! The client-side limiter: keeps one instance's calls under its rate and concurrency limits,
//! so a healthy run never sees 606 or 615.
//!
//! One limiter belongs to one Marketo instance and is shared by every task calling it (the
//! client is cheap to clone and clones share it). A call takes a concurrency slot first, then a
//! place in the sliding window, and keeps the slot until its answer is in.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

use crate::limits::{Limits, RateLimit};

/// Shared limiter state.
#[derive(Debug)]
pub struct Limiter {
    rate: RateLimit,
    /// Extra wait beyond the window: the server stamps a call when it arrives, a little after
    /// the client stamps it, and that delay varies (connection set-up, a busy scheduler); a
    /// call exactly one window after another could land inside the server's window. A
    /// hundredth of the window (20 ms of 2 s, 200 ms of 20 s) keeps 99% of the limit usable.
    margin: Duration,
    slots: Semaphore,
    sent: Mutex<VecDeque<Instant>>,
}

/// A call's right to be in flight; the slot frees when this drops.
#[derive(Debug)]
pub struct Permit<'a> {
    _slot: SemaphorePermit<'a>,
}

impl Limiter {
    /// The rate window: how long a refused (606) call must wait for the window to roll over.
    pub fn window(&self) -> Duration {
        self.rate.window
    }

    /// A limiter for these limits.
    pub fn new(limits: Limits) -> Self {
        let margin =
            (limits.rate.window / 100).clamp(Duration::from_millis(10), Duration::from_millis(250));
        Self {
            rate: limits.rate,
            margin,
            slots: Semaphore::new(limits.concurrency.max(1)),
            sent: Mutex::new(VecDeque::with_capacity(limits.rate.calls as usize)),
        }
    }

    /// Waits until a call may be sent.
    pub async fn acquire(&self) -> Permit<'_> {
        // The semaphore is never closed, so acquire cannot fail; if it somehow did, waiting on
        // the window alone still keeps the rate.
        let slot = loop {
            if let Ok(slot) = self.slots.acquire().await {
                break slot;
            }
            tokio::time::sleep(self.margin).await;
        };
        loop {
            let wait = {
                let mut sent = self
                    .sent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let now = Instant::now();
                let span = self.rate.window + self.margin;
                while sent
                    .front()
                    .is_some_and(|&at| now.duration_since(at) >= span)
                {
                    sent.pop_front();
                }
                if sent.len() < self.rate.calls as usize {
                    sent.push_back(now);
                    None
                } else {
                    sent.front()
                        .map(|&oldest| (oldest + span).saturating_duration_since(now))
                }
            };
            match wait {
                None => return Permit { _slot: slot },
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(calls: u32, window_ms: u64, concurrency: usize) -> Limiter {
        Limiter::new(Limits {
            rate: RateLimit {
                calls,
                window: Duration::from_millis(window_ms),
            },
            concurrency,
        })
    }

    #[tokio::test(start_paused = true)]
    async fn never_lets_more_than_the_rate_into_any_window() {
        let limiter = limiter(5, 1000, 10);
        let start = Instant::now();
        let mut stamps = Vec::new();
        for _ in 0..12 {
            drop(limiter.acquire().await);
            stamps.push(start.elapsed());
        }
        for (i, later) in stamps.iter().enumerate().skip(5) {
            let window_start = stamps[i - 5];
            assert!(
                later.saturating_sub(window_start) >= Duration::from_secs(1),
                "{stamps:?}"
            );
        }
        // And it does not wait longer than it must: 12 calls at 5 per ~1 s take two windows.
        assert!(stamps[11] < Duration::from_millis(2100), "{stamps:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn holds_calls_back_at_the_concurrency_limit() {
        let limiter = limiter(100, 1000, 2);
        let first = limiter.acquire().await;
        let _second = limiter.acquire().await;
        let third = tokio::time::timeout(Duration::from_millis(50), limiter.acquire()).await;
        assert!(third.is_err(), "a third call must wait for a slot");
        drop(first);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), limiter.acquire())
                .await
                .is_ok()
        );
    }
}
