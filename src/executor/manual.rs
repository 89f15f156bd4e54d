//! Manual phases: the steps only a person can do, a phase at a time.
//!
//! A phase is a run of consecutive manual steps in one rotation (say, relinking two services to
//! the temporary user): a person does them in one sitting, so they are shown together and
//! waited for together. Each is checked first; those that do not hold are announced in the
//! journal before the person is asked, so whatever the person does from then on is the run's
//! effect, and rollback undoes it. Undoing manual steps goes through the same gate.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Executor;
use super::error::{ExecError, StepError};
use super::event::{Event, Held};
use super::forward::effect_of;
use super::gate::{Console, GateWait, POLL, Said};
use super::guard::{Guard, RestsOn};
use crate::ids::StepId;
use crate::journal::{Direction, Entry, FailureEffect, StepState, Waiting};
use crate::provider::Check;
use crate::provider::{ManualAction, Op, Step, Verification};

/// One thing a person must bring about: a step going forward, or the undo of a step.
pub(super) struct Manual<'s> {
    step: &'s Step,
    /// What live state must show once the person is done.
    action: Op,
    direction: Direction,
    /// An API step the platform refused until a person acts: each look sends it again.
    resend: bool,
    /// What its last check saw instead of the step done: what a pause says it waits for.
    seen: Option<String>,
    /// Whether that check could not tell.
    cannot_tell: bool,
}

impl<'s> Manual<'s> {
    /// The step itself.
    pub(super) fn forward(step: &'s Step) -> Self {
        Self {
            step,
            action: step.action.clone(),
            direction: Direction::Forward,
            resend: false,
            seen: None,
            cannot_tell: false,
        }
    }

    /// An API step waiting on a person: with `resend`, each look sends the change again.
    pub(super) fn resending(mut self, resend: bool) -> Self {
        self.resend = resend;
        self
    }

    /// Undoing the step with `compensation`.
    pub(super) fn undo(step: &'s Step, compensation: Op) -> Self {
        Self {
            step,
            action: compensation,
            direction: Direction::Rollback,
            resend: false,
            seen: None,
            cannot_tell: false,
        }
    }

    fn is_undo(&self) -> bool {
        self.direction == Direction::Rollback
    }

    /// Keeps what a look saw instead of the task done.
    fn saw(&mut self, check: Check) {
        self.cannot_tell = matches!(check, Check::CannotTell(_));
        self.seen = match check {
            Check::NotYet(reason) | Check::NeedsPerson(reason) | Check::CannotTell(reason) => {
                Some(reason)
            }
            Check::Holds | Check::Conflict(_) => None,
        };
    }

    fn attested(&self) -> bool {
        self.action.verification() == Verification::Attested
    }

    fn is_complete(&self, state: StepState) -> bool {
        match self.direction {
            Direction::Forward => state.is_complete(),
            Direction::Rollback => state == StepState::Undone,
        }
    }

    /// The record that announces it: a person is about to be asked.
    fn announced(&self) -> Entry {
        let step = self.step.id.clone();
        match self.direction {
            Direction::Forward => Entry::Intent { step },
            Direction::Rollback => Entry::UndoIntent { step },
        }
    }

    /// The record of a pause waiting for a person to do it.
    fn paused(&self, waiting_for: String) -> Entry {
        let step = self.step.id.clone();
        let cannot_tell = self.cannot_tell;
        match self.direction {
            Direction::Forward => Entry::Paused {
                step,
                waiting_for,
                cannot_tell,
            },
            Direction::Rollback => Entry::UndoPaused {
                step,
                waiting_for,
                cannot_tell,
            },
        }
    }

    /// Whether a person was already asked for it (in this process or an earlier one).
    fn asked(&self, state: StepState) -> bool {
        match self.direction {
            // A reopened step is asked for again: the person is told what no longer holds.
            Direction::Forward => matches!(
                state,
                StepState::InDoubt
                    | StepState::Waiting
                    | StepState::Failed(FailureEffect::MaybeChanged)
            ),
            Direction::Rollback => {
                matches!(state, StepState::UndoInDoubt | StepState::UndoWaiting)
            }
        }
    }
}

/// How a phase ended.
pub(super) enum PhaseEnd {
    /// Every step of it holds.
    Held,
    /// The wait ended before a person finished; these are waited for.
    Paused(Vec<Waiting>),
    /// A step failed.
    Failed {
        /// The step.
        step: StepId,
        /// Why.
        error: StepError,
    },
    /// Another rotation failed; this one stops.
    Stopped,
    /// A fact the phase's irreversible step rests on no longer holds: the rotation goes back
    /// to this index of its steps.
    Reopen(usize),
}

/// What one look at a phase's open steps found.
enum Look<'s> {
    /// The phase ended (a step failed, or a guard sent the rotation back).
    Ended(PhaseEnd),
    /// The steps still open, each with what its check saw instead.
    Open(Vec<Manual<'s>>, Vec<(StepId, String)>),
}

/// An irreversible step's rotation and its index there: what its guard reads again before a
/// person's doing it is accepted.
pub(super) type Guarded<'s> = Option<(&'s [Step], usize)>;

impl Executor<'_> {
    /// Checks every step of a phase, asks a person for those that do not hold (all at once),
    /// then waits for all of them.
    pub(super) async fn manual_phase(
        &self,
        phase: Vec<Manual<'_>>,
        stop: Option<&AtomicBool>,
        guarded: Guarded<'_>,
    ) -> Result<PhaseEnd, ExecError> {
        self.absorb_attestations()?;
        let mut open = Vec::new();
        for mut task in phase {
            let state = self.record(&task.step.id);
            if task.is_complete(state) {
                continue;
            }
            match self.check(task.step, &task.action, task.is_undo()).await {
                Err(error) => return self.phase_failed(&task, error),
                Ok(Check::Holds) => {
                    if let Some(end) = self.guard_held(&task, guarded).await? {
                        return Ok(end);
                    }
                    self.task_held(&task, state, true)?;
                }
                Ok(Check::Conflict(reason)) => {
                    return self.phase_failed(&task, StepError::Conflict { reason });
                }
                // What cannot be told yet is waited for like what is not done yet: the person
                // is asked, and each look asks the check again.
                Ok(check @ (Check::NotYet(_) | Check::NeedsPerson(_) | Check::CannotTell(_))) => {
                    if !task.asked(state) {
                        self.append(task.announced())?;
                    }
                    task.saw(check);
                    open.push(task);
                }
            }
        }
        if open.is_empty() {
            return Ok(PhaseEnd::Held);
        }
        // A person is waited for: whatever the run saw before may change from here on.
        self.person_waited();
        let instructions: Vec<_> = open
            .iter()
            .map(|t| (t.step.id.clone(), self.instructions(&t.action)))
            .collect();
        self.progress.event(Event::PersonNeeded {
            steps: &instructions,
            undo: open[0].direction == Direction::Rollback,
        });
        let played = match &self.options.person {
            Some(person) => {
                let mut played = 0;
                for task in &open {
                    // Whoever plays the person changes state on the run's behalf: only while
                    // the run is still this process's.
                    self.prove_held()?;
                    // One who cannot act (a secret it needs is unset, the platform refused
                    // it) leaves the step, and the rest of the sitting (which may rest on it:
                    // a user deleted once no integration uses it), to a person, as if it were
                    // not there: that the operator failed says nothing against the step.
                    if let Err(error) = person.perform(&task.action).await {
                        self.progress.event(Event::PersonCouldNot {
                            step: &task.step.id,
                            reason: error.to_string(),
                        });
                        break;
                    }
                    // Whoever plays the person knows what they did: their word stands for
                    // what nothing observes, and, for the rest, where a look cannot tell (a
                    // token minted before the relink it should show).
                    self.attest_played(task.step, task.is_undo(), person.name())?;
                    played += 1;
                }
                if played > 0 {
                    self.progress.event(Event::PersonPlayed { count: played });
                }
                played > 0
            }
            None => false,
        };
        self.wait(open, &instructions, played, stop, guarded).await
    }

    /// For a person's irreversible step seen done: reads again what it rests on. `Some` ends
    /// the phase (the rotation goes back, or pauses when that cannot be told now).
    async fn guard_held(
        &self,
        task: &Manual<'_>,
        guarded: Guarded<'_>,
    ) -> Result<Option<PhaseEnd>, ExecError> {
        let Some((steps, index)) = guarded else {
            return Ok(None);
        };
        if task.is_undo() {
            return Ok(None);
        }
        Ok(match self.guard(steps, index, RestsOn::Proofs).await? {
            Guard::Holds => None,
            Guard::Reopen(at) => Some(PhaseEnd::Reopen(at)),
            Guard::Undecided(waiting) => Some(PhaseEnd::Paused(vec![waiting])),
        })
    }

    /// Polls the phase's open steps until all hold, the wait ends, or the run stops.
    async fn wait(
        &self,
        mut open: Vec<Manual<'_>>,
        instructions: &[(StepId, ManualAction)],
        played: bool,
        stop: Option<&AtomicBool>,
        guarded: Guarded<'_>,
    ) -> Result<PhaseEnd, ExecError> {
        let deadline = self.options.gate.deadline(played);
        // A person at a terminal can press Enter to have the steps checked at once.
        let mut heard = (self.options.gate == GateWait::Forever && !played)
            .then(|| self.options.console.as_deref().map(Console::listen))
            .flatten();
        let attest: Vec<StepId> = open
            .iter()
            .filter(|t| t.attested())
            .map(|t| t.step.id.clone())
            .collect();
        if deadline.is_some() && !played {
            let run = self.lock_run().id().clone();
            self.progress.event(Event::Waiting {
                enter: heard.is_some(),
                attest: &attest,
                run: &run,
            });
        }
        // Someone who plays the person acted just now: look at once. Otherwise the first look
        // was a moment ago.
        let mut look = played;
        loop {
            if look {
                let (still, seen) = match self.look(open, guarded).await? {
                    Look::Ended(end) => return Ok(end),
                    Look::Open(still, seen) => (still, seen),
                };
                open = still;
                if open.is_empty() {
                    return Ok(PhaseEnd::Held);
                }
                self.progress.event(Event::Looked { seen: &seen });
            }
            look = true;
            if stop.is_some_and(|s| s.load(Ordering::SeqCst)) {
                return Ok(PhaseEnd::Stopped);
            }
            if deadline.is_none_or(|d| tokio::time::Instant::now() >= d) {
                return self.pause(&open, instructions);
            }
            match heard.as_mut() {
                Some(listener) => {
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => {}
                        said = listener.next() => match said {
                            // Nothing more can come: only the timer is left to wait on.
                            None => heard = None,
                            Some(said) => {
                                self.progress.event(Event::Entered);
                                // `done` at the terminal attests what nothing can observe, as
                                // the person running relinker.
                                if let Said::Done { by } = said {
                                    for task in open.iter().filter(|t| t.attested()) {
                                        self.attest_played(task.step, task.is_undo(), &by)?;
                                    }
                                }
                            }
                        },
                    }
                }
                None => tokio::time::sleep(POLL).await,
            }
        }
    }

    /// One look at the phase's open steps: those that hold are recorded; the rest stay open,
    /// each with what its check saw instead.
    async fn look<'s>(
        &self,
        open: Vec<Manual<'s>>,
        guarded: Guarded<'_>,
    ) -> Result<Look<'s>, ExecError> {
        self.absorb_attestations()?;
        let mut still = Vec::new();
        let mut seen = Vec::new();
        for mut task in open {
            let state = self.record(&task.step.id);
            let held = if task.resend {
                match self.change(task.step, &task.action, task.is_undo()).await? {
                    Ok(()) => Ok(()),
                    Err((StepError::NeedsPerson { reason, .. }, _)) => {
                        Err(Check::NeedsPerson(reason))
                    }
                    Err((StepError::CannotTell { reason }, _)) => Err(Check::CannotTell(reason)),
                    Err((error, _)) => return self.phase_failed(&task, error).map(Look::Ended),
                }
            } else {
                match self.check(task.step, &task.action, task.is_undo()).await {
                    Ok(Check::Holds) => Ok(()),
                    Ok(
                        check @ (Check::NotYet(_) | Check::NeedsPerson(_) | Check::CannotTell(_)),
                    ) => Err(check),
                    Ok(Check::Conflict(reason)) => {
                        return self
                            .phase_failed(&task, StepError::Conflict { reason })
                            .map(Look::Ended);
                    }
                    Err(error) => return self.phase_failed(&task, error).map(Look::Ended),
                }
            };
            match held {
                Ok(()) => {
                    if let Some(end) = self.guard_held(&task, guarded).await? {
                        return Ok(Look::Ended(end));
                    }
                    self.task_held(&task, state, false)?;
                }
                Err(check) => {
                    task.saw(check);
                    seen.push((task.step.id.clone(), task.seen.clone().unwrap_or_default()));
                    still.push(task);
                }
            }
        }
        Ok(Look::Open(still, seen))
    }

    /// Records a pause at every open step of the phase.
    fn pause(
        &self,
        open: &[Manual<'_>],
        instructions: &[(StepId, ManualAction)],
    ) -> Result<PhaseEnd, ExecError> {
        let mut waiting = Vec::new();
        for task in open {
            let step = task.step.id.clone();
            let asked = instructions.iter().find(|(id, _)| *id == step).map_or_else(
                || task.action.describe(),
                |(_, action)| action.summary.clone(),
            );
            // What the person is asked for, and what live state showed instead at the last
            // look: often the real reason the run waits (a variable not set, a credential
            // that is the old one).
            let waiting_for = match &task.seen {
                Some(seen) => format!("{asked} (last look: {seen})"),
                None => asked,
            };
            self.append(task.paused(waiting_for.clone()))?;
            let since = self.summary().waiting(&step).and_then(|w| w.since);
            waiting.push(Waiting {
                step,
                waiting_for,
                since,
                cannot_tell: task.cannot_tell,
            });
        }
        Ok(PhaseEnd::Paused(waiting))
    }

    /// Records that a task holds: a step done (by a person, or found done), or undone.
    fn task_held(
        &self,
        task: &Manual<'_>,
        state: StepState,
        first_look: bool,
    ) -> Result<(), ExecError> {
        let asked = task.asked(state);
        match task.direction {
            Direction::Forward => {
                // Known by a person's word is attested, whatever could have observed it.
                let known = if self.summary().attestation(&task.step.id, false).is_some() {
                    Verification::Attested
                } else {
                    task.action.verification()
                };
                let how = if first_look && !asked {
                    Held::AlreadyDone
                } else {
                    Held::PersonDid(known)
                };
                self.hold(task.step, effect_of(task.step, state.is_the_runs()), how)
            }
            Direction::Rollback => {
                self.append(Entry::Undone {
                    step: task.step.id.clone(),
                })?;
                self.progress.event(Event::Undone {
                    step: &task.step.id,
                    nothing_to_undo: first_look && !asked,
                });
                self.progress.advance();
                Ok(())
            }
        }
    }

    /// A task failed: going forward the step is recorded failed; an undo's failure is the
    /// rollback's to record.
    fn phase_failed(&self, task: &Manual<'_>, error: StepError) -> Result<PhaseEnd, ExecError> {
        let step = task.step.id.clone();
        if task.direction == Direction::Forward {
            // Once a person was asked, whatever they did may have taken effect.
            let effect = if task.asked(self.record(&step)) {
                FailureEffect::MaybeChanged
            } else {
                FailureEffect::Unchanged
            };
            let _ = self.fail(task.step, error.clone(), effect)?;
        }
        Ok(PhaseEnd::Failed { step, error })
    }
}
