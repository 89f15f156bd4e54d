//! Runs compiled steps against a provider: check, act, verify, with a journal record before and
//! after every change; manual gates; rollback of what the run did, and only that.
//!
//! Every step first reads live state. If it already holds, the step is recorded and skipped, so
//! running a step twice is harmless. Otherwise an `intent` is fsynced, the change is made (or a
//! person is asked), and the step is verified by reading again before `done` is written. A
//! change whose answer was lost is re-checked, never blindly re-sent; one that provably did not
//! happen is sent again within the retry budget. Before every request that changes state, first
//! sends and re-sends alike, the run proves it still holds its lock (the executor is the
//! platform's [`Fence`]); a run that cannot stops at once (exit 1, `relinker resume RUN`),
//! sending and appending nothing more: another runner may have the run now.
//!
//! What rollback undoes is computed from what the journal observed ([`undo_plan`]): every step
//! the run found different and asked to change, however the change came about. Each rotation's
//! verification is its pivot: once it passed, the rotation only rolls forward.
//!
//! The executor knows nothing of the command line: it reports [`Event`]s, returns typed
//! outcomes and errors, and hears a person at a terminal only through a [`Console`] the caller
//! gives it.

mod check;
mod error;
mod event;
mod forward;
mod gate;
mod guard;
mod manual;
mod rollback;

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

pub use error::{ExecError, StepError};
pub use event::{Event, Held, Progress};
pub use gate::{Console, GateWait, Listener, Said};
pub use rollback::{Kept, RollbackRefusal, Undo, UndoPlan, undo_plan};

use crate::ids::StepId;
use crate::journal::{
    Direction, Entry, JournalError, Run, RunState, RunSummary, StepState, Waiting,
};
use crate::plan::OnFailure;
use crate::provider::{Fence, LockLost, Person, Platform};

/// How a run behaves.
pub struct Options {
    /// How long a manual step may wait for a person.
    pub gate: GateWait,
    /// Plays the person at manual steps (the sandbox operator), if anyone does.
    pub person: Option<Box<dyn Person>>,
    /// The person at a terminal, heard while a run waits with no end (Enter looks again,
    /// `done` attests), if anyone is there.
    pub console: Option<Box<dyn Console>>,
    /// What a step that fails before its rotation's pivot leads to.
    pub on_failure: OnFailure,
    /// How long a change that provably did not happen may keep being sent again.
    pub change_budget: Duration,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("gate", &self.gate)
            .field("person", &self.person.as_ref().map(|_| "played"))
            .field("console", &self.console.as_ref().map(|_| "a terminal"))
            .field("on_failure", &self.on_failure)
            .field("change_budget", &self.change_budget)
            .finish()
    }
}

/// How a run (or a resume) ended.
#[derive(Debug, Clone)]
pub enum RunOutcome {
    /// Every step holds and every verification passed.
    Finished,
    /// Waiting for a person at one or more manual steps.
    Paused {
        /// Every manual step waited for.
        waiting: Vec<Waiting>,
    },
    /// A step failed.
    Failed {
        /// The step.
        step: StepId,
        /// Why.
        error: StepError,
        /// What became of the run's changes.
        rollback: RollbackOutcome,
    },
    /// A rollback decided earlier was continued.
    RolledBack(RollbackOutcome),
}

/// How a rollback ended, or why there was none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    /// Everything the run did before its pivots is undone; rotations past their pivot are kept.
    Complete {
        /// Rotations past their pivot, kept as verified.
        kept: Vec<Kept>,
    },
    /// Waiting for a person at undo steps.
    Paused {
        /// Every undo waited for.
        waiting: Vec<Waiting>,
    },
    /// Rollback stopped short; the reason says what is left and why.
    Incomplete(String),
    /// Not attempted (`on_failure: pause`): the run stays resumable.
    NotAttempted,
    /// The failed step came after its rotation's verification: the rotation is proven and
    /// only rolls forward, so `resume` finishes it.
    PastPivot,
}

/// Runs the steps of one run.
pub struct Executor<'a> {
    platform: &'a dyn Platform,
    /// Rotations run concurrently and share the journal; an append is a short synchronous
    /// write, never held across an `.await`, so a std mutex is the right tool.
    run: Mutex<&'a mut Run>,
    options: &'a Options,
    progress: &'a (dyn Progress + Sync),
    /// How many times this process has waited for a person: what was seen before the latest
    /// wait may have changed since.
    epoch: AtomicU64,
    /// The proofs this process saw hold through the API, each with the epoch it was seen in.
    seen: Mutex<BTreeMap<StepId, u64>>,
}

impl<'a> Executor<'a> {
    /// An executor for `run` on `platform`.
    pub fn new(
        platform: &'a dyn Platform,
        run: &'a mut Run,
        options: &'a Options,
        progress: &'a (dyn Progress + Sync),
    ) -> Self {
        Self {
            platform,
            run: Mutex::new(run),
            options,
            progress,
            epoch: AtomicU64::new(0),
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock_run(&self) -> MutexGuard<'_, &'a mut Run> {
        self.run.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a record, durable before it returns (the journal is write-ahead).
    fn append(&self, entry: Entry) -> Result<(), ExecError> {
        Ok(crate::sync::off_the_runtime(|| {
            self.lock_run().append(entry)
        })?)
    }

    /// Proves the run is still this process's (see [`Run::still_held`]); asked immediately
    /// before every request that changes state, and before asking whoever plays the person.
    fn prove_held(&self) -> Result<(), JournalError> {
        crate::sync::off_the_runtime(|| self.lock_run().still_held())
    }

    /// The journal's error for a lock a platform was told was lost.
    fn lost(&self, lost: LockLost) -> ExecError {
        ExecError::Journal(JournalError::LockLost {
            run_id: self.lock_run().id().clone(),
            reason: lost.reason,
        })
    }

    fn summary(&self) -> RunSummary {
        self.lock_run().summary().clone()
    }

    fn record(&self, step: &StepId) -> StepState {
        self.lock_run().summary().record(step)
    }

    fn past_pivot(&self, rotation: usize) -> bool {
        self.lock_run().summary().past_pivot(rotation)
    }

    /// Takes the run where its journal says it is going: forward, or on with a rollback that
    /// was decided (by policy or by a person). It never reverses a decision: a run being rolled
    /// back is never moved forward again, and a run going forward is rolled back only by its
    /// policy, when a step fails before its rotation's pivot.
    pub async fn execute(&self) -> Result<RunOutcome, ExecError> {
        match self.summary().state() {
            RunState::Done => return Ok(RunOutcome::Finished),
            RunState::RollingBack
            | RunState::RollbackIncomplete { .. }
            | RunState::RolledBack
            | RunState::Paused {
                direction: Direction::Rollback,
                ..
            } => return Ok(RunOutcome::RolledBack(self.rollback().await?)),
            RunState::Failed {
                step,
                error,
                past_pivot: false,
            } if self.options.on_failure == OnFailure::Rollback => {
                // The policy decided this when the step failed; the process stopped before the
                // rollback was recorded.
                self.decide_rollback(&format!("step `{step}` failed: {error}"))?;
                return Ok(RunOutcome::RolledBack(self.rollback().await?));
            }
            _ => {}
        }
        self.forward().await
    }

    /// Records the decision to roll back: from here on the run only goes back.
    pub fn decide_rollback(&self, reason: &str) -> Result<(), ExecError> {
        if !self.summary().rollback_decided() {
            self.append(Entry::RollbackStarted {
                reason: reason.to_owned(),
            })?;
        }
        Ok(())
    }
}

/// The executor owns the run, so it is what proves the run is still this process's to change;
/// a platform asks it before every request that changes state, its own re-sends included.
impl Fence for Executor<'_> {
    fn still_held(&self) -> Result<(), LockLost> {
        self.prove_held().map_err(|error| LockLost {
            reason: match error {
                JournalError::LockLost { reason, .. } => reason,
                other => other.to_string(),
            },
        })
    }
}
