//! The state of a run, replayed from its journal: one [`RunState`] for the run, one
//! [`StepState`] per step, and the times a person looks for (started, last activity, paused
//! since).
//!
//! Replaying is a fold over records in order; each record moves the state the same way whether
//! it is read back on resume or applied in memory as it is appended.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::entry::{Attestation, Entry, FailureEffect, Record, Started, StepEffect};
use crate::ids::{RunId, ServiceName, StepId, UserId};
use crate::plan::OnFailure;
use crate::provider::Step;
use crate::secret::CredentialFingerprint;

/// Where one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepState {
    /// Nothing recorded.
    Pending,
    /// Its change was announced (or a person asked) and not yet seen to hold: it may or may not
    /// have taken effect.
    InDoubt,
    /// Waiting for a person who was asked to do it.
    Waiting,
    /// It holds.
    Done(StepEffect),
    /// Passed over on purpose.
    Skipped,
    /// It failed.
    Failed(FailureEffect),
    /// Its undo was announced and not yet confirmed.
    UndoInDoubt,
    /// Its undo waits for a person.
    UndoWaiting,
    /// Undone, or found to need no undoing.
    Undone,
    /// It held as the run's change (or a person may have acted on it), and a later look found
    /// it no longer holds: it is to be done again, and rollback still considers it.
    Reopened,
    /// What it creates was left by an abandoned run, and this run took it over: it is the
    /// run's, as if made by it.
    Adopted,
}

impl StepState {
    /// Whether the step may have changed live state on the run's behalf, so that rollback must
    /// consider undoing it (each undo first checks whether there is anything to undo).
    pub fn may_have_changed(self) -> bool {
        matches!(
            self,
            StepState::Done(StepEffect::Changed)
                | StepState::InDoubt
                | StepState::Waiting
                | StepState::Failed(FailureEffect::MaybeChanged)
                | StepState::UndoInDoubt
                | StepState::UndoWaiting
                | StepState::Reopened
                | StepState::Adopted
        )
    }

    /// Whether, going forward, live state that holds now is the run's doing: the run sent the
    /// change or asked a person for it (in this process or an earlier one), or it held as the
    /// run's change before it was reopened.
    pub fn is_the_runs(self) -> bool {
        matches!(
            self,
            StepState::InDoubt
                | StepState::Waiting
                | StepState::Failed(FailureEffect::MaybeChanged)
                | StepState::Reopened
                | StepState::Adopted
        )
    }

    /// Whether the step needs nothing more going forward.
    pub fn is_complete(self) -> bool {
        matches!(self, StepState::Done(_) | StepState::Skipped)
    }

    /// One word or two, for people and for `status --format json`.
    pub fn word(self) -> &'static str {
        match self {
            StepState::Pending => "pending",
            StepState::InDoubt => "in_doubt",
            StepState::Waiting => "waiting_for_person",
            StepState::Done(StepEffect::Changed) => "applied",
            StepState::Done(StepEffect::Unchanged) => "already_satisfied",
            StepState::Skipped => "skipped",
            StepState::Failed(_) => "failed",
            StepState::UndoInDoubt => "undo_in_doubt",
            StepState::UndoWaiting => "undo_waiting_for_person",
            StepState::Undone => "undone",
            StepState::Reopened => "reopened",
            StepState::Adopted => "adopted",
        }
    }
}

impl Serialize for StepState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.word())
    }
}

/// Which way a run is going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Towards the plan's end state.
    Forward,
    /// Back to the state before the run.
    Rollback,
}

/// A manual step waiting for a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waiting {
    /// The step (for a rollback, the step being undone).
    pub step: StepId,
    /// What the person must do.
    pub waiting_for: String,
    /// Since when.
    pub since: Option<DateTime<Utc>>,
    /// Whether the last look could not tell if it was done: a person's attestation may stand
    /// in for what cannot be observed now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cannot_tell: bool,
}

/// The state of a whole run: exactly one of these, so no two notes can contradict each other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RunState {
    /// Its journal has no `started` record (left by an older relinker that was refused).
    NeverStarted,
    /// Going forward (in progress, or its process stopped: `resume` continues it).
    Running,
    /// Waiting for a person at one or more manual steps.
    Paused {
        /// Which way the run was going.
        direction: Direction,
        /// Every manual step it waits at.
        waiting: Vec<Waiting>,
    },
    /// A step failed and the run is left as it is: by policy (`on_failure: pause`), or after
    /// the pivot, where it only rolls forward.
    Failed {
        /// The step.
        step: StepId,
        /// Why.
        error: String,
        /// Whether the failed step's rotation had already been verified.
        past_pivot: bool,
    },
    /// Rolling back (in progress, or its process stopped: `resume` continues the rollback).
    RollingBack,
    /// Rollback stopped short; the reason says what is left.
    RollbackIncomplete {
        /// Why.
        reason: String,
    },
    /// Everything the run did before its pivot is undone.
    RolledBack,
    /// Every step holds and every verification passed.
    Done,
    /// A person gave it up.
    Abandoned {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
}

impl RunState {
    /// A word or two for people.
    pub fn word(&self) -> &'static str {
        match self {
            RunState::NeverStarted => "never started",
            RunState::Running => "running",
            RunState::Paused {
                direction: Direction::Forward,
                ..
            } => "paused",
            RunState::Paused {
                direction: Direction::Rollback,
                ..
            } => "rollback paused",
            RunState::Failed { .. } => "failed",
            RunState::RollingBack => "rolling back",
            RunState::RollbackIncomplete { .. } => "rollback incomplete",
            RunState::RolledBack => "rolled back",
            RunState::Done => "done",
            RunState::Abandoned { .. } => "abandoned",
        }
    }

    /// A word or two for people, knowing whether a process works on the run now: a run going
    /// forward (or back) that no process works on was interrupted.
    pub fn word_when(&self, active: bool) -> &'static str {
        match self {
            RunState::Running if !active => "interrupted",
            RunState::RollingBack if !active => "rollback interrupted",
            state => state.word(),
        }
    }

    /// Whether nothing more will happen to the run: it no longer claims its users.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            RunState::Done | RunState::RolledBack | RunState::Abandoned { .. }
        )
    }
}

/// A failure as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Failure {
    step: StepId,
    error: String,
}

/// The state of a run, replayed from its journal.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    started: Option<Started>,
    started_at: Option<DateTime<Utc>>,
    last_activity: Option<DateTime<Utc>>,
    /// What the last notice that reached the webhook was about, and when.
    last_notice: Option<(String, DateTime<Utc>)>,
    records: BTreeMap<StepId, StepState>,
    done_at: BTreeMap<StepId, DateTime<Utc>>,
    /// When a person (or the API) was last asked for each step (`false`) or its undo (`true`).
    asked_at: BTreeMap<(StepId, bool), DateTime<Utc>>,
    attested: BTreeMap<(StepId, bool), Attestation>,
    /// Every attestation the journal took in, by step, direction and time: one taken in is
    /// never taken in again, even once a reopened step dropped it.
    absorbed: BTreeSet<(StepId, bool, DateTime<Utc>)>,
    /// What each creating step made, as seen right after it held.
    made: BTreeMap<StepId, crate::provider::Made>,
    /// The creating steps that took over what an abandoned run made, and that run.
    adopted: BTreeMap<StepId, RunId>,
    waiting: BTreeMap<StepId, Waiting>,
    failure: Option<Failure>,
    rollback: Option<String>,
    /// When the run first turned back: a person's step asked for before it may have been done
    /// any time until then.
    rollback_started_at: Option<DateTime<Utc>>,
    rollback_incomplete: Option<String>,
    rolled_back: bool,
    finished: bool,
    abandoned: Option<(String, String)>,
    /// When a person gave it up: its asks stood until then.
    abandoned_at: Option<DateTime<Utc>>,
}

/// Adds up a journal's records.
pub fn replay(records: &[Record]) -> RunSummary {
    let mut run = RunSummary::default();
    for record in records {
        run.apply(record);
    }
    run
}

impl RunSummary {
    /// The `started` record, if the journal has one.
    pub fn started(&self) -> Option<&Started> {
        self.started.as_ref()
    }

    /// Who started the run, and where, if its journal says.
    pub fn origin(&self) -> Option<&super::entry::Origin> {
        self.started.as_ref()?.origin.as_ref()
    }

    /// The plan's name.
    pub fn plan(&self) -> &str {
        self.started.as_ref().map_or("", |s| s.plan.as_str())
    }

    /// The instance the run acts on.
    pub fn instance(&self) -> &str {
        self.started.as_ref().map_or("", |s| s.instance.as_str())
    }

    /// Whether the run used an embedded sandbox.
    pub fn sandbox(&self) -> bool {
        self.started.as_ref().is_some_and(|s| s.sandbox)
    }

    /// The compiled steps.
    pub fn steps(&self) -> &[Step] {
        self.started.as_ref().map_or(&[], |s| s.steps.as_slice())
    }

    /// A step by id.
    pub fn step(&self, id: &StepId) -> Option<&Step> {
        self.steps().iter().find(|s| &s.id == id)
    }

    /// Credential fingerprints at the start.
    pub fn credential(&self, service: &ServiceName) -> Option<&CredentialFingerprint> {
        self.started.as_ref()?.credentials.get(service)
    }

    /// The failure policy journaled at the start, if the journal is recent enough to have one.
    pub fn on_failure(&self) -> Option<OnFailure> {
        self.started.as_ref()?.on_failure
    }

    /// Every user the run's steps touch: what it claims while unsettled.
    pub fn users(&self) -> Vec<&UserId> {
        let mut users: Vec<&UserId> = self.steps().iter().flat_map(|s| s.action.users()).collect();
        users.sort();
        users.dedup();
        users
    }

    /// A step's state.
    pub fn record(&self, step: &StepId) -> StepState {
        self.records
            .get(step)
            .copied()
            .unwrap_or(StepState::Pending)
    }

    /// Who attested a step (or, with `undo`, its undo), if anyone did since it was last asked
    /// for.
    pub fn attestation(&self, step: &StepId, undo: bool) -> Option<&Attestation> {
        self.attested.get(&(step.clone(), undo))
    }

    /// When the run last asked for a step (or, with `undo`, its undo): its latest `intent`.
    pub fn asked_at(&self, step: &StepId, undo: bool) -> Option<DateTime<Utc>> {
        self.asked_at.get(&(step.clone(), undo)).copied()
    }

    /// When the run first started rolling back, if it has.
    pub fn rollback_started_at(&self) -> Option<DateTime<Utc>> {
        self.rollback_started_at
    }

    /// Whether the journal already took in this attestation (it may since have been dropped,
    /// when its step was reopened).
    pub fn absorbed(&self, attestation: &Attestation) -> bool {
        self.absorbed
            .contains(&(attestation.step.clone(), attestation.undo, attestation.at))
    }

    /// What a creating step made, as seen right after it held: what its undo deletes.
    pub fn made(&self, step: &StepId) -> Option<&crate::provider::Made> {
        self.made.get(step)
    }

    /// The abandoned run whose leftover a creating step took over, if it did.
    pub fn adopted_from(&self, step: &StepId) -> Option<&RunId> {
        self.adopted.get(step)
    }

    /// What this run made and has not undone or deleted, by creating step: what it leaves
    /// behind if a person gives it up now.
    pub fn left_made(&self) -> Vec<(&StepId, &str)> {
        self.made
            .iter()
            .filter(|(step, made)| {
                self.record(step).may_have_changed()
                    && !self.steps().iter().any(|s| {
                        s.action.deletes()
                            && s.action
                                .users()
                                .contains(&&UserId::from_platform(made.identity.clone()))
                            && matches!(self.record(&s.id), StepState::Done(_))
                    })
            })
            .map(|(step, made)| (step, made.identity.as_str()))
            .collect()
    }

    /// The users this run asked to be made (an invitation sent, a person asked) without seeing
    /// them made, and not since undone: if one exists later, the run's ask made it.
    pub fn left_asked(&self) -> Vec<&UserId> {
        self.steps()
            .iter()
            .filter(|s| s.action.creates() && !self.made.contains_key(&s.id))
            .filter(|s| {
                matches!(
                    self.record(&s.id),
                    StepState::InDoubt
                        | StepState::Waiting
                        | StepState::Failed(FailureEffect::MaybeChanged)
                        | StepState::Reopened
                )
            })
            .flat_map(|s| s.action.users())
            .collect()
    }

    /// Each service a person was asked to relink (or to link back), with when the latest such
    /// ask stopped standing (the run was abandoned; while it stands, now) and the user it asked
    /// to move the service away from: the person may have done it any time until then, and a
    /// link read from before may still show that user.
    pub fn relinks_asked(&self) -> Vec<(&ServiceName, DateTime<Utc>, &UserId)> {
        // The latest ask of each service, over its steps (there and back) and their undos.
        let mut latest: BTreeMap<&ServiceName, (DateTime<Utc>, &UserId)> = BTreeMap::new();
        for step in self.steps() {
            let Some((service, from, to)) = step.action.relinks() else {
                continue;
            };
            for (undo, away_from) in [(false, from), (true, to)] {
                let Some(asked) = self.asked_at(&step.id, undo) else {
                    continue;
                };
                if latest.get(service).is_none_or(|(known, _)| *known < asked) {
                    latest.insert(service, (asked, away_from));
                }
            }
        }
        let until = |asked: DateTime<Utc>| self.abandoned_at.unwrap_or_else(Utc::now).max(asked);
        latest
            .into_iter()
            .map(|(service, (asked, away_from))| (service, until(asked), away_from))
            .collect()
    }

    /// Whether a step is due: the run asked a person for it (or, with `undo`, for its undo) and
    /// waits for it now, in the phase its rotation has reached; a proof, once every step before
    /// it holds (going back: the deletion of what the run made, once every undo the rollback
    /// does before it is done). A step attested for its
    /// current ask counts as holding, in the journal or in `pending` (attestations recorded
    /// beside it and not taken in yet). Only a due step may be attested.
    pub fn is_due(&self, step: &StepId, undo: bool, pending: &[Attestation]) -> bool {
        let Some(target) = self.step(step) else {
            return false;
        };
        let attested = |id: &StepId| {
            self.attestation(id, undo).is_some()
                || pending.iter().any(|a| {
                    a.step == *id
                        && a.undo == undo
                        && a.asked.is_some()
                        && a.asked == self.asked_at(id, undo)
                })
        };
        let rotation: Vec<&Step> = self
            .steps()
            .iter()
            .filter(|s| s.rotation == target.rotation)
            .collect();
        let state = self.record(step);
        if undo {
            // The undos of one phase are done in one sitting, in any order; deleting what the
            // run made comes after every later undo (newest first), so nothing is deleted
            // while an integration may still use it.
            return self.rollback.is_some()
                && matches!(state, StepState::UndoInDoubt | StepState::UndoWaiting)
                && (!target.action.creates()
                    || rotation
                        .iter()
                        .skip_while(|s| s.id != *step)
                        .skip(1)
                        .all(|s| {
                            !self.record(&s.id).may_have_changed()
                                || s.action.compensation().is_none()
                                || attested(&s.id)
                        }));
        }
        if self.rollback.is_some() || !matches!(state, StepState::InDoubt | StepState::Waiting) {
            return false;
        }
        let Some(first) = rotation
            .iter()
            .position(|s| !self.record(&s.id).is_complete())
        else {
            return false;
        };
        let phase: Vec<Step> = rotation[first..].iter().map(|s| (*s).clone()).collect();
        let phase = &phase[..crate::provider::phase_len(&phase)];
        // A phase's steps are done in one sitting, in any order; a proof comes after them.
        phase.iter().any(|s| s.id == *step)
            && (!target.action.proves()
                || rotation
                    .iter()
                    .take_while(|s| s.id != *step)
                    .all(|s| self.record(&s.id).is_complete() || attested(&s.id)))
    }

    /// The steps a person may attest now: due, and attested by nobody yet.
    pub fn due(&self, undo: bool) -> Vec<&Step> {
        self.steps()
            .iter()
            .filter(|s| self.is_due(&s.id, undo, &[]) && self.attestation(&s.id, undo).is_none())
            .collect()
    }

    /// When a step was recorded done (journals from before timestamps do not say).
    pub fn done_at(&self, step: &StepId) -> Option<DateTime<Utc>> {
        self.done_at.get(step).copied()
    }

    /// The pause at a step, if the run waits for a person there.
    pub fn waiting(&self, step: &StepId) -> Option<&Waiting> {
        self.waiting.get(step)
    }

    /// How many steps need nothing more.
    pub fn complete_steps(&self) -> usize {
        self.steps()
            .iter()
            .filter(|s| self.record(&s.id).is_complete())
            .count()
    }

    /// When the run started.
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }

    /// When the last record was written.
    pub fn last_activity(&self) -> Option<DateTime<Utc>> {
        self.last_activity
    }

    /// What the last notice that reached the run's webhook was about, and when it went out.
    pub fn last_notice(&self) -> Option<(&str, DateTime<Utc>)> {
        self.last_notice
            .as_ref()
            .map(|(about, at)| (about.as_str(), *at))
    }

    /// Since when the run has waited for a person, if it is paused.
    pub fn paused_since(&self) -> Option<DateTime<Utc>> {
        match self.state() {
            RunState::Paused { waiting, .. } => waiting.iter().filter_map(|w| w.since).min(),
            _ => None,
        }
    }

    /// Whether nothing more can happen to the run: it is settled, or it was a rehearsal whose
    /// embedded sandbox ended with its process. What `prune` may remove.
    pub fn is_over(&self) -> bool {
        self.state().is_settled() || (self.sandbox() && self.started.is_some())
    }

    /// Whether rollback was decided for this run.
    pub fn rollback_decided(&self) -> bool {
        self.rollback.is_some()
    }

    /// The rotation's verification step, which is its pivot: once it passed, the rotation only
    /// rolls forward.
    pub fn pivot(&self, rotation: usize) -> Option<&Step> {
        self.steps()
            .iter()
            .filter(|s| s.rotation == rotation)
            .rfind(|s| s.action.is_proof())
    }

    /// Whether the rotation's verification passed.
    pub fn past_pivot(&self, rotation: usize) -> bool {
        self.pivot(rotation)
            .is_some_and(|p| self.record(&p.id).is_complete())
    }

    /// The run's state.
    pub fn state(&self) -> RunState {
        if self.started.is_none() {
            return RunState::NeverStarted;
        }
        if let Some((by, reason)) = &self.abandoned {
            return RunState::Abandoned {
                by: by.clone(),
                reason: reason.clone(),
            };
        }
        let waiting = || self.waiting.values().cloned().collect::<Vec<_>>();
        if self.rollback.is_some() {
            return if self.rolled_back {
                RunState::RolledBack
            } else if !self.waiting.is_empty() {
                RunState::Paused {
                    direction: Direction::Rollback,
                    waiting: waiting(),
                }
            } else if let Some(reason) = &self.rollback_incomplete {
                RunState::RollbackIncomplete {
                    reason: reason.clone(),
                }
            } else {
                RunState::RollingBack
            };
        }
        if self.finished {
            return RunState::Done;
        }
        if !self.waiting.is_empty() {
            return RunState::Paused {
                direction: Direction::Forward,
                waiting: waiting(),
            };
        }
        if let Some(failure) = &self.failure {
            let past_pivot = self
                .step(&failure.step)
                .is_some_and(|s| self.past_pivot(s.rotation));
            return RunState::Failed {
                step: failure.step.clone(),
                error: failure.error.clone(),
                past_pivot,
            };
        }
        RunState::Running
    }

    /// Adds one record to the state.
    pub fn apply(&mut self, record: &Record) {
        if let Entry::Notified { about } = &record.entry {
            // Telling people is not the run's activity.
            self.last_notice = record.at.map(|at| (about.clone(), at));
            return;
        }
        if record.at.is_some() {
            self.last_activity = record.at;
        }
        match &record.entry {
            Entry::Started(started) => {
                self.started = Some((**started).clone());
                self.started_at = record.at;
            }
            Entry::Intent { step } => {
                self.records.insert(step.clone(), StepState::InDoubt);
                if let Some(at) = record.at {
                    self.asked_at.insert((step.clone(), false), at);
                }
                self.progress(step);
            }
            Entry::Made { .. } | Entry::Reopened { .. } | Entry::Adopted { .. } => {
                self.apply_note(&record.entry);
            }
            Entry::Done { step, effect } => {
                self.records.insert(step.clone(), StepState::Done(*effect));
                if let Some(at) = record.at {
                    self.done_at.insert(step.clone(), at);
                }
                self.progress(step);
            }
            Entry::Attested { .. } => self.apply_note(&record.entry),
            Entry::Skipped { step, .. } => {
                self.records.insert(step.clone(), StepState::Skipped);
                self.progress(step);
            }
            Entry::Paused {
                step,
                waiting_for,
                cannot_tell,
            } => {
                self.pause(
                    step,
                    waiting_for,
                    *cannot_tell,
                    StepState::Waiting,
                    record.at,
                );
            }
            Entry::Failed {
                step,
                error,
                effect,
            } => {
                self.records
                    .insert(step.clone(), StepState::Failed(*effect));
                self.waiting.remove(step);
                self.failure = Some(Failure {
                    step: step.clone(),
                    error: error.clone(),
                });
            }
            Entry::RollbackStarted { .. }
            | Entry::UndoIntent { .. }
            | Entry::UndoPaused { .. }
            | Entry::Undone { .. }
            | Entry::RollbackIncomplete { .. } => self.apply_rollback(&record.entry, record.at),
            Entry::Finished => {
                self.finished = true;
                self.waiting.clear();
                self.failure = None;
            }
            Entry::RolledBack => {
                self.rolled_back = true;
                self.rollback_incomplete = None;
                self.waiting.clear();
            }
            Entry::Abandoned { by, reason } => {
                self.abandoned = Some((by.clone(), reason.clone()));
                self.abandoned_at = record.at;
            }
            Entry::Notified { .. } => {}
        }
    }

    /// Adds one record of a rollback to the state.
    fn apply_rollback(&mut self, entry: &Entry, at: Option<DateTime<Utc>>) {
        match entry {
            Entry::UndoPaused {
                step,
                waiting_for,
                cannot_tell,
            } => {
                self.pause(step, waiting_for, *cannot_tell, StepState::UndoWaiting, at);
            }
            Entry::RollbackStarted { reason } => {
                self.rollback = Some(reason.clone());
                if self.rollback_started_at.is_none() {
                    self.rollback_started_at = at;
                }
                self.rollback_incomplete = None;
                self.rolled_back = false;
                // Forward pauses end here: their steps are now things to undo.
                self.waiting.clear();
            }
            Entry::UndoIntent { step } => {
                self.records.insert(step.clone(), StepState::UndoInDoubt);
                if let Some(at) = at {
                    self.asked_at.insert((step.clone(), true), at);
                }
                self.waiting.remove(step);
                self.rollback_incomplete = None;
            }
            Entry::Undone { step } => {
                self.records.insert(step.clone(), StepState::Undone);
                self.waiting.remove(step);
                self.rollback_incomplete = None;
            }
            Entry::RollbackIncomplete { reason } => {
                self.rollback_incomplete = Some(reason.clone());
            }
            _ => {}
        }
    }

    /// Adds a record that notes something about a step: what it made, that it took over a
    /// leftover, that it no longer holds, a person's word for it.
    fn apply_note(&mut self, entry: &Entry) {
        match entry {
            Entry::Made {
                step,
                identity,
                credential,
            } => {
                self.made.insert(
                    step.clone(),
                    crate::provider::Made {
                        identity: identity.clone(),
                        credential: credential.clone(),
                    },
                );
            }
            Entry::Reopened { step, .. } => self.reopen(step),
            Entry::Adopted {
                step,
                identity,
                from,
            } => {
                self.records.insert(step.clone(), StepState::Adopted);
                // Taken over by its name: what it answered to was never seen by this run.
                self.made.insert(
                    step.clone(),
                    crate::provider::Made {
                        identity: identity.clone(),
                        credential: None,
                    },
                );
                self.adopted.insert(step.clone(), from.clone());
            }
            Entry::Attested {
                step,
                undo,
                by,
                attested_at,
                note,
            } => self.attest(Attestation {
                at: *attested_at,
                step: step.clone(),
                undo: *undo,
                by: by.clone(),
                note: note.clone(),
                asked: self.asked_at(step, *undo),
                seal: None,
            }),
            _ => {}
        }
    }

    /// A person's word that a step (or its undo) was done, taken in once.
    fn attest(&mut self, attestation: Attestation) {
        let key = (attestation.step.clone(), attestation.undo);
        self.absorbed.insert((key.0.clone(), key.1, attestation.at));
        self.attested.insert(key, attestation);
    }

    /// A step no longer holds: it and every later step of its rotation are to be done again.
    /// What the run changed, or asked a person for, stays the run's (rollback still considers
    /// it); what it found already done is pending again. Attestations and done times of those
    /// steps are history: an attestation answers one ask, and a soak counts from the new
    /// `done`.
    fn reopen(&mut self, from: &StepId) {
        let Some(rotation) = self.step(from).map(|s| s.rotation) else {
            return;
        };
        let reopened: Vec<StepId> = self
            .steps()
            .iter()
            .filter(|s| s.rotation == rotation)
            .skip_while(|s| s.id != *from)
            .map(|s| s.id.clone())
            .collect();
        for step in reopened {
            let state = self.record(&step);
            let state = if state.may_have_changed() {
                StepState::Reopened
            } else {
                StepState::Pending
            };
            self.records.insert(step.clone(), state);
            self.done_at.remove(&step);
            self.asked_at.remove(&(step.clone(), false));
            self.attested.remove(&(step.clone(), false));
            self.waiting.remove(&step);
            // What it took over is gone: what it makes from now on is its own.
            self.adopted.remove(&step);
        }
        self.failure = None;
    }

    /// A step waits for a person, since the first time it did.
    fn pause(
        &mut self,
        step: &StepId,
        waiting_for: &str,
        cannot_tell: bool,
        state: StepState,
        at: Option<DateTime<Utc>>,
    ) {
        // A pause at a step nobody was asked for (a check that could not tell, before
        // anything was sent) waits without making the step the run's doing.
        let asked = match state {
            StepState::UndoWaiting => matches!(
                self.record(step),
                StepState::UndoInDoubt | StepState::UndoWaiting
            ),
            _ => matches!(
                self.record(step),
                StepState::InDoubt
                    | StepState::Waiting
                    | StepState::Failed(FailureEffect::MaybeChanged)
            ),
        };
        if asked {
            self.records.insert(step.clone(), state);
        }
        let since = self.waiting.get(step).and_then(|w| w.since).or(at);
        self.waiting.insert(
            step.clone(),
            Waiting {
                step: step.clone(),
                waiting_for: waiting_for.to_owned(),
                since,
                cannot_tell,
            },
        );
    }

    /// A step moved on: its pause is over, and a failure it had is history.
    fn progress(&mut self, step: &StepId) {
        self.waiting.remove(step);
        if self.failure.as_ref().is_some_and(|f| &f.step == step) {
            self.failure = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::marketo::{self, RolePair};
    use crate::provider::{Op, Readiness};
    use crate::secret::Fingerprint;

    fn id(text: &str) -> StepId {
        StepId::new(text)
    }

    fn user(text: &str) -> UserId {
        UserId::parse(text).unwrap()
    }

    fn started() -> Record {
        let steps = vec![
            Step {
                id: id("r0-add"),
                rotation: 0,
                action: Op::Marketo(marketo::Op::AddRoles {
                    user: user("t@x.io"),
                    roles: vec![RolePair {
                        role_id: 1,
                        workspace_id: 1,
                    }],
                }),
                readiness: Readiness::Pending,
            },
            Step {
                id: id("r0-verify"),
                rotation: 0,
                action: Op::Marketo(marketo::Op::Verify {
                    services: vec![],
                    user: user("t@x.io"),
                    roles: vec![],
                    email: None,
                }),
                readiness: Readiness::Pending,
            },
        ];
        Record::now(Entry::Started(Box::new(Started {
            format_version: crate::journal::FORMAT_VERSION,
            plan: "p".into(),
            plan_sha256: Fingerprint::of(b"p"),
            instance: "https://x".into(),
            sandbox: false,
            plan_dir: ".".into(),
            on_failure: Some(OnFailure::Rollback),
            steps,
            credentials: BTreeMap::new(),
            origin: None,
        })))
    }

    fn run(entries: Vec<Entry>) -> RunSummary {
        let mut records = vec![started()];
        records.extend(entries.into_iter().map(Record::now));
        replay(&records)
    }

    #[track_caller]
    fn state_is(entries: Vec<Entry>, word: &str) {
        let summary = run(entries);
        assert_eq!(summary.state().word(), word, "{:?}", summary.state());
    }

    #[test]
    fn one_state_for_every_moment_of_a_run() {
        let intent = || Entry::Intent { step: id("r0-add") };
        let paused = || Entry::Paused {
            step: id("r0-add"),
            waiting_for: "x".into(),
            cannot_tell: false,
        };
        let done = |step: &str| Entry::Done {
            step: id(step),
            effect: StepEffect::Changed,
        };
        let failed = |step: &str| Entry::Failed {
            step: id(step),
            error: "boom".into(),
            effect: FailureEffect::Unchanged,
        };
        assert_eq!(replay(&[]).state(), RunState::NeverStarted);
        state_is(vec![], "running");
        state_is(vec![intent()], "running");
        state_is(vec![intent(), paused()], "paused");
        // A resume that finished the run leaves no stale pause or failure behind.
        state_is(
            vec![
                intent(),
                paused(),
                done("r0-add"),
                done("r0-verify"),
                Entry::Finished,
            ],
            "done",
        );
        state_is(vec![failed("r0-add")], "failed");
        state_is(vec![failed("r0-add"), intent(), done("r0-add")], "running");
        let rollback = || Entry::RollbackStarted {
            reason: "boom".into(),
        };
        state_is(vec![intent(), paused(), rollback()], "rolling back");
        state_is(
            vec![
                rollback(),
                Entry::UndoPaused {
                    step: id("r0-add"),
                    waiting_for: "x".into(),
                    cannot_tell: false,
                },
            ],
            "rollback paused",
        );
        state_is(
            vec![
                rollback(),
                Entry::RollbackIncomplete {
                    reason: "no".into(),
                },
            ],
            "rollback incomplete",
        );
        state_is(
            vec![
                rollback(),
                Entry::RollbackIncomplete {
                    reason: "no".into(),
                },
                Entry::Undone { step: id("r0-add") },
                Entry::RolledBack,
            ],
            "rolled back",
        );
        state_is(
            vec![
                paused(),
                Entry::Abandoned {
                    by: "ops".into(),
                    reason: "done by hand".into(),
                },
            ],
            "abandoned",
        );
    }

    #[test]
    fn a_failure_after_the_pivot_is_past_it() {
        let summary = run(vec![
            Entry::Done {
                step: id("r0-add"),
                effect: StepEffect::Changed,
            },
            Entry::Done {
                step: id("r0-verify"),
                effect: StepEffect::Unchanged,
            },
        ]);
        assert!(summary.past_pivot(0));
        let summary = run(vec![Entry::Failed {
            step: id("r0-add"),
            error: "boom".into(),
            effect: FailureEffect::Unchanged,
        }]);
        assert!(matches!(
            summary.state(),
            RunState::Failed {
                past_pivot: false,
                ..
            }
        ));
    }

    #[test]
    fn what_rollback_must_consider() {
        let considered =
            |entries: Vec<Entry>| run(entries).record(&id("r0-add")).may_have_changed();
        assert!(considered(vec![Entry::Intent { step: id("r0-add") }]));
        assert!(considered(vec![Entry::Done {
            step: id("r0-add"),
            effect: StepEffect::Changed
        }]));
        assert!(!considered(vec![Entry::Done {
            step: id("r0-add"),
            effect: StepEffect::Unchanged
        }]));
        // A person was asked: whatever they did since is the run's effect.
        assert!(considered(vec![
            Entry::Intent { step: id("r0-add") },
            Entry::Paused {
                step: id("r0-add"),
                waiting_for: "x".into(),
                cannot_tell: false,
            }
        ]));
        // A pause nobody was asked for (a check that could not tell) makes nothing the run's.
        assert!(!considered(vec![Entry::Paused {
            step: id("r0-add"),
            waiting_for: "x".into(),
            cannot_tell: false,
        }]));
        assert!(!considered(vec![Entry::Failed {
            step: id("r0-add"),
            error: "refused".into(),
            effect: FailureEffect::Unchanged
        }]));
        // The executor records what the last look at live state showed.
        assert!(considered(vec![
            Entry::Intent { step: id("r0-add") },
            Entry::Failed {
                step: id("r0-add"),
                error: "cannot read".into(),
                effect: FailureEffect::MaybeChanged
            }
        ]));
        assert!(!considered(vec![
            Entry::Intent { step: id("r0-add") },
            Entry::Undone { step: id("r0-add") }
        ]));
    }

    #[test]
    fn paused_since_is_the_first_pause() {
        let first = "2026-11-23T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let later = "2026-11-23T11:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let paused = |at| Record {
            at: Some(at),
            prev: None,
            entry: Entry::Paused {
                step: id("r0-add"),
                waiting_for: "x".into(),
                cannot_tell: false,
            },
        };
        let summary = replay(&[started(), paused(first), paused(later)]);
        assert_eq!(summary.paused_since(), Some(first));
        assert_eq!(summary.last_activity(), Some(later));
    }

    #[test]
    fn telling_people_is_not_the_runs_activity() {
        let paused_at = "2026-11-23T10:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let told_at = "2026-11-23T12:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let paused = Record {
            at: Some(paused_at),
            prev: None,
            entry: Entry::Paused {
                step: id("r0-add"),
                waiting_for: "x".into(),
                cannot_tell: false,
            },
        };
        let told = Record {
            at: Some(told_at),
            prev: None,
            entry: Entry::Notified {
                about: "paused".into(),
            },
        };
        let summary = replay(&[started(), paused, told]);
        assert_eq!(summary.last_activity(), Some(paused_at));
        assert_eq!(summary.last_notice(), Some(("paused", told_at)));
    }
}
