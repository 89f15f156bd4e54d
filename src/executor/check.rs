//! How the executor asks whether a step holds. What an API can observe, or a check command can
//! tell, the platform answers, with the facts of the run a check may need (credential
//! fingerprints at the start, when steps were done). What nothing can observe holds once a
//! named person attests it: attestations recorded beside the journal (`relinker attest`) are
//! absorbed into it before each look. A person's step that can be observed may be attested
//! too, for when its check cannot tell (a token older than the relink it should show): the
//! attestation then stands in, never against what is observed. Nothing is asked before an operation's "not before" time
//! (a soak) has come.

use chrono::{DateTime, SecondsFormat, Utc};

use super::Executor;
use super::error::{ExecError, StepError};
use crate::ids::{ServiceName, StepId};
use crate::journal::{Entry, RunSummary};
use crate::provider::{Check, ManualAction, Op, Performer, RunFacts, Step, Verification};
use crate::secret::CredentialFingerprint;

impl RunFacts for RunSummary {
    fn credential_at_start(&self, service: &ServiceName) -> Option<CredentialFingerprint> {
        self.credential(service).cloned()
    }

    fn done_at(&self, step: &StepId) -> Option<DateTime<Utc>> {
        RunSummary::done_at(self, step)
    }

    fn evidence_after(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// What one check may know of its run: the run's facts, and since when an answer must be
/// read to count as evidence.
struct Facts<'a> {
    run: &'a RunSummary,
    evidence_after: Option<DateTime<Utc>>,
}

impl RunFacts for Facts<'_> {
    fn credential_at_start(&self, service: &ServiceName) -> Option<CredentialFingerprint> {
        self.run.credential(service).cloned()
    }

    fn done_at(&self, step: &StepId) -> Option<DateTime<Utc>> {
        self.run.done_at(step)
    }

    fn evidence_after(&self) -> Option<DateTime<Utc>> {
        self.evidence_after
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
                // Undoing a step a person was asked for and the run never saw done: whatever
                // they did may have happened any time while the ask stood, from the ask until
                // the run turned back, so only what is read from after that shows whether
                // there is anything to undo (a token minted in between may predate the
                // person's relink). A step seen done was seen as its change; an answer that
                // differs from that is news.
                let evidence_after = if undo && facts.done_at(&step.id).is_none() {
                    facts
                        .asked_at(&step.id, false)
                        .map(|asked| facts.rollback_started_at().map_or(asked, |r| r.max(asked)))
                } else {
                    None
                };
                let run = Facts {
                    run: &facts,
                    evidence_after,
                };
                let answer = self.platform.check(op, &run).await?;
                // Where the check cannot tell, a person's word for this ask stands in; it
                // never stands against what is observed.
                if let Check::CannotTell(_) = &answer
                    && op.performer() == Performer::Person
                    && facts.attestation(&step.id, undo).is_some()
                {
                    return Ok(Check::Holds);
                }
                Ok(answer)
            }
        }
    }

    /// Moves attestations recorded beside the journal into it: each once, and only while it
    /// answers the ask that stands (its step is due, asked for when the attestation says). One
    /// given before its step was due, or for an ask since replaced, is left unread.
    pub(super) fn absorb_attestations(&self) -> Result<(), ExecError> {
        let mut run = self.lock_run();
        for attestation in run.new_attestations()? {
            let summary = run.summary();
            let answers = summary.is_due(&attestation.step, attestation.undo, &[])
                && summary
                    .attestation(&attestation.step, attestation.undo)
                    .is_none()
                && attestation.asked.is_none_or(|asked| {
                    summary.asked_at(&attestation.step, attestation.undo) == Some(asked)
                });
            if !answers {
                tracing::warn!(step = %attestation.step, by = %attestation.by, "an attestation that does not answer the step's current ask is left unread");
                continue;
            }
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
