//! What the executor reports while it works. It emits events; the command line decides how they
//! look (glyphs, a progress bar, JSON), so no presentation lives in the executor.

use std::time::Duration;

use crate::ids::{RunId, StepId};
use crate::provider::{ManualAction, ProviderError, Step, Verification};

use super::error::StepError;

/// How a step came to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// A verification passed.
    Verified,
    /// The run changed it just now.
    Changed,
    /// Live state already matched; nothing was sent.
    AlreadyDone,
    /// It was interrupted mid-change earlier, and live state shows the change holds.
    ConfirmedAfterInterruption,
    /// What it creates is there, left by an abandoned run: this run takes it over as its own.
    TakenOver,
    /// A person did it, as asked, and it is known as the step's verification says.
    PersonDid(Verification),
}

/// One thing that happened.
#[derive(Debug)]
pub enum Event<'a> {
    /// A change is about to be made through the API (`attempt` counts from 1).
    Acting {
        /// The step (for an undo, the step being undone).
        step: &'a Step,
        /// What it does, in words.
        description: String,
        /// Which attempt.
        attempt: u32,
        /// Whether it is an undo.
        undo: bool,
    },
    /// A step holds.
    Held {
        /// The step.
        step: &'a StepId,
        /// How.
        how: Held,
    },
    /// The platform waits on a person before an API step can go on.
    Blocked {
        /// The step.
        step: &'a StepId,
        /// What the platform shows.
        reason: &'a str,
    },
    /// A step was passed over on purpose.
    Skipped {
        /// The step.
        step: &'a StepId,
        /// Why.
        reason: &'a str,
    },
    /// A change went out and its answer did not come back intact; live state is read again.
    AnswerLost {
        /// The step.
        step: &'a StepId,
        /// What happened to the answer.
        error: &'a ProviderError,
    },
    /// Live state shows the change did not happen; it is sent again after `wait`.
    NotApplied {
        /// The step.
        step: &'a StepId,
        /// The attempt that did not apply.
        attempt: u32,
        /// How long until the next attempt.
        wait: Duration,
    },
    /// A person must act: every manual step of one phase at once.
    PersonNeeded {
        /// Each step and what to do for it.
        steps: &'a [(StepId, ManualAction)],
        /// Whether these undo earlier steps.
        undo: bool,
    },
    /// The sandbox operator could not do a manual step (a secret it needs is not set, the
    /// platform refused it): the step waits for a person, as without the operator.
    PersonCouldNot {
        /// The step.
        step: &'a StepId,
        /// Why, as the operator says it.
        reason: String,
    },
    /// The sandbox operator did the manual steps, as a person would in the UI.
    PersonPlayed {
        /// How many.
        count: usize,
    },
    /// Waiting for a person; `enter` says whether Enter checks again at once.
    Waiting {
        /// Whether a terminal's Enter key checks again at once.
        enter: bool,
        /// Steps nothing can observe: a person attests them.
        attest: &'a [StepId],
        /// The run, for the attest command.
        run: &'a RunId,
    },
    /// The person at the terminal pressed Enter to have the steps checked now.
    Entered,
    /// A look, while waiting, at the steps a person was asked for: what each still shows.
    Looked {
        /// Each step not done yet, and what its last check saw instead.
        seen: &'a [(StepId, String)],
    },
    /// A check could not tell whether a step holds; it is asked again after `wait`.
    CannotTellYet {
        /// The step.
        step: &'a StepId,
        /// Why it cannot tell.
        reason: &'a str,
        /// How long until it is asked again.
        wait: Duration,
    },
    /// A check still could not tell, within the retry budget: the run pauses at the step.
    Undecided {
        /// The step.
        step: &'a StepId,
        /// Why.
        reason: &'a str,
    },
    /// A step that held no longer does: the run goes back to it (and the steps after it).
    Reopened {
        /// The step.
        step: &'a StepId,
        /// What live state shows now.
        reason: &'a str,
    },
    /// A step failed.
    Failed {
        /// The step.
        step: &'a StepId,
        /// Why.
        error: &'a StepError,
    },
    /// Rollback begins.
    RollbackStarted,
    /// A step was undone (or found to need no undoing).
    Undone {
        /// The step.
        step: &'a StepId,
        /// Whether live state already showed it undone.
        nothing_to_undo: bool,
    },
    /// A rotation is past its pivot (its verification passed): it is kept, not rolled back.
    Kept {
        /// The rotation.
        rotation: usize,
        /// Its verification step.
        pivot: &'a StepId,
    },
    /// Something the run took over from an abandoned run stays: it was there when the run
    /// started.
    LeftInPlace {
        /// What it is, as the platform names it.
        identity: &'a str,
        /// The abandoned run that made it.
        left_by: &'a RunId,
    },
}

/// Where the executor reports what happens.
pub trait Progress {
    /// Something happened.
    fn event(&self, event: Event<'_>);

    /// A step finished (done, already done, or undone): for a progress bar.
    fn advance(&self) {}
}
