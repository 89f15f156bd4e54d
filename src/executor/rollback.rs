//! Rollback: undo what the run did, newest first, and only that.
//!
//! [`undo_plan`] computes the list from the journal alone, so `rollback --dry-run` shows
//! exactly what `rollback` works through. A rotation whose verification passed is past its
//! pivot: it is kept, never rolled back (its later steps, such as deleting a temporary user,
//! only roll forward). Every undo first reads live state; an undo whose target already holds
//! (the user is gone, the link is back) is recorded as done without sending anything.

use std::collections::BTreeSet;

use super::Executor;
use super::error::ExecError;
use super::event::Event;
use super::manual::{Manual, PhaseEnd};
use super::{RollbackOutcome, StepError};
use crate::ids::{RunId, StepId};
use crate::journal::{Entry, RunState, RunSummary, StepState};
use crate::provider::Check;
use crate::provider::{Op, Performer, Step};

/// A rotation past its pivot: verified, so it is kept and only rolls forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    /// The rotation.
    pub rotation: usize,
    /// Its verification step.
    pub pivot: StepId,
}

/// What a step took over from an abandoned run: it was there when this run started, so
/// rollback, which restores that start, leaves it (only the run's end deletes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftInPlace {
    /// The step that took it over.
    pub step: StepId,
    /// What it is, as the platform names it.
    pub identity: String,
    /// The abandoned run that made it.
    pub left_by: RunId,
}

/// One thing rollback undoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    /// The step being undone.
    pub step: StepId,
    /// Its rotation.
    pub rotation: usize,
    /// What undoes it.
    pub action: Op,
}

/// What rollback will do.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UndoPlan {
    /// The undos, newest first; each is checked against live state before anything is sent.
    pub undo: Vec<Undo>,
    /// Rotations past their pivot, which are kept.
    pub kept: Vec<Kept>,
    /// What the run took over from an abandoned run, which stays.
    pub left: Vec<LeftInPlace>,
}

/// Why a run cannot be rolled back at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackRefusal {
    /// It never started: nothing changed.
    #[error("run {run} never started; there is nothing to undo")]
    NeverStarted {
        /// The run.
        run: RunId,
    },
    /// A person took it over; what it did is theirs now.
    #[error("run {run} was abandoned by {by} ({reason}); it is left as it is and not rolled back")]
    Abandoned {
        /// The run.
        run: RunId,
        /// Who abandoned it.
        by: String,
        /// Why.
        reason: String,
    },
    /// Every rotation passed its pivot: proven, it only rolls forward.
    #[error(
        "run {run} is past its pivot: {} passed, so every rotation is proven and only rolls forward; rollback stops there and undoes nothing. To reverse a finished rotation, write a plan for it",
        pivots.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
    )]
    PastPivot {
        /// The run.
        run: RunId,
        /// Each rotation's pivot.
        pivots: Vec<StepId>,
    },
}

impl UndoPlan {
    /// Why run `run`, whose journal replays to `summary` and whose undo plan this is, cannot
    /// be rolled back at all; `None` when it can (a rollback already decided goes on).
    pub fn refusal(&self, run: &RunId, summary: &RunSummary) -> Option<RollbackRefusal> {
        let run = run.clone();
        match summary.state() {
            RunState::NeverStarted => Some(RollbackRefusal::NeverStarted { run }),
            RunState::Abandoned { by, reason } => Some(RollbackRefusal::Abandoned {
                run,
                by: by.clone(),
                reason: reason.clone(),
            }),
            _ if self.undo.is_empty() && !self.kept.is_empty() && !summary.rollback_decided() => {
                Some(RollbackRefusal::PastPivot {
                    run,
                    pivots: self.kept.iter().map(|k| k.pivot.clone()).collect(),
                })
            }
            _ => None,
        }
    }
}

/// Everything rollback undoes, newest first: every step of a rotation before its pivot that
/// may have changed live state on the run's behalf, and is not undone yet. A creation the run
/// saw made is undone by deleting exactly what it made (the identity its journal recorded),
/// never whatever the plan's references name by the time of the rollback. What the run took
/// over from an abandoned run was there when it started, and stays.
pub fn undo_plan(summary: &RunSummary) -> UndoPlan {
    let rotations: BTreeSet<usize> = summary.steps().iter().map(|s| s.rotation).collect();
    let kept = rotations
        .into_iter()
        .filter(|r| summary.past_pivot(*r))
        .filter_map(|rotation| {
            summary.pivot(rotation).map(|pivot| Kept {
                rotation,
                pivot: pivot.id.clone(),
            })
        })
        .collect();
    let undo = summary
        .steps()
        .iter()
        .rev()
        .filter(|s| !summary.past_pivot(s.rotation))
        .filter(|s| summary.record(&s.id).may_have_changed())
        .filter(|s| summary.adopted_from(&s.id).is_none())
        .filter_map(|s| {
            let action = match summary.made(&s.id) {
                Some(made) => s.action.undo_made(made),
                None => s.action.compensation(),
            };
            Some(Undo {
                step: s.id.clone(),
                rotation: s.rotation,
                action: action?,
            })
        })
        .collect();
    let left = summary
        .steps()
        .iter()
        .filter(|s| !summary.past_pivot(s.rotation))
        .filter_map(|s| {
            Some(LeftInPlace {
                step: s.id.clone(),
                identity: summary.made(&s.id)?.identity.clone(),
                left_by: summary.adopted_from(&s.id)?.clone(),
            })
        })
        .collect();
    UndoPlan { undo, kept, left }
}

impl Executor<'_> {
    /// Works through the undo plan. The decision to roll back must be recorded first
    /// ([`Executor::decide_rollback`]).
    pub async fn rollback(&self) -> Result<RollbackOutcome, ExecError> {
        let summary = self.summary();
        let plan = undo_plan(&summary);
        self.progress.event(Event::RollbackStarted);
        for kept in &plan.kept {
            self.progress.event(Event::Kept {
                rotation: kept.rotation,
                pivot: &kept.pivot,
            });
        }
        for left in &plan.left {
            self.progress.event(Event::LeftInPlace {
                identity: &left.identity,
                left_by: &left.left_by,
            });
        }
        let step_of = |undo: &Undo| summary.step(&undo.step);
        let mut index = 0;
        while let Some(undo) = plan.undo.get(index) {
            let Some(step) = step_of(undo) else {
                index += 1;
                continue;
            };
            if undo.action.performer() == Performer::Person {
                let phase: Vec<Manual<'_>> = plan.undo[index..]
                    .iter()
                    .take_while(|u| {
                        u.action.performer() == Performer::Person && u.rotation == undo.rotation
                    })
                    .filter_map(|u| Some(Manual::undo(step_of(u)?, u.action.clone())))
                    .collect();
                let len = phase.len().max(1);
                match self.manual_phase(phase, None, None).await? {
                    PhaseEnd::Held => index += len,
                    PhaseEnd::Paused(waiting) => return Ok(RollbackOutcome::Paused { waiting }),
                    PhaseEnd::Failed { step, error } => {
                        error.stops_the_run(&step)?;
                        return self.incomplete(format!("undoing `{step}` failed: {error}"));
                    }
                    PhaseEnd::Stopped | PhaseEnd::Reopen(_) => {
                        return self.incomplete("rollback was stopped".into());
                    }
                }
            } else {
                match self.undo_step(step, &undo.action).await? {
                    Ok(()) => index += 1,
                    // The platform refuses the undo until a person acts (a service still runs
                    // as the user): it goes through the gate, and the rollback waits for them.
                    Err(StepError::NeedsPerson { reason, resend }) => {
                        self.progress.event(Event::Blocked {
                            step: &step.id,
                            reason: &reason,
                        });
                        let task = Manual::undo(step, undo.action.clone()).resending(resend);
                        match self.manual_phase(vec![task], None, None).await? {
                            PhaseEnd::Held => index += 1,
                            PhaseEnd::Paused(waiting) => {
                                return Ok(RollbackOutcome::Paused { waiting });
                            }
                            PhaseEnd::Failed { step, error } => {
                                error.stops_the_run(&step)?;
                                return self
                                    .incomplete(format!("undoing `{step}` failed: {error}"));
                            }
                            PhaseEnd::Stopped | PhaseEnd::Reopen(_) => {
                                return self.incomplete("rollback was stopped".into());
                            }
                        }
                    }
                    Err(StepError::CannotTell { reason }) => {
                        let waiting = self.undecided(step, reason, true)?;
                        return Ok(RollbackOutcome::Paused {
                            waiting: vec![waiting],
                        });
                    }
                    Err(error) => {
                        error.stops_the_run(&step.id)?;
                        return self.incomplete(format!("undoing `{}` failed: {error}", step.id));
                    }
                }
            }
        }
        // "Rolled back" says the world is as the run found it: what the run never changed is
        // read too, where the platform shows it, unless a rotation is kept (its proof stands).
        if plan.kept.is_empty()
            && let Err(reason) = self.platform.as_found(&self.summary()).await
        {
            return self.incomplete(reason);
        }
        self.append(Entry::RolledBack)?;
        Ok(RollbackOutcome::Complete { kept: plan.kept })
    }

    /// Undoes one API step, unless live state shows there is nothing to undo.
    async fn undo_step(
        &self,
        step: &Step,
        compensation: &Op,
    ) -> Result<Result<(), StepError>, ExecError> {
        let state = self.record(&step.id);
        if state == StepState::Undone {
            return Ok(Ok(()));
        }
        let nothing_to_undo = match self.check_patiently(step, compensation, true).await {
            Err(error) => return Ok(Err(error)),
            Ok(Check::Conflict(reason)) => return Ok(Err(StepError::Conflict { reason })),
            Ok(Check::CannotTell(reason)) => return Ok(Err(StepError::CannotTell { reason })),
            Ok(Check::Holds) => true,
            Ok(Check::NotYet(_) | Check::NeedsPerson(_)) => {
                if state != StepState::UndoInDoubt {
                    self.append(Entry::UndoIntent {
                        step: step.id.clone(),
                    })?;
                }
                if let Err((error, _)) = self.change(step, compensation, true).await? {
                    return Ok(Err(error));
                }
                false
            }
        };
        self.append(Entry::Undone {
            step: step.id.clone(),
        })?;
        self.progress.event(Event::Undone {
            step: &step.id,
            nothing_to_undo,
        });
        self.progress.advance();
        Ok(Ok(()))
    }

    fn incomplete(&self, reason: String) -> Result<RollbackOutcome, ExecError> {
        self.append(Entry::RollbackIncomplete {
            reason: reason.clone(),
        })?;
        Ok(RollbackOutcome::Incomplete(reason))
    }
}
