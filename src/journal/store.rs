//! The state store: where runs, their journals, attestations, locks and claims live, behind
//! one seam.
//!
//! [`StateStore`] is what the rest of the program holds; a [`Backend`] is one place to keep
//! state (the local directory in [`super::local`]). What a run's lifecycle needs of a backend
//! is small: list and read runs, create one atomically with its plan and `started` record, a
//! [`Session`] that holds locks for as long as it lives and appends records durably, and
//! removal for `prune`. What is decided from those (who claims a user, what may be pruned) is
//! decided here, once, for every backend.

use std::fmt::Debug;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::JournalError;
use super::chain::{self, Chained, StateKey};
use super::entry::{Attestation, Entry, FORMAT_VERSION, Record, Started};
use super::summary::{RunState, RunSummary, replay};
use crate::ids::{RunId, UserId};
use crate::provider::Leftovers;
use crate::secret::Fingerprint;

/// The records of a journal, and whether its last line was torn.
#[derive(Debug, Clone, Default)]
pub struct JournalContents {
    /// Every complete record, in order.
    pub records: Vec<Record>,
    /// A torn last line was found (and ignored).
    pub torn_tail: bool,
}

/// What `prune` did with one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pruned {
    /// Settled and old: removed.
    Removed,
    /// Not done, rolled back or abandoned: kept, always.
    Unfinished,
    /// Settled, but active more recently than the cutoff: kept.
    Recent,
    /// A process works on it now: kept.
    Active,
}

/// What [`StateStore::copy_run`] did with one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copied {
    /// Copied whole: plan, every record, every attestation.
    Copied,
    /// The target holds the run with the same records already (a second migration).
    AlreadyThere,
    /// A process works on it now, in one store or the other: not copied.
    Active,
    /// The target holds a run of that id with other records: not touched.
    Differs,
}

/// One place to keep runs. Reads need no lock: a reader sees whole records only.
pub(super) trait Backend: Debug + Send + Sync {
    /// Where the state is, for people (a directory, a database without its password).
    fn location(&self) -> String;
    /// The command-line flag that names this store, for hints (`--state-dir .relinker`).
    fn flag(&self) -> String;
    /// Where a run's plan is kept, as a label for messages about it.
    fn plan_label(&self, id: &RunId) -> String;
    /// Where a run's journal is kept, for messages about it.
    fn journal_label(&self, id: &RunId) -> String;
    /// Every run id, in no particular order.
    fn run_ids(&self) -> Result<Vec<RunId>, JournalError>;
    /// Whether this process may write runs here, found without writing one: `Ok(false)` when
    /// it is refused.
    fn writable(&self) -> Result<bool, JournalError>;
    /// Whether a run with this id exists.
    fn has_run(&self, id: &RunId) -> Result<bool, JournalError>;
    /// A run's journal; [`JournalError::NoSuchRun`] when there is none.
    fn read(&self, id: &RunId) -> Result<JournalContents, JournalError>;
    /// The plan a run applied, byte for byte.
    fn plan_bytes(&self, id: &RunId) -> Result<Vec<u8>, JournalError>;
    /// Records a person's attestation for a run, durably.
    fn attest(&self, id: &RunId, attestation: &Attestation) -> Result<(), JournalError>;
    /// A run's attestations, oldest first.
    fn attestations(&self, id: &RunId) -> Result<Vec<Attestation>, JournalError>;
    /// Whether a process works on the run now (holds its lock).
    fn is_active(&self, id: &RunId) -> Result<bool, JournalError>;
    /// A session: holds the locks it takes until it is dropped or its process dies.
    fn session(&self) -> Result<Box<dyn Session>, JournalError>;
}

/// A process's hold on runs and users, and its way to write a run's journal.
pub(super) trait Session: Debug + Send {
    /// Takes the lock that keeps a second process off the run.
    fn lock_run(&mut self, id: &RunId) -> Result<(), JournalError>;
    /// Takes the lock of every user for `owner`, in the order given (sorted, once each: see
    /// [`Run`](super::Run), which sorts them so two runs never wait on each other).
    fn lock_users(&mut self, users: &[&UserId], owner: &RunId) -> Result<(), JournalError>;
    /// Creates the run with its plan, records and attestations (a new run has one record,
    /// `started`; a copied one all of its own), all at once or not at all, and attaches the
    /// session to its journal. [`JournalError::RunExists`] if it exists.
    fn create(
        &mut self,
        id: &RunId,
        plan: &[u8],
        records: &[Record],
        attestations: &[Attestation],
    ) -> Result<(), JournalError>;
    /// Attaches the session to an existing run's journal.
    fn attach(&mut self, id: &RunId) -> Result<(), JournalError>;
    /// Appends a record to the attached journal, durable before it returns; never once the
    /// run's lock is lost.
    fn append(&mut self, record: &Record) -> Result<(), JournalError>;
    /// Proves this session still holds the run's lock, so no other process can be working on
    /// the run; [`JournalError::LockLost`] when it cannot, for whatever reason (a dead database
    /// connection is a lost lock). Asked before every request that changes state.
    fn still_held(&self, id: &RunId) -> Result<(), JournalError>;
    /// Removes a run whose lock this session holds, all of it or nothing that reads as a run.
    fn remove(&mut self, id: &RunId) -> Result<(), JournalError>;
}

/// Where runs are kept: the one handle the program holds, whichever backend is behind it.
#[derive(Debug, Clone)]
pub struct StateStore {
    backend: Arc<dyn Backend>,
    /// What its records are linked, and its attestations sealed, with.
    key: StateKey,
}

impl StateStore {
    pub(super) fn new(backend: impl Backend + 'static) -> Self {
        Self {
            backend: Arc::new(backend),
            key: StateKey::none(),
        }
    }

    /// The same store, its records linked and attestations sealed with `key` (see `chain`).
    #[must_use]
    pub fn with_key(mut self, key: StateKey) -> Self {
        self.key = key;
        self
    }

    /// The key its records are linked with.
    pub(super) fn key(&self) -> &StateKey {
        &self.key
    }

    /// A run's journal, checked to be the chain relinker wrote (see `chain`); the plan kept
    /// with it is checked with [`Self::verified_plan`].
    pub fn verified(&self, id: &RunId) -> Result<(JournalContents, Chained), JournalError> {
        let contents = self.read(id)?;
        let chained = chain::verify(
            &self.key,
            id,
            &self.backend.journal_label(id),
            &contents.records,
        )?;
        if chained == Chained::Unlinked {
            tracing::warn!(run = %id, "the run was written before records were linked: it is read as it is, unverified");
        }
        Ok((contents, chained))
    }

    /// A run's state, replayed from a journal and a plan that verify.
    pub fn verified_summary(&self, id: &RunId) -> Result<RunSummary, JournalError> {
        let (contents, _) = self.verified(id)?;
        let summary = replay(&contents.records);
        if let Some(started) = summary.started() {
            self.verified_plan(id, started)?;
        }
        Ok(summary)
    }

    /// The plan kept with a run, checked against the digest its `started` record holds.
    pub fn verified_plan(&self, id: &RunId, started: &Started) -> Result<Vec<u8>, JournalError> {
        let bytes = self.plan_bytes(id)?;
        if Fingerprint::of(&bytes) != started.plan_sha256 {
            return Err(JournalError::Tampered {
                run_id: id.clone(),
                place: self.plan_label(id),
                record: 0,
                reason: "the plan kept with the run is not the one it started with (its sha256 differs from the one the run recorded)".into(),
            });
        }
        Ok(bytes)
    }

    /// Where the state is, for people.
    pub fn location(&self) -> String {
        self.backend.location()
    }

    /// Whether this process may write runs here (`relinker doctor`), found without writing a
    /// run: a file made and removed in a directory, the database's table privileges.
    pub fn writable(&self) -> Result<bool, JournalError> {
        self.backend.writable()
    }

    pub(super) fn plan_label(&self, id: &RunId) -> String {
        self.backend.plan_label(id)
    }

    pub(super) fn session(&self) -> Result<Box<dyn Session>, JournalError> {
        self.backend.session()
    }

    pub(super) fn has_run(&self, id: &RunId) -> Result<bool, JournalError> {
        self.backend.has_run(id)
    }

    pub(super) fn plan_bytes(&self, id: &RunId) -> Result<Vec<u8>, JournalError> {
        self.backend.plan_bytes(id)
    }

    /// Every run id, sorted.
    pub fn run_ids(&self) -> Result<Vec<RunId>, JournalError> {
        let mut ids = self.backend.run_ids()?;
        ids.sort();
        Ok(ids)
    }

    /// The run `given` names: its id, or the one run whose id starts with it (`kubectl`'s and
    /// git's habit: the date and suffix of a generated id are tedious to type). An id nothing
    /// starts with is returned as it is, for the command to say there is no such run.
    pub fn find(&self, given: &RunId) -> Result<RunId, JournalError> {
        let ids = self.run_ids()?;
        if ids.contains(given) {
            return Ok(given.clone());
        }
        let matches: Vec<RunId> = ids
            .into_iter()
            .filter(|id| id.as_str().starts_with(given.as_str()))
            .collect();
        match matches.as_slice() {
            [] => Ok(given.clone()),
            [one] => Ok(one.clone()),
            _ => Err(JournalError::AmbiguousRun {
                given: given.to_string(),
                matches,
            }),
        }
    }

    /// The run started last (ties broken by id).
    pub fn last(&self) -> Result<RunId, JournalError> {
        let mut latest: Option<(Option<chrono::DateTime<chrono::Utc>>, RunId)> = None;
        for id in self.run_ids()? {
            // A journal that cannot be read is no one's last run: `status` names its problem.
            let Ok(summary) = self.summary(&id) else {
                continue;
            };
            let started = summary.started_at();
            if latest
                .as_ref()
                .is_none_or(|(at, best)| (started, &id) > (*at, best))
            {
                latest = Some((started, id));
            }
        }
        latest
            .map(|(_, id)| id)
            .ok_or_else(|| JournalError::NoRuns {
                location: self.location(),
            })
    }

    /// A run's journal, read without a lock; refused when its run is written in a journal format
    /// newer than this binary reads.
    pub fn read(&self, id: &RunId) -> Result<JournalContents, JournalError> {
        let contents = self.backend.read(id)?;
        if let Some(Entry::Started(started)) = contents.records.first().map(|r| &r.entry)
            && started.format_version > FORMAT_VERSION
        {
            return Err(JournalError::FormatNewer {
                run_id: id.clone(),
                found: started.format_version,
                known: FORMAT_VERSION,
            });
        }
        Ok(contents)
    }

    /// A run's state, read without a lock.
    pub fn summary(&self, id: &RunId) -> Result<RunSummary, JournalError> {
        Ok(replay(&self.read(id)?.records))
    }

    /// Whether a process is working on the run now.
    pub fn is_active(&self, id: &RunId) -> Result<bool, JournalError> {
        self.backend.is_active(id)
    }

    /// Records a person's attestation for a run; the run picks it up at its next check (a run
    /// waiting at a terminal within seconds, a paused one on `resume`). Needs no lock.
    pub fn attest(&self, id: &RunId, attestation: &Attestation) -> Result<(), JournalError> {
        let mut sealed = attestation.clone();
        sealed.seal = self.key.seal(attestation)?;
        self.backend.attest(id, &sealed)
    }

    /// The attestations recorded for a run, oldest first.
    pub fn attestations(&self, id: &RunId) -> Result<Vec<Attestation>, JournalError> {
        self.backend.attestations(id)
    }

    /// Removes a settled run (done, rolled back or abandoned) whose last activity came before
    /// `cutoff`; an unfinished run, a recent one, or one a process holds is left as it is.
    pub fn prune(&self, id: &RunId, cutoff: DateTime<Utc>) -> Result<Pruned, JournalError> {
        let mut session = self.session()?;
        match session.lock_run(id) {
            Ok(()) => {}
            Err(JournalError::Locked(_)) => return Ok(Pruned::Active),
            Err(error) => return Err(error),
        }
        let summary = self.summary(id)?;
        if !summary.is_over() {
            return Ok(Pruned::Unfinished);
        }
        if summary.last_activity().is_none_or(|at| at >= cutoff) {
            return Ok(Pruned::Recent);
        }
        session.remove(id)?;
        Ok(Pruned::Removed)
    }

    /// Copies a run (its plan, every record and every attestation) into `target`, holding its
    /// run lock in both stores, so no process changes it meanwhile on either side. The run in
    /// this store is left as it is.
    pub fn copy_run(&self, id: &RunId, target: &StateStore) -> Result<Copied, JournalError> {
        let mut here = self.session()?;
        let mut there = target.session()?;
        for session in [&mut here, &mut there] {
            match session.lock_run(id) {
                Ok(()) => {}
                Err(JournalError::Locked(_)) => return Ok(Copied::Active),
                Err(error) => return Err(error),
            }
        }
        let contents = self.read(id)?;
        if target.has_run(id)? {
            let theirs = target.read(id)?;
            return Ok(if same(&theirs.records, &contents.records) {
                Copied::AlreadyThere
            } else {
                Copied::Differs
            });
        }
        let plan = self.plan_bytes(id)?;
        let attestations = self.attestations(id)?;
        there.create(id, &plan, &contents.records, &attestations)?;
        Ok(Copied::Copied)
    }

    /// Refuses when an unsettled run other than `except` claims one of `users`
    /// ([`JournalError::Claimed`]): a plan that would start a run on them, or that finds
    /// nothing to change while such a run may still undo what it sees, waits for that run.
    pub fn refuse_claimed(&self, users: &[&UserId], except: &RunId) -> Result<(), JournalError> {
        match self.claim_on(users, except)? {
            Some((run, user, state)) => Err(JournalError::Claimed { user, run, state }),
            None => Ok(()),
        }
    }

    /// The first unsettled run other than `except` that touches one of `users`: it keeps its
    /// claim until it is done, rolled back or abandoned.
    fn claim_on(
        &self,
        users: &[&UserId],
        except: &RunId,
    ) -> Result<Option<(RunId, UserId, String)>, JournalError> {
        for id in self.run_ids()? {
            if &id == except {
                continue;
            }
            let summary = self.summary(&id)?;
            let state = summary.state();
            // A rehearsal changed an embedded sandbox, which ended with it: it claims nothing
            // real, whatever state it stopped in.
            if state.is_settled() || summary.sandbox() {
                continue;
            }
            if let Some(user) = summary.users().into_iter().find(|u| users.contains(u)) {
                // Said as `status` says it: a run no process works on was interrupted.
                let word = state.word_when(self.is_active(&id)?);
                return Ok(Some((id, user.clone(), word.to_owned())));
            }
        }
        Ok(None)
    }
}

impl StateStore {
    /// What abandoned runs on `instance` left a new plan to know of: the relinks they asked a
    /// person for (the latest ask per service), and what they made and left in place, each
    /// with the run: a user is
    /// a leftover when the latest run that touched it was abandoned holding it as made, or as
    /// asked for (an invitation a person may accept later), and neither undid nor deleted it. Rehearsals on an embedded sandbox left nothing anywhere:
    /// their instance ended with them.
    pub fn leftovers(&self, instance: &str) -> Result<Leftovers, JournalError> {
        let mut runs = Vec::new();
        for id in self.run_ids()? {
            let summary = self.summary(&id)?;
            if summary.instance() == instance && !summary.sandbox() {
                runs.push((summary.started_at(), id, summary));
            }
        }
        runs.sort_by_key(|run| run.0);
        let mut left = Leftovers::default();
        for (_, id, summary) in runs {
            // A later run that touched a user decides what it is now.
            for user in summary.users() {
                left.forget(user);
            }
            if matches!(summary.state(), RunState::Abandoned { .. }) {
                // A person may have done what it last asked, and no look of its saw it. (A
                // run that ended otherwise saw its links; one still under way keeps its
                // claim.)
                for (service, at, away_from) in summary.relinks_asked() {
                    left.ask(service.clone(), id.clone(), at, away_from.clone());
                }
                for (_, made) in summary.left_made() {
                    left.leave(UserId::from_platform(made.to_owned()), id.clone());
                }
                for asked in summary.left_asked() {
                    left.leave(asked.clone(), id.clone());
                }
            } else {
                // A run that took a leftover over and ended without deleting it (its rollback
                // leaves it) hands it on as it found it.
                for (step, made) in summary.left_made() {
                    if let Some(from) = summary.adopted_from(step) {
                        left.leave(UserId::from_platform(made.to_owned()), from.clone());
                    }
                }
            }
        }
        Ok(left)
    }
}

/// Whether two journals hold the same records, compared as stored.
fn same(ours: &[Record], theirs: &[Record]) -> bool {
    let text = |records: &[Record]| -> Vec<String> {
        records
            .iter()
            .map(|r| serde_json::to_string(r).unwrap_or_default())
            .collect()
    };
    ours.len() == theirs.len() && text(ours) == text(theirs)
}
