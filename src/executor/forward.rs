//! Going forward: rotations run concurrently, the steps of each in order. An API step is
//! checked, announced, made and verified; manual steps go a phase at a time (see `manual`).
//! An irreversible step goes only once the facts it rests on are read again (see `guard`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::error::{ExecError, StepError};
use super::event::{Event, Held};
use super::guard::{Guard, RestsOn};
use super::manual::{Manual, PhaseEnd};
use super::{Executor, RollbackOutcome, RunOutcome};
use crate::ids::StepId;
use crate::journal::{Entry, FailureEffect, StepEffect, StepState, Waiting};
use crate::plan::OnFailure;
use crate::provider::{Check, phase_len};
use crate::provider::{Op, Performer, ProviderError, Readiness, Reversibility, Step};

/// Most times a change that provably did not happen is sent, within the change budget.
const MAX_CHANGE_ATTEMPTS: u32 = 5;

/// How one rotation's steps ended.
enum RotationEnd {
    Done,
    Paused(Vec<Waiting>),
    Failed {
        step: StepId,
        error: StepError,
        past_pivot: bool,
    },
    /// Another rotation failed before this one reached its pivot.
    Stopped,
}

/// How many times a finished run's proofs may be found broken and their steps done again
/// before the run pauses instead of going round once more.
const MAX_FINAL_LOOKS: usize = 3;

/// The wait before sending a change (or asking a check that could not tell) again: 0.5 s,
/// doubling, at most 8 s.
pub(super) fn retry_delay(attempt: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(attempt.saturating_sub(1).min(4)))
}

/// What a step that holds changed on the run's behalf. A step the run found different and
/// asked for is the run's effect however it came about; so is one the plan found different
/// (it is in the plan as work to do) and that holds now, unless it creates something: only a
/// creation the run itself saw happen is ever undone by deleting.
pub(super) fn effect_of(step: &Step, asked: bool) -> StepEffect {
    let planned = step.readiness == Readiness::Pending && !step.action.creates();
    if step.reversibility() != Reversibility::ReadOnly && (asked || planned) {
        StepEffect::Changed
    } else {
        StepEffect::Unchanged
    }
}

impl Executor<'_> {
    /// Runs (or resumes) every step not yet done: rotations concurrently, the steps of each in
    /// order. A failure before a rotation's pivot stops the other rotations before their next
    /// step (those past their pivot finish), then, by policy, rolls the run back.
    pub(super) async fn forward(&self) -> Result<RunOutcome, ExecError> {
        let mut rotations: BTreeMap<usize, Vec<Step>> = BTreeMap::new();
        for step in self.summary().steps() {
            rotations
                .entry(step.rotation)
                .or_default()
                .push(step.clone());
        }
        let mut looks = 0;
        loop {
            if let Some(outcome) = self.forward_once(&rotations).await? {
                return Ok(outcome);
            }
            // Every step holds. Before the run says so, what it proved is read again wherever
            // a person was waited for since it was seen: a proof passed hours before the last
            // step is not a proof now.
            looks += 1;
            let mut waiting = Vec::new();
            let mut reopened = false;
            for steps in rotations.values() {
                match self.guard(steps, steps.len(), RestsOn::Proofs).await? {
                    Guard::Holds => {}
                    Guard::Reopen(_) => reopened = true,
                    Guard::Undecided(wait) => waiting.push(wait),
                }
            }
            if !waiting.is_empty() {
                return Ok(RunOutcome::Paused { waiting });
            }
            if !reopened {
                self.append(Entry::Finished)?;
                return Ok(RunOutcome::Finished);
            }
            if looks >= MAX_FINAL_LOOKS {
                // What it proves keeps changing under it: a person must look.
                let waiting = self.pause_reopened(&rotations)?;
                return Ok(RunOutcome::Paused { waiting });
            }
        }
    }

    /// One pass over every rotation; `None` when every step holds.
    async fn forward_once(
        &self,
        rotations: &BTreeMap<usize, Vec<Step>>,
    ) -> Result<Option<RunOutcome>, ExecError> {
        let stop = AtomicBool::new(false);
        // A journal error (a lost lock among them) in one rotation stops every rotation at
        // once, wherever it is, as a crash would: none of them could record what it does next,
        // and a lost lock means another runner may be working on the run.
        let ends = crate::limits::with_urgency(futures_util::future::try_join_all(
            rotations
                .iter()
                .map(|(rotation, steps)| self.rotation(*rotation, steps, &stop)),
        ))
        .await?;
        let mut waiting = Vec::new();
        let mut before_pivot = None;
        let mut after_pivot = None;
        for end in ends {
            match end {
                RotationEnd::Done | RotationEnd::Stopped => {}
                RotationEnd::Paused(w) => waiting.extend(w),
                RotationEnd::Failed {
                    step,
                    error,
                    past_pivot,
                } => {
                    let slot = if past_pivot {
                        &mut after_pivot
                    } else {
                        &mut before_pivot
                    };
                    slot.get_or_insert((step, error));
                }
            }
        }
        if let Some((step, error)) = before_pivot {
            let rollback = match self.options.on_failure {
                OnFailure::Rollback => {
                    self.decide_rollback(&format!("step `{step}` failed: {error}"))?;
                    self.rollback().await?
                }
                OnFailure::Pause => RollbackOutcome::NotAttempted,
            };
            return Ok(Some(RunOutcome::Failed {
                step,
                error,
                rollback,
            }));
        }
        if let Some((step, error)) = after_pivot {
            return Ok(Some(RunOutcome::Failed {
                step,
                error,
                rollback: RollbackOutcome::PastPivot,
            }));
        }
        if !waiting.is_empty() {
            return Ok(Some(RunOutcome::Paused { waiting }));
        }
        Ok(None)
    }

    /// Pauses at the first step of each rotation that is not done: the final look kept finding
    /// what the run proved broken.
    fn pause_reopened(
        &self,
        rotations: &BTreeMap<usize, Vec<Step>>,
    ) -> Result<Vec<Waiting>, ExecError> {
        let mut waiting = Vec::new();
        for steps in rotations.values() {
            if let Some(step) = steps.iter().find(|s| !self.record(&s.id).is_complete()) {
                waiting.push(self.undecided(
                    step,
                    "what this rotation proved kept changing while it was checked again; look at it, then resume".into(),
                    false,
                )?);
            }
        }
        Ok(waiting)
    }

    /// Runs one rotation's steps in order.
    async fn rotation(
        &self,
        rotation: usize,
        steps: &[Step],
        stop: &AtomicBool,
    ) -> Result<RotationEnd, ExecError> {
        let mut index = 0;
        while let Some(step) = steps.get(index) {
            if self.record(&step.id).is_complete() {
                index += 1;
                continue;
            }
            // The run's calls are as urgent as the steps it has left: see `limits::set_urgency`.
            let left = {
                let run = self.lock_run();
                run.summary().steps().len() - run.summary().complete_steps()
            };
            crate::limits::set_urgency(u32::try_from(left).unwrap_or(u32::MAX));
            let past_pivot = self.past_pivot(rotation);
            if stop.load(Ordering::SeqCst) && !past_pivot {
                return Ok(RotationEnd::Stopped);
            }
            let failed = |step: StepId, error: StepError| {
                if !past_pivot {
                    stop.store(true, Ordering::SeqCst);
                }
                Ok(RotationEnd::Failed {
                    step,
                    error,
                    past_pivot,
                })
            };
            // An irreversible step rests on what the rotation proved: read it again now, and go
            // back to whatever no longer holds.
            let irreversible = step.reversibility() == Reversibility::Irreversible;
            if irreversible {
                match self.guard(steps, index, RestsOn::Proofs).await? {
                    Guard::Holds => {}
                    Guard::Reopen(at) => {
                        index = at;
                        continue;
                    }
                    Guard::Undecided(waiting) => return Ok(RotationEnd::Paused(vec![waiting])),
                }
            } else if step.performer() == Performer::Person
                && let needed = steps[index..index + phase_len(&steps[index..])]
                    .iter()
                    .flat_map(|s| s.action.needs())
                    .collect::<Vec<_>>()
                && !needed.is_empty()
                && let Guard::Reopen(at) = self
                    .guard(steps, index, RestsOn::WhatItMade(&needed))
                    .await?
            {
                // What the person would act on is gone: make it again first.
                index = at;
                continue;
            }
            // The person's irreversible step is accepted only while those facts still hold.
            let guarded = irreversible.then_some((steps, index));
            let phase_end = if step.performer() == Performer::Person {
                let phase: Vec<Manual<'_>> = steps[index..index + phase_len(&steps[index..])]
                    .iter()
                    .map(Manual::forward)
                    .collect();
                let len = phase.len();
                (self.manual_phase(phase, Some(stop), guarded).await?, len)
            } else {
                match self.api_step(step).await? {
                    Ok(()) => (PhaseEnd::Held, 1),
                    Err(StepError::NeedsPerson { reason, resend }) => {
                        self.progress.event(Event::Blocked {
                            step: &step.id,
                            reason: &reason,
                        });
                        // The platform waits on a person: the step goes through the manual
                        // gate, as a person's step would.
                        let task = Manual::forward(step).resending(resend);
                        (self.manual_phase(vec![task], Some(stop), guarded).await?, 1)
                    }
                    Err(StepError::CannotTell { reason }) => {
                        let waiting = self.undecided(step, reason, false)?;
                        return Ok(RotationEnd::Paused(vec![waiting]));
                    }
                    Err(error) => return failed(step.id.clone(), error),
                }
            };
            match phase_end {
                (PhaseEnd::Held, len) => index += len,
                (PhaseEnd::Reopen(at), _) => index = at,
                (PhaseEnd::Paused(waiting), _) => return Ok(RotationEnd::Paused(waiting)),
                (PhaseEnd::Failed { step, error }, _) => return failed(step, error),
                (PhaseEnd::Stopped, _) => return Ok(RotationEnd::Stopped),
            }
        }
        Ok(RotationEnd::Done)
    }

    /// One API step: check, and if it does not hold yet, announce, act and verify.
    async fn api_step(&self, step: &Step) -> Result<Result<(), StepError>, ExecError> {
        let prior = self.record(&step.id);
        // Sent, or asked of a person (a pending invitation), or held as the run's once: what
        // holds now is the run's doing.
        let in_doubt = prior.is_the_runs();
        let doubt = if in_doubt {
            FailureEffect::MaybeChanged
        } else {
            FailureEffect::Unchanged
        };
        match self.check_patiently(step, &step.action, false).await {
            Err(error) => return self.fail(step, error, doubt),
            Ok(Check::Holds) => {
                let how = if step.action.is_proof() {
                    Held::Verified
                } else if prior == StepState::Adopted {
                    Held::TakenOver
                } else if in_doubt {
                    Held::ConfirmedAfterInterruption
                } else {
                    Held::AlreadyDone
                };
                self.hold(step, effect_of(step, in_doubt), how)?;
                self.observed(step);
                return Ok(Ok(()));
            }
            Ok(Check::CannotTell(reason)) => return Ok(Err(StepError::CannotTell { reason })),
            Ok(Check::Conflict(reason)) => {
                return self.fail(step, StepError::Conflict { reason }, doubt);
            }
            Ok(Check::NeedsPerson(reason)) => {
                return Ok(Err(StepError::NeedsPerson {
                    reason,
                    resend: false,
                }));
            }
            Ok(Check::NotYet(_)) => {}
        }
        if let Some(reason) = self.not_created_here(step) {
            self.append(Entry::Skipped {
                step: step.id.clone(),
                reason: reason.clone(),
            })?;
            self.progress.event(Event::Skipped {
                step: &step.id,
                reason: &reason,
            });
            self.progress.advance();
            return Ok(Ok(()));
        }
        if !matches!(prior, StepState::InDoubt | StepState::Waiting) {
            self.append(Entry::Intent {
                step: step.id.clone(),
            })?;
        }
        match self.change(step, &step.action, false).await? {
            Ok(()) => {
                self.hold(step, StepEffect::Changed, Held::Changed)?;
                self.observed(step);
                Ok(Ok(()))
            }
            // Not a failure: the run waits for a person at this step, or for a check that
            // cannot tell yet whether the change took.
            Err((error @ (StepError::NeedsPerson { .. } | StepError::CannotTell { .. }), _)) => {
                Ok(Err(error))
            }
            // A refusal changed nothing, but someone else may have made the change since the
            // check (a platform may answer a check from what it read a moment before): live
            // state that holds now is theirs, not the run's, and rollback leaves it.
            Err((error @ StepError::Refused(_), FailureEffect::Unchanged)) => {
                match self.check_patiently(step, &step.action, false).await {
                    Ok(Check::Holds) => {
                        self.hold(step, effect_of(step, in_doubt), Held::AlreadyDone)?;
                        Ok(Ok(()))
                    }
                    _ => self.fail(step, error, FailureEffect::Unchanged),
                }
            }
            Err((error, effect)) => self.fail(step, error, effect),
        }
    }

    /// Records that a step holds. A creation that is the run's has what it made recorded
    /// first, as the platform names it now: rollback deletes that, and nothing else.
    pub(super) fn hold(&self, step: &Step, effect: StepEffect, how: Held) -> Result<(), ExecError> {
        if effect == StepEffect::Changed
            && step.action.creates()
            && let Some(made) = self.platform.made(&step.action)
        {
            self.append(Entry::Made {
                step: step.id.clone(),
                identity: made.identity,
                credential: made.credential,
            })?;
        }
        self.append(Entry::Done {
            step: step.id.clone(),
            effect,
        })?;
        self.progress.event(Event::Held {
            step: &step.id,
            how,
        });
        self.progress.advance();
        Ok(())
    }

    /// Records a failed step.
    pub(super) fn fail(
        &self,
        step: &Step,
        error: StepError,
        effect: FailureEffect,
    ) -> Result<Result<(), StepError>, ExecError> {
        error.stops_the_run(&step.id)?;
        self.progress.event(Event::Failed {
            step: &step.id,
            error: &error,
        });
        self.append(Entry::Failed {
            step: step.id.clone(),
            error: error.to_string(),
            effect,
        })?;
        Ok(Err(error))
    }

    /// Sends a change and verifies it. A change whose answer was lost is checked before
    /// anything else; one that provably did not happen is sent again, with backoff, within the
    /// change budget. Only a refusal that will not change on retry fails at once. Each attempt
    /// first proves the run is still this process's: one that lost its lock while a request
    /// hung must not send again after another runner resumed (and perhaps finished) the run,
    /// so it stops the run ([`ExecError`]) with nothing sent and nothing appended.
    pub(super) async fn change(
        &self,
        step: &Step,
        action: &Op,
        undo: bool,
    ) -> Result<Result<(), (StepError, FailureEffect)>, ExecError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            self.prove_held()?;
            self.progress.event(Event::Acting {
                step,
                description: action.describe(),
                attempt,
                undo,
            });
            let error = match self.act(action).await {
                Ok(()) => {
                    return Ok(match self.check_patiently(step, action, undo).await {
                        Ok(Check::Holds) => Ok(()),
                        Ok(Check::CannotTell(reason)) => Err((
                            StepError::CannotTell { reason },
                            FailureEffect::MaybeChanged,
                        )),
                        Ok(Check::NotYet(why) | Check::Conflict(why)) => {
                            Err((StepError::NoEffect { why }, FailureEffect::MaybeChanged))
                        }
                        Ok(Check::NeedsPerson(reason)) => Err((
                            StepError::NeedsPerson {
                                reason,
                                resend: false,
                            },
                            FailureEffect::MaybeChanged,
                        )),
                        Err(error) => Err((error, FailureEffect::MaybeChanged)),
                    });
                }
                Err(ProviderError::LockLost(lost)) => return Err(self.lost(lost)),
                Err(ProviderError::Blocked { reason }) => {
                    return Ok(Err((
                        StepError::NeedsPerson {
                            reason,
                            resend: true,
                        },
                        FailureEffect::Unchanged,
                    )));
                }
                Err(error) if error.may_have_applied() => error,
                Err(error) => {
                    return Ok(Err((StepError::Refused(error), FailureEffect::Unchanged)));
                }
            };
            self.progress.event(Event::AnswerLost {
                step: &step.id,
                error: &error,
            });
            match self.check_patiently(step, action, undo).await {
                Ok(Check::Holds) => return Ok(Ok(())),
                Ok(Check::NotYet(_)) => {}
                Ok(Check::CannotTell(reason)) => {
                    return Ok(Err((
                        StepError::CannotTell { reason },
                        FailureEffect::MaybeChanged,
                    )));
                }
                Ok(Check::NeedsPerson(reason)) => {
                    return Ok(Err((
                        StepError::NeedsPerson {
                            reason,
                            resend: false,
                        },
                        FailureEffect::MaybeChanged,
                    )));
                }
                Ok(Check::Conflict(reason)) => {
                    return Ok(Err((
                        StepError::Conflict { reason },
                        FailureEffect::MaybeChanged,
                    )));
                }
                Err(read) => return Ok(Err((read, FailureEffect::MaybeChanged))),
            }
            let wait = retry_delay(attempt);
            if attempt >= MAX_CHANGE_ATTEMPTS
                || started.elapsed() + wait > self.options.change_budget
            {
                return Ok(Err((
                    StepError::GaveUp {
                        attempts: attempt,
                        last: error,
                    },
                    FailureEffect::Unchanged,
                )));
            }
            // A request that hung may have outlasted the run's lock: say nothing of sending
            // again unless the run is still this process's (it is proven again right before
            // the send, after the wait).
            self.prove_held()?;
            self.progress.event(Event::NotApplied {
                step: &step.id,
                attempt,
                wait,
            });
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// A deletion of a user another step of this run creates is the run's to make only if the
    /// run created that user.
    fn not_created_here(&self, step: &Step) -> Option<String> {
        if !step.action.deletes() {
            return None;
        }
        let deleted = step.action.users();
        let user = deleted.first()?;
        let summary = self.summary();
        let creator = summary
            .steps()
            .iter()
            .find(|s| s.action.creates() && s.action.users().contains(user))?;
        match summary.record(&creator.id) {
            StepState::Done(StepEffect::Changed)
            | StepState::InDoubt
            | StepState::Waiting
            | StepState::Reopened
            | StepState::Failed(FailureEffect::MaybeChanged) => None,
            _ => Some(format!(
                "`{user}` already existed when the run reached `{}`: this run did not create it, so it keeps it",
                creator.id
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::provider::marketo;

    fn step(action: marketo::Op, readiness: Readiness) -> Step {
        Step {
            id: StepId::new("s"),
            rotation: 0,
            action: Op::Marketo(action),
            readiness,
        }
    }

    #[test]
    fn what_counts_as_the_runs_effect() {
        use StepEffect::{Changed, Unchanged};
        let user = UserId::parse("t@x.io").unwrap();
        let create = marketo::Op::CreateUser {
            user: user.clone(),
            first_name: "a".into(),
            last_name: "b".into(),
            roles: vec![],
        };
        let update = marketo::Op::UpdateUser {
            user: user.clone(),
            change: marketo::UserUpdate::default(),
            previous: marketo::UserUpdate::default(),
        };
        let verify = marketo::Op::Verify {
            services: vec![],
            user,
            roles: vec![],
            email: None,
        };
        for (action, readiness, asked, effect) in [
            // Found already holding, as the plan expected: not the run's.
            (&update, Readiness::AlreadySatisfied, false, Unchanged),
            // The plan had work to do, and it holds now: the run's, whoever did it.
            (&update, Readiness::Pending, false, Changed),
            (&update, Readiness::AlreadySatisfied, true, Changed),
            // A creation is the run's only if the run saw it missing and acted.
            (&create, Readiness::Pending, false, Unchanged),
            (&create, Readiness::Pending, true, Changed),
            // A verification changes nothing.
            (&verify, Readiness::Pending, true, Unchanged),
        ] {
            assert_eq!(
                effect_of(&step(action.clone(), readiness), asked),
                effect,
                "{action:?} {readiness:?} asked={asked}"
            );
        }
    }

    #[test]
    fn retries_back_off_and_stay_bounded() {
        let waits: Vec<u64> = (1..=7)
            .map(|a| u64::try_from(retry_delay(a).as_millis()).unwrap())
            .collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }
}
