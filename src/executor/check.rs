//! How the executor asks whether a step holds. What an API can observe, or a check command can
//! tell, the platform answers, with the facts of the run a check may need (credential
//! fingerprints at the start, when steps were done). What nothing can observe holds once a
//! named person attests it: attestations recorded beside the journal (`relinker attest`) are
//! absorbed into it before each look. Nothing is asked before an operation's "not before" time
//! (a soak) has come.

use chrono::{DateTime, SecondsFormat, Utc};

use super::Executor;
use super::error::{ExecError, StepError};
use crate::ids::{ServiceName, StepId};
use crate::journal::{Entry, RunSummary};
use crate::provider::{Check, ManualAction, Op, RunFacts, Step, Verification};
use crate::secret::Fingerprint;

impl RunFacts for RunSummary {
    fn credential_at_start(&self, service: &ServiceName) -> Option<Fingerprint> {
        self.credential(service).cloned()
    }

    fn done_at(&self, step: &StepId) -> Option<DateTime<Utc>> {
        RunSummary::done_at(self, step)
    }
}

/// A time as people read it in messages.
pub(super) fn moment(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// When `op` may first be done, if that is still to come.
fn not_yet(op: &Op, facts: &RunSummary) -> Option<DateTime<Utc>> {
    op.not_before(facts).filter(|at| Utc::now() < *at)
}

impl Executor<'_> {
    /// Whether `op` (the step itself, or with `undo` its compensation) holds in live state.
    pub(super) async fn check(&self, step: &Step, op: &Op, undo: bool) -> Result<Check, StepError> {
        let facts = self.summary();
        if let Some(at) = not_yet(op, &facts) {
            return Ok(Check::NotYet(format!("not before {}", moment(at))));
        }
        match op.verification() {
            Verification::Attested => Ok(match facts.attestation(&step.id, undo) {
                Some(_) => Check::Holds,
                None => Check::NotYet(
                    "nothing can observe it; waiting for a person to attest it".into(),
                ),
            }),
            Verification::Observed | Verification::CheckedByCommand => {
                Ok(self.platform.check(op, &facts).await?)
            }
        }
    }

    /// Moves attestations recorded beside the journal into it.
    pub(super) fn absorb_attestations(&self) -> Result<(), ExecError> {
        let mut run = self.lock_run();
        for attestation in run.new_attestations()? {
            run.append(Entry::Attested {
                step: attestation.step,
                undo: attestation.undo,
                by: attestation.by,
                attested_at: attestation.at,
                note: attestation.note,
            })?;
        }
        Ok(())
    }

    /// Records that whoever plays the person did an attested step (or its undo).
    pub(super) fn attest_played(&self, step: &Step, undo: bool, by: &str) -> Result<(), ExecError> {
        self.append(Entry::Attested {
            step: step.id.clone(),
            undo,
            by: by.to_owned(),
            attested_at: Utc::now(),
            note: None,
        })
    }

    /// Carries out an API operation, the executor itself the platform's fence.
    pub(super) async fn act(&self, op: &Op) -> Result<(), crate::provider::ProviderError> {
        self.platform.act(op, self).await
    }

    /// What a person must do for a manual operation, and from when.
    pub(super) fn instructions(&self, op: &Op) -> ManualAction {
        let mut action = self.platform.instructions(op);
        if let Some(at) = not_yet(op, &self.summary()) {
            action.summary = format!("from {} on: {}", moment(at), action.summary);
        }
        action
    }
}
