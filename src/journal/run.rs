//! A run's lifecycle, owned in one place: start it (locks first, then the run), open it again
//! (the same locks), append records durably, and know its state at every moment.
//!
//! A run appears in its store only once its run lock and its users' locks are held, no
//! unsettled run claims one of its users, and its `started` record is stored with it, in one
//! step. So a refused `apply` (exit 3) leaves nothing behind, and every run has a `started`
//! record.

use super::JournalError;
use super::chain::Chained;
use super::entry::{Attestation, Entry, Record, Started};
use super::store::{JournalContents, Session, StateStore};
use super::summary::{RunSummary, replay};
use crate::ids::{RunId, UserId};
use crate::provider::Readiness;

/// A run with its locks held and its journal open for appending.
#[derive(Debug)]
pub struct Run {
    id: RunId,
    store: StateStore,
    session: Box<dyn Session>,
    summary: RunSummary,
    torn_tail: bool,
    /// The link the next record carries: to the last one (see `chain`), or, for a run written
    /// before records were linked, none, so it stays as it was written.
    next_link: Option<String>,
}

impl Run {
    /// Starts a new run: takes its lock and its users' locks, checks no unsettled run claims a
    /// user, then stores the plan and the `started` record, all before the run exists under
    /// its id.
    pub fn start(
        store: &StateStore,
        id: &RunId,
        plan_bytes: &[u8],
        started: Started,
    ) -> Result<Self, JournalError> {
        let mut session = store.session()?;
        session.lock_run(id)?;
        if store.has_run(id)? {
            return Err(JournalError::RunExists { run_id: id.clone() });
        }
        let users = in_lock_order(started.steps.iter().flat_map(|s| s.action.users()));
        session.lock_users(&users, id)?;
        store.refuse_claimed(&users, id)?;
        // What an abandoned run left that this one would create is this run's from its start.
        let leftovers = store.leftovers(&started.instance)?;
        let adopted: Vec<Record> = started
            .steps
            .iter()
            .filter(|s| s.action.creates() && s.readiness == Readiness::AlreadySatisfied)
            .filter_map(|s| {
                s.action.users().into_iter().find_map(|user| {
                    let from = leftovers.left_by(user)?;
                    Some(Record::now(Entry::Adopted {
                        step: s.id.clone(),
                        identity: user.to_string(),
                        from: from.clone(),
                    }))
                })
            })
            .collect();
        let mut records = vec![Record::now(Entry::Started(Box::new(started)))];
        records.extend(adopted);
        let key = store.key();
        let mut link = key.anchor(id)?;
        for record in &mut records {
            record.prev = Some(link);
            link = key.after(record)?;
        }
        session.create(id, plan_bytes, &records, &[])?;
        Ok(Self {
            id: id.clone(),
            store: store.clone(),
            session,
            summary: replay(&records),
            torn_tail: false,
            next_link: Some(link),
        })
    }

    /// Opens an existing run, taking the same locks a new one takes.
    pub fn open(store: &StateStore, id: &RunId) -> Result<Self, JournalError> {
        let mut session = store.session()?;
        session.lock_run(id)?;
        // What the store holds is what relinker wrote, or nothing is done with it.
        let (JournalContents { records, torn_tail }, chained) = store.verified(id)?;
        let summary = replay(&records);
        let Some(started) = summary.started() else {
            return Err(JournalError::NeverStarted { run_id: id.clone() });
        };
        store.verified_plan(id, started)?;
        session.lock_users(&in_lock_order(summary.users()), id)?;
        session.attach(id)?;
        let next_link = match (chained, records.last()) {
            (Chained::Linked, Some(last)) => Some(store.key().after(last)?),
            _ => None,
        };
        Ok(Self {
            id: id.clone(),
            store: store.clone(),
            session,
            summary,
            torn_tail,
            next_link,
        })
    }

    /// The run id.
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// The state, with every record appended so far.
    pub fn summary(&self) -> &RunSummary {
        &self.summary
    }

    /// Whether the journal's last line was torn by a crash (and ignored).
    pub fn torn_tail(&self) -> bool {
        self.torn_tail
    }

    /// Attestations recorded for the run that its journal does not hold yet. With a state key,
    /// one not sealed with it is nobody's word: it is left unread.
    pub fn new_attestations(&self) -> Result<Vec<Attestation>, JournalError> {
        let key = self.store.key();
        Ok(self
            .store
            .attestations(&self.id)?
            .into_iter()
            .filter(|a| !self.summary.absorbed(a))
            .filter(|a| {
                let sealed = key.sealed(a);
                if !sealed {
                    tracing::warn!(step = %a.step, "an attestation not sealed with the state key is left unread");
                }
                sealed
            })
            .collect())
    }

    /// The plan as applied, checked against the digest the run recorded when it started.
    pub fn plan_bytes(&self) -> Result<Vec<u8>, JournalError> {
        match self.summary.started() {
            Some(started) => self.store.verified_plan(&self.id, started),
            None => Err(JournalError::NeverStarted {
                run_id: self.id.clone(),
            }),
        }
    }

    /// Where the plan as applied is kept, as a label for messages about it.
    pub fn plan_label(&self) -> String {
        self.store.plan_label(&self.id)
    }

    /// Proves the run is still this process's: its session holds the run's lock (the
    /// database connection that took it is alive and holds it; the lock file at the run's lock
    /// path is the very file locked). A runner that cannot prove it must send nothing more:
    /// another runner may have resumed the run meanwhile. [`JournalError::LockLost`] otherwise.
    pub fn still_held(&self) -> Result<(), JournalError> {
        self.session.still_held(&self.id)
    }

    /// Appends a record stamped with the time now, durable before this returns.
    pub fn append(&mut self, entry: Entry) -> Result<(), JournalError> {
        let mut record = Record::now(entry);
        record.prev.clone_from(&self.next_link);
        self.session.append(&record)?;
        if self.next_link.is_some() {
            self.next_link = Some(self.store.key().after(&record)?);
        }
        self.summary.apply(&record);
        Ok(())
    }
}

/// Users in the one order every run takes their locks in, each once: two runs sharing users
/// never each hold one the other waits for.
fn in_lock_order<'a>(users: impl IntoIterator<Item = &'a UserId>) -> Vec<&'a UserId> {
    let mut sorted: Vec<_> = users.into_iter().collect();
    sorted.sort();
    sorted.dedup();
    sorted
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ids::{StepId, UserId};
    use crate::journal::{RunState, StepEffect};
    use crate::provider::{Op, Readiness, Step, marketo};
    use crate::secret::Fingerprint;

    pub(in crate::journal) fn id(text: &str) -> RunId {
        RunId::parse(text).unwrap()
    }

    /// The plan every test run is started with.
    pub(in crate::journal) const PLAN: &[u8] = b"version: 1\n";

    pub(in crate::journal) fn started(user: &str) -> Started {
        Started {
            format_version: crate::journal::FORMAT_VERSION,
            plan: "p".into(),
            plan_sha256: Fingerprint::of(PLAN),
            instance: "https://x".into(),
            sandbox: false,
            plan_dir: ".".into(),
            on_failure: None,
            steps: vec![Step {
                id: StepId::new("r0-delete"),
                rotation: 0,
                action: Op::Marketo(marketo::Op::DeleteUser {
                    user: UserId::parse(user).unwrap(),
                }),
                readiness: Readiness::Pending,
            }],
            credentials: BTreeMap::new(),
            origin: None,
        }
    }

    /// A run's records, in order, read back from its store.
    pub(in crate::journal) fn write_and_read_back(state: &StateStore) {
        let mut run = Run::start(state, &id("r1"), PLAN, started("a@x.io")).unwrap();
        run.append(Entry::Intent {
            step: StepId::new("r0-delete"),
        })
        .unwrap();
        run.append(Entry::Done {
            step: StepId::new("r0-delete"),
            effect: StepEffect::Changed,
        })
        .unwrap();
        drop(run);
        let contents = state.read(&id("r1")).unwrap();
        assert_eq!(contents.records.len(), 3);
        assert!(contents.records.iter().all(|r| r.at.is_some()));
        assert_eq!(state.run_ids().unwrap(), [id("r1")]);
        let run = Run::open(state, &id("r1")).unwrap();
        assert_eq!(run.plan_bytes().unwrap(), b"version: 1\n");
        assert_eq!(
            run.summary().record(&StepId::new("r0-delete")),
            crate::journal::StepState::Done(StepEffect::Changed)
        );
    }

    /// Locks keep a second process off a run and its users; an unsettled run keeps its claim
    /// after its process let go; a refused start leaves nothing behind.
    pub(in crate::journal) fn locks_and_claims(state: &StateStore) {
        let first = Run::start(state, &id("r1"), PLAN, started("a@x.io")).unwrap();
        assert!(matches!(
            Run::open(state, &id("r1")),
            Err(JournalError::Locked(_))
        ));
        assert!(state.is_active(&id("r1")).unwrap());
        // The same user, in another spelling, while the first run's process holds it.
        let second = Run::start(state, &id("r2"), PLAN, started("A@X.io"));
        assert!(matches!(second, Err(JournalError::Locked(_))), "{second:?}");
        assert!(!state.has_run(&id("r2")).unwrap(), "no phantom run is left");
        drop(first);
        assert!(!state.is_active(&id("r1")).unwrap());
        // The first run is unsettled, so it keeps its claim after its process let go.
        let third = Run::start(state, &id("r3"), PLAN, started("a@x.io"));
        assert!(
            matches!(&third, Err(JournalError::Claimed { run, .. }) if run == &id("r1")),
            "{third:?}"
        );
        assert!(!state.has_run(&id("r3")).unwrap());
        let mut first = Run::open(state, &id("r1")).unwrap();
        first
            .append(Entry::Abandoned {
                by: "ops".into(),
                reason: "fixed by hand".into(),
            })
            .unwrap();
        assert!(matches!(
            first.summary().state(),
            RunState::Abandoned { .. }
        ));
        drop(first);
        assert!(Run::start(state, &id("r3"), PLAN, started("a@x.io")).is_ok());
        assert!(matches!(
            Run::start(state, &id("r1"), PLAN, started("b@x.io")),
            Err(JournalError::RunExists { .. })
        ));
    }

    /// Prune removes a settled old run only, never one a process holds.
    pub(in crate::journal) fn prune_keeps_what_matters(state: &StateStore) {
        use crate::journal::Pruned;
        let later = chrono::Utc::now() + chrono::Duration::hours(1);
        let mut done = Run::start(state, &id("done"), PLAN, started("a@x.io")).unwrap();
        done.append(Entry::Finished).unwrap();
        assert_eq!(state.prune(&id("done"), later).unwrap(), Pruned::Active);
        drop(done);
        let open = Run::start(state, &id("open"), PLAN, started("b@x.io")).unwrap();
        drop(open);
        assert_eq!(state.prune(&id("open"), later).unwrap(), Pruned::Unfinished);
        let earlier = chrono::Utc::now() - chrono::Duration::hours(1);
        assert_eq!(state.prune(&id("done"), earlier).unwrap(), Pruned::Recent);
        assert_eq!(state.prune(&id("done"), later).unwrap(), Pruned::Removed);
        assert_eq!(state.run_ids().unwrap(), [id("open")]);
        assert!(matches!(
            state.read(&id("done")),
            Err(JournalError::NoSuchRun { .. })
        ));
    }

    fn local() -> (tempfile::TempDir, StateStore) {
        let dir = tempfile::tempdir().unwrap();
        let state = StateStore::local(&dir.path().join("state")).unwrap();
        (dir, state)
    }

    #[test]
    fn a_run_is_written_durably_and_read_back() {
        write_and_read_back(&local().1);
    }

    #[test]
    fn a_second_process_is_locked_out_and_a_refused_start_leaves_nothing() {
        locks_and_claims(&local().1);
    }

    #[test]
    fn prune_removes_only_settled_old_runs_no_process_holds() {
        prune_keeps_what_matters(&local().1);
    }
}
