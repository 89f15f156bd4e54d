//! Going forward: rotations run concurrently, the steps of each in order. An API step is
//! checked, announced, made and verified; manual steps go a phase at a time (see `manual`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use super::error::{ExecError, StepError};
use super::event::{Event, Held};
use super::manual::{Manual, PhaseEnd};
use super::{Executor, RollbackOutcome, RunOutcome};
use crate::ids::StepId;
use crate::journal::{Entry, FailureEffect, StepEffect, StepState, Waiting};
use crate::plan::OnFailure;
use crate::provider::Check;
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

/// The wait before sending a change again: 0.5 s, doubling, at most 8 s.
fn retry_delay(attempt: u32) -> Duration {
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
            return Ok(RunOutcome::Failed {
                step,
                error,
                rollback,
            });
        }
        if let Some((step, error)) = after_pivot {
            return Ok(RunOutcome::Failed {
                step,
                error,
                rollback: RollbackOutcome::PastPivot,
            });
        }
        if !waiting.is_empty() {
            return Ok(RunOutcome::Paused { waiting });
        }
        self.append(Entry::Finished)?;
        Ok(RunOutcome::Finished)
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
            if step.performer() == Performer::Person {
                let phase: Vec<Manual<'_>> = steps[index..index + phase_len(&steps[index..])]
                    .iter()
                    .map(Manual::forward)
                    .collect();
                let len = phase.len();
                match self.manual_phase(phase, Some(stop)).await? {
                    PhaseEnd::Held => index += len,
                    PhaseEnd::Paused(waiting) => return Ok(RotationEnd::Paused(waiting)),
                    PhaseEnd::Failed { step, error } => return failed(step, error),
                    PhaseEnd::Stopped => return Ok(RotationEnd::Stopped),
                }
            } else {
                match self.api_step(step).await? {
                    Ok(()) => index += 1,
                    Err(StepError::NeedsPerson { reason, resend }) => {
                        self.progress.event(Event::Blocked {
                            step: &step.id,
                            reason: &reason,
                        });
                        // The platform waits on a person: the step goes through the manual
                        // gate, as a person's step would.
                        let task = Manual::forward(step).resending(resend);
                        match self.manual_phase(vec![task], Some(stop)).await? {
                            PhaseEnd::Held => index += 1,
                            PhaseEnd::Paused(waiting) => return Ok(RotationEnd::Paused(waiting)),
                            PhaseEnd::Failed { step, error } => return failed(step, error),
                            PhaseEnd::Stopped => return Ok(RotationEnd::Stopped),
                        }
                    }
                    Err(error) => return failed(step.id.clone(), error),
                }
            }
        }
        Ok(RotationEnd::Done)
    }

    /// One API step: check, and if it does not hold yet, announce, act and verify.
    async fn api_step(&self, step: &Step) -> Result<Result<(), StepError>, ExecError> {
        let prior = self.record(&step.id);
        let in_doubt = matches!(
            prior,
            StepState::InDoubt | StepState::Failed(FailureEffect::MaybeChanged)
        );
        let doubt = if in_doubt {
            FailureEffect::MaybeChanged
        } else {
            FailureEffect::Unchanged
        };
        match self.check(step, &step.action, false).await {
            Err(error) => return self.fail(step, error, doubt),
            Ok(Check::Holds) => {
                let how = if step.action.is_proof() {
                    Held::Verified
                } else if in_doubt {
                    Held::ConfirmedAfterInterruption
                } else {
                    Held::AlreadyDone
                };
                self.hold(step, effect_of(step, in_doubt), how)?;
                return Ok(Ok(()));
            }
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
        if prior != StepState::InDoubt {
            self.append(Entry::Intent {
                step: step.id.clone(),
            })?;
        }
        match self.change(step, &step.action, false).await? {
            Ok(()) => {
                self.hold(step, StepEffect::Changed, Held::Changed)?;
                Ok(Ok(()))
            }
            // Not a failure: the run waits for a person at this step.
            Err((error @ StepError::NeedsPerson { .. }, _)) => Ok(Err(error)),
            // A refusal changed nothing, but someone else may have made the change since the
            // check (a platform may answer a check from what it read a moment before): live
            // state that holds now is theirs, not the run's, and rollback leaves it.
            Err((error @ StepError::Refused(_), FailureEffect::Unchanged)) => {
                match self.check(step, &step.action, false).await {
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

    /// Records that a step holds.
    pub(super) fn hold(&self, step: &Step, effect: StepEffect, how: Held) -> Result<(), ExecError> {
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
                    return Ok(match self.check(step, action, undo).await {
                        Ok(Check::Holds) => Ok(()),
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
            match self.check(step, action, undo).await {
                Ok(Check::Holds) => return Ok(Ok(())),
                Ok(Check::NotYet(_)) => {}
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
            | StepState::Failed(FailureEffect::MaybeChanged) => None,
            _ => Some(format!(
                "`{user}` already existed when the run reached `{}`: this run did not create it, so it keeps it",
                creator.id
            )),
        }
    }
}

/// How many of `steps` (the first a person's) make one manual phase: the person's steps that
/// follow it, up to the next irreversible one. An irreversible step is a phase of its own, so a
/// person does it only once everything before it was seen to hold.
fn phase_len(steps: &[Step]) -> usize {
    let irreversible = |s: &Step| s.reversibility() == Reversibility::Irreversible;
    if steps.first().is_some_and(irreversible) {
        return 1;
    }
    steps
        .iter()
        .take_while(|s| s.performer() == Performer::Person && !irreversible(s))
        .count()
        .max(1)
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
