//! Journal records, and the run state they add up to.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::plan::Step;
use crate::secret::Fingerprint;

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// The run's steps, fixed at its start, and the credentials' fingerprints to prove unchanged.
    Started {
        /// Plan name.
        plan: String,
        /// SHA-256 of the plan file.
        plan_sha256: Fingerprint,
        /// The instance.
        instance: String,
        /// Whether the run used an embedded sandbox.
        sandbox: bool,
        /// The folder the plan file was in, for its relative references.
        plan_dir: String,
        /// The compiled steps.
        steps: Vec<Step>,
        /// Each service's credential fingerprint at the start.
        credentials: BTreeMap<String, Fingerprint>,
    },
    /// A step is about to change something (written and fsynced before the request).
    Intent {
        /// The step id.
        step: String,
    },
    /// A step holds; `applied` says whether this run changed anything for it.
    Done {
        /// The step id.
        step: String,
        /// False when live state already matched.
        applied: bool,
    },
    /// The run stopped at a manual step nobody has done yet.
    Paused {
        /// The step id.
        step: String,
        /// What the person must do.
        waiting_for: String,
    },
    /// A step failed after its retries.
    Failed {
        /// The step id.
        step: String,
        /// Why.
        error: String,
        /// Whether it may have changed live state before failing. Absent in journals written
        /// before this was recorded, which read as unchanged.
        #[serde(default, skip_serializing_if = "FailureEffect::is_unchanged")]
        effect: FailureEffect,
    },
    /// A completed step's compensation is about to run.
    UndoIntent {
        /// The step being undone.
        step: String,
    },
    /// A completed step was undone.
    Undone {
        /// The step.
        step: String,
    },
    /// Rollback stopped short.
    RollbackIncomplete {
        /// Why.
        reason: String,
    },
    /// Every step holds and every check passed.
    Finished,
    /// Rollback undid everything it could and needed to.
    RolledBack,
}

/// What a failed step may have left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureEffect {
    /// It failed before changing anything: a check failed, or the request was refused.
    #[default]
    Unchanged,
    /// Its change was made, or may have been (a person acted, an answer was lost), but could
    /// not be verified: rollback must consider undoing it.
    MaybeChanged,
}

impl FailureEffect {
    // serde's `skip_serializing_if` hands over a reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    fn is_unchanged(&self) -> bool {
        *self == FailureEffect::Unchanged
    }
}

/// What one step's records say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepRecord {
    /// Nothing recorded.
    Pending,
    /// An intent without a `done`: the request may or may not have been applied.
    InDoubt,
    /// Done, changing something.
    Applied,
    /// Done, nothing needed.
    AlreadySatisfied,
    /// Waiting for a person.
    Paused,
    /// Failed.
    Failed,
    /// Undone by rollback.
    Undone,
}

/// The state of a run, replayed from its journal.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// The `started` record's contents.
    pub plan: String,
    /// Plan digest.
    pub plan_sha256: Option<Fingerprint>,
    /// Instance.
    pub instance: String,
    /// Whether it used an embedded sandbox.
    pub sandbox: bool,
    /// The plan file's folder.
    pub plan_dir: String,
    /// The steps.
    pub steps: Vec<Step>,
    /// Credential fingerprints at the start.
    pub credentials: BTreeMap<String, Fingerprint>,
    /// Each step's state.
    pub records: BTreeMap<String, StepRecord>,
    /// Steps that changed live state, or may have (interrupted, or failed after acting), in the
    /// order they began: what rollback considers, newest first, each re-checked before undoing.
    pub applied_order: Vec<String>,
    /// Steps whose compensation started but was not confirmed.
    pub undo_in_doubt: BTreeSet<String>,
    /// Whether the run finished.
    pub finished: bool,
    /// Whether rollback completed.
    pub rolled_back: bool,
    /// The last rollback problem, if rollback stopped short.
    pub rollback_incomplete: Option<String>,
    /// The last failure.
    pub failure: Option<String>,
    /// What a paused run waits for.
    pub waiting_for: Option<String>,
}

impl RunSummary {
    /// A step's state.
    pub fn record(&self, step: &str) -> StepRecord {
        self.records
            .get(step)
            .copied()
            .unwrap_or(StepRecord::Pending)
    }

    /// One word for the run.
    pub fn status(&self) -> &'static str {
        if self.rolled_back {
            "rolled back"
        } else if self.rollback_incomplete.is_some() {
            "rollback incomplete"
        } else if self.finished {
            "done"
        } else if self.waiting_for.is_some() {
            "paused"
        } else if self.failure.is_some() {
            "failed"
        } else {
            "interrupted"
        }
    }
}

/// Adds up a journal's records.
pub fn replay(entries: &[Entry]) -> RunSummary {
    let mut run = RunSummary::default();
    for entry in entries {
        run.apply(entry);
    }
    run
}

impl RunSummary {
    /// Adds one record to the state.
    pub fn apply(&mut self, entry: &Entry) {
        let run = self;
        match entry {
            Entry::Started {
                plan,
                plan_sha256,
                instance,
                sandbox,
                plan_dir,
                steps,
                credentials,
            } => {
                run.plan_dir.clone_from(plan_dir);
                run.plan.clone_from(plan);
                run.plan_sha256 = Some(plan_sha256.clone());
                run.instance.clone_from(instance);
                run.sandbox = *sandbox;
                run.steps.clone_from(steps);
                run.credentials.clone_from(credentials);
            }
            Entry::Intent { step } => {
                run.records.insert(step.clone(), StepRecord::InDoubt);
                if !run.applied_order.contains(step) {
                    run.applied_order.push(step.clone());
                }
                run.waiting_for = None;
                run.failure = None;
            }
            Entry::Done { step, applied } => {
                run.records.insert(
                    step.clone(),
                    if *applied {
                        StepRecord::Applied
                    } else {
                        StepRecord::AlreadySatisfied
                    },
                );
                if !*applied {
                    run.applied_order.retain(|s| s != step);
                } else if !run.applied_order.contains(step) {
                    run.applied_order.push(step.clone());
                }
                run.waiting_for = None;
            }
            Entry::Paused { step, waiting_for } => {
                run.records.insert(step.clone(), StepRecord::Paused);
                run.waiting_for = Some(waiting_for.clone());
            }
            Entry::Failed {
                step,
                error,
                effect,
            } => {
                run.records.insert(step.clone(), StepRecord::Failed);
                run.failure = Some(error.clone());
                if *effect == FailureEffect::Unchanged {
                    run.applied_order.retain(|s| s != step);
                }
            }
            Entry::UndoIntent { step } => {
                run.undo_in_doubt.insert(step.clone());
            }
            Entry::Undone { step } => {
                run.undo_in_doubt.remove(step);
                run.records.insert(step.clone(), StepRecord::Undone);
                run.applied_order.retain(|s| s != step);
            }
            Entry::RollbackIncomplete { reason } => run.rollback_incomplete = Some(reason.clone()),
            Entry::Finished => run.finished = true,
            Entry::RolledBack => {
                run.rolled_back = true;
                run.rollback_incomplete = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intent(step: &str) -> Entry {
        Entry::Intent { step: step.into() }
    }

    fn failed(step: &str, effect: FailureEffect) -> Entry {
        Entry::Failed {
            step: step.into(),
            error: "boom".into(),
            effect,
        }
    }

    #[track_caller]
    fn considered_by_rollback(entries: &[Entry], expected: &[&str]) {
        assert_eq!(replay(entries).applied_order, expected, "{entries:?}");
    }

    #[test]
    fn rollback_considers_every_step_that_may_have_changed_something() {
        let done = |step: &str, applied| Entry::Done {
            step: step.into(),
            applied,
        };
        considered_by_rollback(&[intent("a"), done("a", true)], &["a"]);
        considered_by_rollback(&[done("a", false)], &[]);
        // Interrupted mid-request: it may have applied.
        considered_by_rollback(&[intent("a"), done("a", true), intent("b")], &["a", "b"]);
        // Refused outright, or applied but not verified.
        considered_by_rollback(&[intent("a"), failed("a", FailureEffect::Unchanged)], &[]);
        considered_by_rollback(
            &[intent("a"), failed("a", FailureEffect::MaybeChanged)],
            &["a"],
        );
        considered_by_rollback(&[intent("a"), Entry::Undone { step: "a".into() }], &[]);
    }

    #[test]
    fn a_failure_written_before_effects_were_recorded_reads_as_unchanged() {
        let old: Entry =
            serde_json::from_str(r#"{"kind":"failed","step":"a","error":"boom"}"#).unwrap();
        assert_eq!(old, failed("a", FailureEffect::Unchanged));
        let line = serde_json::to_string(&failed("a", FailureEffect::Unchanged)).unwrap();
        assert!(!line.contains("effect"), "{line}");
        let line = serde_json::to_string(&failed("a", FailureEffect::MaybeChanged)).unwrap();
        assert!(line.contains(r#""effect":"maybe_changed""#), "{line}");
    }
}
