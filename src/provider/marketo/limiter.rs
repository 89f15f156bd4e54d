//! The client-side limiter: keeps one instance's calls under its rate and concurrency limits,
//! so a healthy run never sees 606 or 615, and backs off like a good neighbour when it does.
//!
//! One limiter belongs to one Marketo instance and is shared by every task calling it (the
//! client is cheap to clone and clones share it). A call takes a concurrency slot first, then a
//! place in the sliding window, and keeps the slot until its answer is in.
//!
//! Marketo's limits are per instance and shared with every integration, so the instance can
//! refuse a call the limiter let through. relinker cannot see the other integrations' calls,
//! only the instance's refusals, so both limits are additive increase, multiplicative decrease:
//!
//! - A refused call did not count there, so it gives back its place in the window.
//! - A 606 (rate) means the instance's window is full: every call waits until it has rolled
//!   over, then relinker goes on at its full rate. One refusal says only that someone filled
//!   one window (a neighbour's burst, a nightly sync), and a run that crawled after it would pay
//!   for a window that has passed. A second 606 within ten windows of the first says the
//!   neighbour stays: relinker then places at most three quarters of the calls it had in that
//!   window (the rest was evidently someone else's), and so does every 606 until the allowance
//!   is back at the full rate. Each window in which relinker's own
//!   allowance held a call back raises it by one: a neighbour using part of the window is met
//!   again rarely, and one that has gone is made up for slowly.
//! - Calls in flight start at half the limit and grow by one with each half round of answers
//!   up to it (a ramp: an instance already busy is found with one refusal, where a jump to the
//!   limit would send several calls into it at once). A 615 halves them; each hundred calls answered
//!   while calls waited for a slot raise them by one again. Answers while slots stood idle
//!   prove nothing about room on the instance, so they raise nothing.

use std::cmp::Reverse;
use std::collections::{BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::limits::{Limits, RateLimit};

/// Calls answered, without a 615 and while calls waited for a slot, after which one more call
/// may be in flight: each raise is a probe that may meet a 615, so probing once per hundred
/// calls keeps refusals under 1%.
const PROBE_EVERY: usize = 100;

/// The share of its own calls in the window relinker keeps placing after a repeated 606, in
/// quarters.
const RATE_KEEP_QUARTERS: usize = 3;

/// A 606 within this many windows of the last one is a repeated refusal: the neighbour that
/// filled the window is still there once relinker came back. Runs are bursty (a person's step,
/// a run waiting on its own answers), so a steady neighbour can go unmet for a few windows:
/// with three, a 50-plan apply beside one was refused three times where ten windows see it
/// twice (docs/performance.md).
const REPEAT_WINDOWS: u32 = 10;

/// Shared limiter state.
#[derive(Debug)]
pub struct Limiter {
    rate: RateLimit,
    /// Extra wait beyond the window: the server stamps a call when it arrives, a little after
    /// the client stamps it, and that delay varies (connection set-up, a busy scheduler); a
    /// call exactly one window after another could land inside the server's window. A
    /// hundredth of the window, between 10 and 250 ms (20 ms of 2 s, 200 ms of 20 s), keeps
    /// 99% of the limit usable.
    margin: Duration,
    /// The most calls in flight: relinker's share of the instance's concurrency limit.
    ceiling: usize,
    state: Mutex<State>,
    /// Woken whenever a slot frees, the allowance grows or a hold ends.
    changed: Notify,
}

#[derive(Debug)]
struct State {
    in_flight: usize,
    /// Calls allowed in flight now: the ceiling, or less after a 615.
    allowed: usize,
    /// Calls answered without a 615, while calls waited for a slot, since the allowance last
    /// changed.
    answered: usize,
    /// Calls placed in a window now: the rate limit, or less after repeated 606s.
    rate_allowed: usize,
    /// When the rate allowance last changed: it grows by one per window at most.
    rate_changed_at: Instant,
    /// When the instance last refused a call for its rate (calls sent together and refused
    /// together are one refusal).
    rate_refused_at: Option<Instant>,
    /// When each call still inside the window was stamped.
    sent: VecDeque<Instant>,
    /// No call is sent before this (after a 606).
    hold_until: Option<Instant>,
    /// When the allowance was last halved: calls sent before it were sent under the larger
    /// one, and their 615s are the same news.
    halved_at: Option<Instant>,
    /// Calls waiting, most urgent first (ties by arrival): a call goes only when none more
    /// urgent waits.
    waiting: BTreeSet<(Reverse<u32>, u64)>,
    /// The next arrival number.
    arrivals: u64,
    /// Calls sent since the limiter was made.
    sent_total: u64,
    /// Time calls were held back for the rate window (a 606's wait, or the window full),
    /// counted once however many calls waited at the same time.
    waited: Duration,
    /// The end of the last wait counted in `waited`.
    waited_until: Option<Instant>,
    /// Until the first 615 or the limit, each half round of answers (half as many as are
    /// allowed in flight) raises the allowance by one, from half the limit: a busy instance is
    /// found out with one refusal, not ten, and an idle one reaches ten in about three rounds
    /// (under half a second at 150 ms a call).
    starting: bool,
}

/// What calls through a limiter cost: how many were sent, and how long calls were held back
/// for the rate window (wall time, not the sum over calls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Spent {
    /// Calls sent.
    pub calls: u64,
    /// Time calls were held back for the rate window.
    pub waited_for_rate: Duration,
}

impl State {
    /// Counts a hold from `now` until `until` into `waited`, less what an earlier hold already
    /// counted of it.
    fn count_wait(&mut self, now: Instant, until: Instant) {
        let from = self.waited_until.map_or(now, |counted| counted.max(now));
        if until > from {
            self.waited += until - from;
            self.waited_until = Some(until);
        }
    }
}

/// How the instance answered a call, as far as its limits go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// It counted against the limits (any answer but the ones below).
    Counted,
    /// 601 or 602: authentication answers count against no limit.
    NotCounted,
    /// 606: the instance's rate window is full.
    RateLimited,
    /// 615: too many calls in flight on the instance.
    ConcurrencyLimited,
}

/// A call's right to be in flight, and its place in the window. Dropping it without
/// [`Permit::answered`] counts as [`Answer::Counted`] (the call may have reached the instance).
#[derive(Debug)]
pub struct Permit<'a> {
    limiter: &'a Limiter,
    stamped: Instant,
    answer: Answer,
}

impl Permit<'_> {
    /// Records how the instance answered; the permit is given back.
    pub fn answered(mut self, answer: Answer) {
        self.answer = answer;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.limiter.release(self.stamped, self.answer);
    }
}

/// A call waiting in [`Limiter::acquire`]; it leaves the queue when it goes or gives up.
struct Waiter<'a> {
    limiter: &'a Limiter,
    ticket: (Reverse<u32>, u64),
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        if self.limiter.lock().waiting.remove(&self.ticket) {
            self.limiter.changed.notify_waiters();
        }
    }
}

impl Limiter {
    /// A limiter keeping to relinker's share of these limits.
    pub fn new(limits: Limits) -> Self {
        let own = limits.own();
        let margin =
            (own.rate.window / 100).clamp(Duration::from_millis(10), Duration::from_millis(250));
        let ceiling = own.concurrency.max(1);
        let first = (ceiling / 2).max(1);
        Self {
            rate: own.rate,
            margin,
            ceiling,
            state: Mutex::new(State {
                in_flight: 0,
                allowed: first,
                answered: 0,
                rate_allowed: own.rate.calls as usize,
                rate_changed_at: Instant::now(),
                rate_refused_at: None,
                sent: VecDeque::with_capacity(own.rate.calls as usize),
                hold_until: None,
                halved_at: None,
                waiting: BTreeSet::new(),
                arrivals: 0,
                sent_total: 0,
                waited: Duration::ZERO,
                waited_until: None,
                starting: first < ceiling,
            }),
            changed: Notify::new(),
        }
    }

    /// The rate window: how long a refused (606) call must wait for the window to roll over.
    pub fn window(&self) -> Duration {
        self.rate.window
    }

    /// The margin added to the window before a place in it is reused.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// Calls allowed in flight now (less than the limit after a 615).
    pub fn allowed(&self) -> usize {
        self.lock().allowed
    }

    /// Calls placed in a window now (less than the limit after repeated 606s).
    pub fn rate_allowed(&self) -> usize {
        self.lock().rate_allowed
    }

    /// What the calls through this limiter cost so far.
    pub fn spent(&self) -> Spent {
        let state = self.lock();
        Spent {
            calls: state.sent_total,
            waited_for_rate: state.waited,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Waits until a call may be sent: a slot is free, the window has a place, and no more
    /// urgent call waits (see [`crate::limits::set_urgency`]).
    pub async fn acquire(&self) -> Permit<'_> {
        let ticket = {
            let mut state = self.lock();
            state.arrivals += 1;
            let ticket = (Reverse(crate::limits::urgency()), state.arrivals);
            state.waiting.insert(ticket);
            Waiter {
                limiter: self,
                ticket,
            }
        };
        loop {
            // Registered before looking, so a release between the look and the wait is not
            // missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = match self.try_take(Instant::now(), ticket.ticket) {
                Ok(stamped) => {
                    return Permit {
                        limiter: self,
                        stamped,
                        answer: Answer::Counted,
                    };
                }
                Err(wait) => wait,
            };
            match wait {
                Some(wait) => {
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// A slot and a place in the window, stamped `now`; or how long to wait (`None`: until a
    /// slot frees).
    fn try_take(
        &self,
        now: Instant,
        ticket: (Reverse<u32>, u64),
    ) -> Result<Instant, Option<Duration>> {
        let mut state = self.lock();
        // A more urgent call waits: it goes first, and this one hears when it has.
        if state
            .waiting
            .first()
            .is_some_and(|first| first.0 < ticket.0)
        {
            return Err(None);
        }
        if let Some(until) = state.hold_until {
            if until > now {
                state.count_wait(now, until);
                return Err(Some(until - now));
            }
            state.hold_until = None;
        }
        let span = self.rate.window + self.margin;
        while state
            .sent
            .front()
            .is_some_and(|&at| now.duration_since(at) >= span)
        {
            state.sent.pop_front();
        }
        if state.in_flight >= state.allowed {
            return Err(None);
        }
        if state.sent.len() >= state.rate_allowed && !self.raise_rate(&mut state, now) {
            let wait = state.sent.front().map_or(self.margin, |&oldest| {
                (oldest + span).saturating_duration_since(now)
            });
            state.count_wait(now, now + wait);
            return Err(Some(wait));
        }
        state.sent.push_back(now);
        state.sent_total += 1;
        state.in_flight += 1;
        state.waiting.remove(&ticket);
        drop(state);
        // The next most urgent call may go now.
        self.changed.notify_waiters();
        Ok(now)
    }

    /// One more place in the window, when the window is relinker's own bottleneck and a whole
    /// window has passed since the allowance last changed (after a 606: additive increase).
    fn raise_rate(&self, state: &mut State, now: Instant) -> bool {
        let room = state.rate_allowed < self.rate.calls as usize
            && now.duration_since(state.rate_changed_at) >= self.rate.window;
        if room {
            state.rate_allowed += 1;
            state.rate_changed_at = now;
        }
        room && state.sent.len() < state.rate_allowed
    }

    fn release(&self, stamped: Instant, answer: Answer) {
        let mut state = self.lock();
        // Every allowed slot was in use and a call waited for one, not for the window: only
        // such an answer shows the allowance, not the demand, was the bottleneck.
        let slot_bound = state.in_flight >= state.allowed
            && !state.waiting.is_empty()
            && state.sent.len() < state.rate_allowed;
        state.in_flight = state.in_flight.saturating_sub(1);
        if answer != Answer::Counted {
            // The instance did not count it: its place goes back.
            if let Some(at) = state.sent.iter().rposition(|t| *t == stamped) {
                state.sent.remove(at);
            }
        }
        match answer {
            Answer::RateLimited => {
                let now = Instant::now();
                let until = now + self.rate.window + self.margin;
                state.hold_until = Some(state.hold_until.map_or(until, |held| held.max(until)));
                // A call sent before the last refusal was sent into the same full window: the
                // same news.
                if state.rate_refused_at.is_none_or(|at| stamped >= at) {
                    // Refused again soon after the last, or while still making up for an
                    // earlier cut: the neighbour is still there.
                    let repeated = state.rate_allowed < self.rate.calls as usize
                        || state.rate_refused_at.is_some_and(|at| {
                            now.duration_since(at) < self.rate.window * REPEAT_WINDOWS
                        });
                    if repeated {
                        // What relinker had in the window when it filled again: the rest is
                        // someone else's, and keeping under it leaves them room.
                        let own = state.sent.len().min(state.rate_allowed);
                        state.rate_allowed = (own * RATE_KEEP_QUARTERS / 4).max(1);
                        state.rate_changed_at = now;
                    }
                    state.rate_refused_at = Some(now);
                }
            }
            Answer::ConcurrencyLimited => {
                state.starting = false;
                if state.halved_at.is_none_or(|at| stamped >= at) {
                    state.allowed = (state.allowed / 2).max(1);
                    state.halved_at = Some(Instant::now());
                }
                state.answered = 0;
            }
            Answer::Counted | Answer::NotCounted if state.starting => {
                // One more per half round of answers, not per answer: answers that come back
                // together would otherwise send twice the calls at once into an instance
                // that may already be full. A whole round per step costs a short run a
                // quarter of its time (10 plans: 2.4 s against 1.9 s).
                state.answered += 1;
                if state.answered * 2 >= state.allowed {
                    state.allowed = (state.allowed + 1).min(self.ceiling);
                    state.answered = 0;
                }
                state.starting = state.allowed < self.ceiling;
            }
            Answer::Counted | Answer::NotCounted => {
                if slot_bound {
                    state.answered += 1;
                }
                if state.allowed < self.ceiling && state.answered >= PROBE_EVERY {
                    state.allowed += 1;
                    state.answered = 0;
                }
            }
        }
        drop(state);
        self.changed.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Share;

    fn limiter(calls: u32, window_ms: u64, concurrency: usize) -> Limiter {
        Limiter::new(Limits {
            rate: RateLimit {
                calls,
                window: Duration::from_millis(window_ms),
            },
            concurrency,
            share: Share::WHOLE,
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
        let limiter = started(100, 1000, 2).await;
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

    /// With every slot taken, the call of the run with more steps left goes first when one
    /// frees, whichever asked first; a call that gives up leaves the queue.
    #[tokio::test(start_paused = true)]
    async fn the_most_urgent_waiting_call_goes_first() {
        let limiter = std::sync::Arc::new(limiter(100, 1000, 1));
        let busy = limiter.acquire().await;
        let order = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let waiting = |name: &'static str, urgency: u32| {
            let (limiter, order) = (limiter.clone(), order.clone());
            tokio::spawn(crate::limits::with_urgency(async move {
                crate::limits::set_urgency(urgency);
                let permit = limiter.acquire().await;
                order.lock().unwrap().push(name);
                tokio::time::sleep(Duration::from_millis(10)).await;
                drop(permit);
            }))
        };
        let nearly_done = waiting("nearly done", 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
        // Asks later, for the same slot, with no urgency set: planning, the most urgent.
        let gives_up = tokio::spawn({
            let limiter = limiter.clone();
            async move {
                let _ = tokio::time::timeout(Duration::from_millis(1), limiter.acquire()).await;
            }
        });
        gives_up.await.unwrap();
        let far_from_done = waiting("far from done", 7);
        tokio::time::sleep(Duration::from_millis(5)).await;
        drop(busy);
        nearly_done.await.unwrap();
        far_from_done.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["far from done", "nearly done"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_call_gives_its_place_in_the_window_back() {
        let limiter = limiter(2, 1000, 10);
        limiter.acquire().await.answered(Answer::NotCounted);
        drop(limiter.acquire().await);
        // Two places: the refused call's is free again, so this one goes at once.
        let start = Instant::now();
        drop(limiter.acquire().await);
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_606_holds_every_call_until_the_window_rolls_over() {
        let limiter = limiter(100, 1000, 10);
        let start = Instant::now();
        limiter.acquire().await.answered(Answer::RateLimited);
        drop(limiter.acquire().await);
        assert!(
            start.elapsed() >= Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
        assert!(start.elapsed() < Duration::from_millis(1100));
    }

    /// Refuses the next call for the rate, as the instance does when a neighbour filled the
    /// window.
    async fn refuse_one(limiter: &Limiter) {
        limiter.acquire().await.answered(Answer::RateLimited);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_single_606_the_next_window_runs_at_the_full_rate() {
        let limiter = limiter(100, 1000, 10);
        for _ in 0..40 {
            drop(limiter.acquire().await);
        }
        let start = Instant::now();
        refuse_one(&limiter).await;
        assert_eq!(
            limiter.rate_allowed(),
            100,
            "one refusal is not a neighbour that stays"
        );
        // The hold, then the whole limit in the window after it: not a crawl.
        for _ in 0..100 {
            drop(limiter.acquire().await);
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_secs(1), "the hold: {took:?}");
        assert!(
            took < Duration::from_millis(1100),
            "one window, no more: {took:?}"
        );
        assert_eq!(limiter.rate_allowed(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_606_long_after_the_last_is_a_single_one_again() {
        let limiter = limiter(100, 1000, 10);
        refuse_one(&limiter).await;
        tokio::time::sleep(Duration::from_secs(u64::from(REPEAT_WINDOWS))).await;
        for _ in 0..40 {
            drop(limiter.acquire().await);
        }
        refuse_one(&limiter).await;
        assert_eq!(limiter.rate_allowed(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeated_606_keeps_three_quarters_of_its_own_calls_and_each_bound_window_adds_one() {
        let limiter = limiter(100, 1000, 10);
        refuse_one(&limiter).await;
        // Back after the hold, at the full rate: 40 calls fit beside the neighbour, then two
        // calls sent together are both refused: one event, one cut, to three quarters of the
        // 40 calls relinker had in the window (the other 60 were someone else's).
        for _ in 0..40 {
            drop(limiter.acquire().await);
        }
        let (a, b) = (limiter.acquire().await, limiter.acquire().await);
        tokio::time::advance(Duration::from_millis(5)).await;
        a.answered(Answer::RateLimited);
        b.answered(Answer::RateLimited);
        assert_eq!(limiter.rate_allowed(), 30);
        // After the hold, a window has passed: the first call finding the window full adds
        // one place, and the next one waits for the window to roll over.
        let start = Instant::now();
        for _ in 0..31 {
            drop(limiter.acquire().await);
        }
        assert!(start.elapsed() >= Duration::from_secs(1), "the hold");
        assert_eq!(limiter.rate_allowed(), 31);
        let placed = start.elapsed();
        drop(limiter.acquire().await);
        assert!(start.elapsed() >= placed + Duration::from_secs(1));
        // One place per window, no more.
        while start.elapsed() < placed + Duration::from_secs(10) {
            drop(limiter.acquire().await);
        }
        assert!(
            (35..=41).contains(&limiter.rate_allowed()),
            "{}",
            limiter.rate_allowed()
        );
        // Kept busy, it climbs one place per window back to the limit, and no further.
        for _ in 0..8000 {
            drop(limiter.acquire().await);
        }
        assert_eq!(limiter.rate_allowed(), 100);
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_allowance_grows_only_while_it_holds_calls_back() {
        let limiter = limiter(100, 1000, 10);
        refuse_one(&limiter).await;
        for _ in 0..8 {
            drop(limiter.acquire().await);
        }
        refuse_one(&limiter).await;
        assert_eq!(limiter.rate_allowed(), 6);
        // A few calls a window never meet the allowance: windows pass, it stays.
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for _ in 0..3 {
                drop(limiter.acquire().await);
            }
        }
        assert_eq!(limiter.rate_allowed(), 6);
        // Ten windows without a refusal, but the allowance is not back at the limit: a 606
        // now is the same neighbour, not a single one, and cuts again (six of its calls in
        // the window and its margin: four).
        refuse_one(&limiter).await;
        assert_eq!(limiter.rate_allowed(), 4);
    }

    /// A limiter past its ramp, at its full allowance.
    async fn started(calls: u32, window_ms: u64, concurrency: usize) -> Limiter {
        let limiter = limiter(calls, window_ms, concurrency);
        // Rounds of answers from half the limit up to it.
        for _ in 0..concurrency * concurrency {
            drop(limiter.acquire().await);
        }
        assert_eq!(limiter.allowed(), concurrency);
        limiter
    }

    #[tokio::test(start_paused = true)]
    async fn starts_with_half_the_calls_in_flight_and_grows_with_each_half_round_of_answers() {
        let limiter = limiter(1000, 1000, 8);
        assert_eq!(limiter.allowed(), 4);
        let held = [
            limiter.acquire().await,
            limiter.acquire().await,
            limiter.acquire().await,
            limiter.acquire().await,
        ];
        assert!(
            tokio::time::timeout(Duration::from_millis(50), limiter.acquire())
                .await
                .is_err()
        );
        // Four answers together: one more in flight, not four.
        drop(held);
        assert_eq!(limiter.allowed(), 5);
        // Half a round each (3 of 5, 3 of 6, 4 of 7 answers, two already counted).
        for _ in 0..7 {
            drop(limiter.acquire().await);
        }
        assert_eq!(limiter.allowed(), 7);
        drop(limiter.acquire().await);
        assert_eq!(limiter.allowed(), 8);
        // At the limit, no more.
        for _ in 0..100 {
            drop(limiter.acquire().await);
        }
        assert_eq!(limiter.allowed(), 8);
        assert_eq!(self::limiter(1000, 1000, 1).allowed(), 1);
    }

    /// `tasks` callers each making `calls` calls of 1 ms, one after another.
    async fn keep_busy(limiter: &std::sync::Arc<Limiter>, tasks: usize, calls: usize) {
        let callers = (0..tasks).map(|_| {
            let limiter = limiter.clone();
            tokio::spawn(async move {
                for _ in 0..calls {
                    let permit = limiter.acquire().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    drop(permit);
                }
            })
        });
        for caller in futures_util::future::join_all(callers).await {
            caller.unwrap();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_615_halves_the_calls_in_flight_and_answers_while_calls_wait_raise_them_again() {
        let limiter = std::sync::Arc::new(started(1000, 1000, 8).await);
        limiter.acquire().await.answered(Answer::ConcurrencyLimited);
        assert_eq!(limiter.allowed(), 4);
        limiter.acquire().await.answered(Answer::ConcurrencyLimited);
        assert_eq!(limiter.allowed(), 2);
        let held: Vec<_> = vec![limiter.acquire().await, limiter.acquire().await];
        assert!(
            tokio::time::timeout(Duration::from_millis(50), limiter.acquire())
                .await
                .is_err(),
            "only two in flight after two 615s"
        );
        drop(held);
        // Answers while slots stand idle prove no room: they raise nothing.
        for _ in 0..500 {
            drop(limiter.acquire().await);
        }
        assert_eq!(limiter.allowed(), 2);
        // Answers while calls wait for a slot: each hundred raise it by one.
        keep_busy(&limiter, 3, 150).await;
        assert_eq!(limiter.allowed(), 3);
        keep_busy(&limiter, 12, 200).await;
        assert_eq!(limiter.allowed(), 8, "back to the limit, and no further");
    }

    #[tokio::test(start_paused = true)]
    async fn refusals_of_calls_sent_together_halve_once() {
        let limiter = started(1000, 1000, 8).await;
        let burst: Vec<_> = futures_util::future::join_all((0..8).map(|_| limiter.acquire())).await;
        tokio::time::advance(Duration::from_millis(5)).await;
        for permit in burst {
            permit.answered(Answer::ConcurrencyLimited);
        }
        assert_eq!(limiter.allowed(), 4, "one event, one halving");
        tokio::time::advance(Duration::from_millis(5)).await;
        limiter.acquire().await.answered(Answer::ConcurrencyLimited);
        assert_eq!(limiter.allowed(), 2, "a call sent after it is news");
    }

    #[test]
    fn keeps_to_its_share() {
        let limiter = Limiter::new(Limits {
            share: Share::new(0.5).unwrap(),
            ..Limits::default()
        });
        assert_eq!(limiter.rate.calls, 50);
        assert_eq!(limiter.ceiling, 5);
    }
}
