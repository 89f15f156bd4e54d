//! The sandbox's shared state: the instance, its clock, limits, faults and request log.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::behaviours::Setting;
use super::fixture::Fixture;
use super::limits::Limits;
use super::world::World;
use crate::limits::RateLimit;
use crate::sandbox::lock;
use crate::sandbox::traffic::Traffic;

/// Limits and lifetimes of an emulated instance; the defaults are Marketo's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// Calls allowed per sliding window before 606.
    pub rate_limit: RateLimit,
    /// Calls allowed in flight before 615.
    pub concurrency: usize,
    /// Calls allowed per US Central day before 607.
    pub daily_quota: u64,
    /// Lifetime of an access token.
    pub token_ttl: Duration,
    /// Readings of what the reference leaves open, over the fixture's (`--behaviour`).
    pub behaviours: Vec<Setting>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            rate_limit: RateLimit::MARKETO_DEFAULT,
            concurrency: 10,
            daily_quota: 50_000,
            token_ttl: Duration::from_hours(1),
            behaviours: Vec::new(),
        }
    }
}

/// The clock the instance lives by: real time plus an offset that the control API can advance,
/// so tests can expire tokens and invitations without waiting.
#[derive(Debug, Default)]
pub(crate) struct Clock {
    offset: Mutex<chrono::Duration>,
}

impl Clock {
    pub(crate) fn now(&self) -> DateTime<Utc> {
        Utc::now() + *lock(&self.offset)
    }

    pub(crate) fn advance(&self, by: chrono::Duration) {
        *lock(&self.offset) += by;
    }
}

/// Everything one sandbox holds. A std `Mutex` is right here: no lock is held across an
/// `.await`, and each critical section is a few map operations.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SandboxConfig,
    pub(crate) world: Mutex<World>,
    pub(crate) clock: Clock,
    pub(crate) limits: Limits,
    pub(crate) traffic: Traffic,
}

/// An emulated Marketo instance; cheap to clone, all clones share one state.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub(crate) shared: Arc<Shared>,
}

impl Sandbox {
    /// A sandbox seeded from a fixture.
    pub fn new(config: SandboxConfig, fixture: &Fixture) -> Self {
        let clock = Clock::default();
        let world = fixture.to_world(clock.now(), &config.behaviours);
        // The calls a fixture says were made today were made against today's quota.
        let today = super::dates::quota_day(clock.now());
        let used_today = world
            .usage(today, 1)
            .iter()
            .flat_map(|(_, users)| users.iter().map(|(_, calls)| calls))
            .sum();
        let limits = Limits::new(&config);
        limits.already_used(today, used_today);
        Self {
            shared: Arc::new(Shared {
                config,
                world: Mutex::new(world),
                clock,
                limits,
                traffic: Traffic::new(super::DIALECT),
            }),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.shared.clock.now()
    }

    pub(crate) fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.shared.world)
    }

    /// Replaces the instance's data with a fixture's (the control API's fixture load).
    pub(crate) fn reseed(&self, fixture: &Fixture) {
        *self.world() = fixture.to_world(self.now(), &self.shared.config.behaviours);
    }
}
