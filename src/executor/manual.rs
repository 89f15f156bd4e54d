//! Manual phases: the steps only a person can do, a phase at a time.
//!
//! A phase is a run of consecutive manual steps in one rotation (say, relinking two services to
//! the temporary user): a person does them in one sitting, so they are shown together and
//! waited for together. Each is checked first; those that do not hold are announced in the
//! journal before the person is asked, so whatever the person does from then on is the run's
//! effect, and rollback undoes it. Undoing manual steps goes through the same gate.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::AsyncBufReadExt;

use super::Executor;
use super::error::{ExecError, StepError};
use super::event::{Event, Held};
use super::forward::effect_of;
use super::gate::{GateWait, POLL};
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
}

impl<'s> Manual<'s> {
    /// The step itself.
    pub(super) fn forward(step: &'s Step) -> Self {
        Self {
            step,
            action: step.action.clone(),
            direction: Direction::Forward,
            resend: false,
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
        }
    }

    fn is_undo(&self) -> bool {
        self.direction == Direction::Rollback
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
        match self.direction {
            Direction::Forward => Entry::Paused { step, waiting_for },
            Direction::Rollback => Entry::UndoPaused { step, waiting_for },
        }
    }

    /// Whether a person was already asked for it (in this process or an earlier one).
    fn asked(&self, state: StepState) -> bool {
        match self.direction {
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
}

impl Executor<'_> {
    /// Checks every step of a phase, asks a person for those that do not hold (all at once),
    /// then waits for all of them.
    pub(super) async fn manual_phase(
        &self,
        phase: Vec<Manual<'_>>,
        stop: Option<&AtomicBool>,
    ) -> Result<PhaseEnd, ExecError> {
        self.absorb_attestations()?;
        let mut open = Vec::new();
        for task in phase {
            let state = self.record(&task.step.id);
            if task.is_complete(state) {
                continue;
            }
            match self.check(task.step, &task.action, task.is_undo()).await {
                Err(error) => return self.phase_failed(&task, error),
                Ok(Check::Holds) => self.task_held(&task, state, true)?,
                Ok(Check::Conflict(reason)) => {
                    return self.phase_failed(&task, StepError::Conflict { reason });
                }
                Ok(Check::NotYet(_) | Check::NeedsPerson(_)) => {
                    if !task.asked(state) {
                        self.append(task.announced())?;
                    }
                    open.push(task);
                }
            }
        }
        if open.is_empty() {
            return Ok(PhaseEnd::Held);
        }
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
                for task in &open {
                    // Whoever plays the person changes state on the run's behalf: only while
                    // the run is still this process's.
                    self.prove_held()?;
                    if let Err(error) = person.perform(&task.action).await {
                        return self.phase_failed(task, error.into());
                    }
                    if task.attested() {
                        self.attest_played(task.step, task.is_undo(), person.name())?;
                    }
                }
                self.progress
                    .event(Event::PersonPlayed { count: open.len() });
                true
            }
            None => false,
        };
        self.wait(open, &instructions, played, stop).await
    }

    /// Polls the phase's open steps until all hold, the wait ends, or the run stops.
    async fn wait(
        &self,
        mut open: Vec<Manual<'_>>,
        instructions: &[(StepId, ManualAction)],
        played: bool,
        stop: Option<&AtomicBool>,
    ) -> Result<PhaseEnd, ExecError> {
        let deadline = self.options.gate.deadline(played);
        // A person at a terminal can press Enter to have the steps checked at once.
        let mut enter = (self.options.gate == GateWait::Forever && !played)
            .then(|| tokio::io::BufReader::new(tokio::io::stdin()));
        // Keys pressed while the progress bars redraw must not move the cursor under them.
        let _quiet = enter.as_ref().and_then(|_| crate::tty::EchoOff::on_stdin());
        let attest: Vec<StepId> = open
            .iter()
            .filter(|t| t.attested())
            .map(|t| t.step.id.clone())
            .collect();
        if deadline.is_some() && !played {
            let run = self.lock_run().id().clone();
            self.progress.event(Event::Waiting {
                enter: enter.is_some(),
                attest: &attest,
                run: &run,
            });
        }
        // Someone who plays the person acted just now: look at once. Otherwise the first look
        // was a moment ago.
        let mut look = played;
        loop {
            if look {
                self.absorb_attestations()?;
                let mut still = Vec::new();
                let mut seen = Vec::new();
                for task in open {
                    let state = self.record(&task.step.id);
                    if task.resend {
                        match self.change(task.step, &task.action, task.is_undo()).await? {
                            Ok(()) => self.task_held(&task, state, false)?,
                            Err((StepError::NeedsPerson { reason, .. }, _)) => {
                                seen.push((task.step.id.clone(), reason));
                                still.push(task);
                            }
                            Err((error, _)) => return self.phase_failed(&task, error),
                        }
                        continue;
                    }
                    match self.check(task.step, &task.action, task.is_undo()).await {
                        Ok(Check::Holds) => self.task_held(&task, state, false)?,
                        Ok(Check::NotYet(reason) | Check::NeedsPerson(reason)) => {
                            seen.push((task.step.id.clone(), reason));
                            still.push(task);
                        }
                        Ok(Check::Conflict(reason)) => {
                            return self.phase_failed(&task, StepError::Conflict { reason });
                        }
                        Err(error) => return self.phase_failed(&task, error),
                    }
                }
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
            match enter.as_mut() {
                Some(stdin) => {
                    let mut line = String::new();
                    tokio::select! {
                        () = tokio::time::sleep(POLL) => {}
                        read = stdin.read_line(&mut line) => match read {
                            // Ctrl-D or a closed stdin: only the timer is left to wait on
                            // (reading on would return at once, and the loop would spin).
                            Ok(0) | Err(_) => enter = None,
                            Ok(_) => {
                                self.progress.event(Event::Entered);
                                // `done` at the terminal attests what nothing can observe, as
                                // the person running relinker.
                                if line.trim().eq_ignore_ascii_case("done") {
                                    let by = std::env::var("USER").unwrap_or_else(|_| "the person at the terminal".into());
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

    /// Records a pause at every open step of the phase.
    fn pause(
        &self,
        open: &[Manual<'_>],
        instructions: &[(StepId, ManualAction)],
    ) -> Result<PhaseEnd, ExecError> {
        let mut waiting = Vec::new();
        for task in open {
            let step = task.step.id.clone();
            let waiting_for = instructions.iter().find(|(id, _)| *id == step).map_or_else(
                || task.action.describe(),
                |(_, action)| action.summary.clone(),
            );
            self.append(task.paused(waiting_for.clone()))?;
            let since = self.summary().waiting(&step).and_then(|w| w.since);
            waiting.push(Waiting {
                step,
                waiting_for,
                since,
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
                let how = if first_look && !asked {
                    Held::AlreadyDone
                } else {
                    Held::PersonDid(task.action.verification())
                };
                self.hold(task.step, effect_of(task.step, asked), how)
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
