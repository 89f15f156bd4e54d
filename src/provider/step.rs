//! Steps: what a compiled plan will do, one API call or one thing a person does at a time.
//!
//! A step is data only: its operation says who performs it, how its effect becomes known, and
//! what undoes it. The executor decides when to check, act and verify; renderers describe;
//! saved plans and the journal store steps as they are.

use serde::{Deserialize, Serialize};

use super::op::Op;
use crate::ids::StepId;

/// Who performs a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Performer {
    /// relinker, through the platform's API.
    Api,
    /// A person, in the platform's UI or an integration's settings.
    Person,
}

/// How a step's effect becomes known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verification {
    /// relinker reads it back through an API.
    Observed,
    /// A program the plan names is given the credential (in its environment) and exits 0 when
    /// it authenticates.
    CheckedByCommand,
    /// Nothing can observe it: a named person confirms it (`relinker attest`), and it is always
    /// shown as attested, never as verified.
    Attested,
}

/// Whether a step can be undone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reversibility {
    /// It has a compensation.
    Reversible,
    /// Once done it stays done; ordered after every verification.
    Irreversible,
    /// It changes nothing (a verification, a wait).
    ReadOnly,
}

/// What live state already says about a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Readiness {
    /// It has work to do: live state was seen to differ.
    Pending,
    /// Live state already matches; it will be recorded and skipped.
    AlreadySatisfied,
    /// Live state could not say at planning (a check command that could not tell, or was not
    /// run): it is checked when its turn comes, and found done then, before the run asked for
    /// it, it is not the run's to undo.
    Unknown,
}

impl Readiness {
    /// Whether the step may have work to do.
    pub fn has_work(self) -> bool {
        self != Readiness::AlreadySatisfied
    }
}

/// One step of a compiled plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Stable id within the run, e.g. `r0-link-salesforce-sync-to-temporary-user`.
    pub id: StepId,
    /// Index of the rotation it belongs to.
    pub rotation: usize,
    /// What it does.
    pub action: Op,
    /// Whether live state already matches.
    pub readiness: Readiness,
}

impl Step {
    /// Who performs it.
    pub fn performer(&self) -> Performer {
        self.action.performer()
    }

    /// How its effect becomes known.
    pub fn verification(&self) -> Verification {
        self.action.verification()
    }

    /// Whether it can be undone.
    pub fn reversibility(&self) -> Reversibility {
        self.action.reversibility()
    }
}

/// How many of `steps` (the first not complete yet) make one phase: a person's steps that
/// follow one another, up to the next irreversible one, are shown and waited for together, in
/// one sitting. An irreversible step is a phase of its own, so a person does it only once
/// everything before it holds; an API step is one on its own.
pub fn phase_len(steps: &[Step]) -> usize {
    let irreversible = |s: &Step| s.reversibility() == Reversibility::Irreversible;
    match steps.first() {
        None => 0,
        Some(first) if first.performer() != Performer::Person || irreversible(first) => 1,
        Some(_) => steps
            .iter()
            .take_while(|s| s.performer() == Performer::Person && !irreversible(s))
            .count(),
    }
}
