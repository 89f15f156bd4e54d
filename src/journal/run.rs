//! A run's lifecycle, owned in one place: start it (locks first, then the directory), open it
//! again (the same locks), append records durably, and know its state at every moment.
//!
//! A run directory appears only once its run lock and its users' locks are held, no unsettled
//! run claims one of its users, and its `started` record is on disk: it is built under a
//! temporary name and renamed into place. So a refused `apply` (exit 3) leaves nothing behind,
//! and every run directory has a `started` record.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::entry::{Entry, Record, Started};
use super::lock::Lock;
use super::store::{JournalContents, StateDir, sync_dir, write_synced};
use super::summary::{RunSummary, replay};
use super::{JournalError, io};
use crate::ids::RunId;
use crate::secret::Fingerprint;

/// A run with its locks held and its journal open for appending.
#[derive(Debug)]
pub struct Run {
    id: RunId,
    path: PathBuf,
    journal: File,
    summary: RunSummary,
    torn_tail: bool,
    _locks: Vec<Lock>,
}

impl Run {
    /// Starts a new run: takes its lock and its users' locks, checks no unsettled run claims a
    /// user, then writes the plan and the `started` record, all before the run directory
    /// exists under its name.
    pub fn start(
        state: &StateDir,
        id: &RunId,
        plan_bytes: &[u8],
        started: Started,
    ) -> Result<Self, JournalError> {
        let mut locks = vec![state.lock_run(id)?];
        let path = state.run_dir(id);
        if path.exists() {
            return Err(JournalError::RunExists { run_id: id.clone() });
        }
        let users: Vec<_> = started
            .steps
            .iter()
            .flat_map(|s| s.action.users())
            .collect();
        locks.extend(state.lock_users(&users, id)?);
        if let Some((run, user, state_word)) = state.claim_on(&users, id)? {
            return Err(JournalError::Claimed {
                user,
                run,
                state: state_word,
            });
        }
        let runs = state.runs();
        StateDir::ensure(&runs)?;
        let building = runs.join(format!(".new-{id}-{}", std::process::id()));
        if building.exists() {
            // Left by a process that died while building it; nothing in it was ever a run.
            let _ = std::fs::remove_dir_all(&building);
        }
        StateDir::ensure(&building)?;
        write_synced(&building.join("plan.yaml"), plan_bytes)?;
        let digest = Fingerprint::of(plan_bytes);
        write_synced(
            &building.join("plan.sha256"),
            format!("{digest}\n").as_bytes(),
        )?;
        let record = Record::now(Entry::Started(Box::new(started)));
        let mut line = encode(&record, &building.join("journal.jsonl"))?;
        line.push('\n');
        write_synced(&building.join("journal.jsonl"), line.as_bytes())?;
        sync_dir(&building);
        std::fs::rename(&building, &path).map_err(io("create", &path))?;
        sync_dir(&runs);
        let summary = replay(std::slice::from_ref(&record));
        Self::attach(id, path, summary, false, locks)
    }

    /// Opens an existing run, taking the same locks a new one takes.
    pub fn open(state: &StateDir, id: &RunId) -> Result<Self, JournalError> {
        let mut locks = vec![state.lock_run(id)?];
        let JournalContents { records, torn_tail } = state.read(id)?;
        let summary = replay(&records);
        if summary.started().is_none() {
            return Err(JournalError::NeverStarted { run_id: id.clone() });
        }
        locks.extend(state.lock_users(&summary.users(), id)?);
        Self::attach(id, state.run_dir(id), summary, torn_tail, locks)
    }

    /// Opens the journal of a run whose locks are held, for appending.
    fn attach(
        id: &RunId,
        path: PathBuf,
        summary: RunSummary,
        torn_tail: bool,
        locks: Vec<Lock>,
    ) -> Result<Self, JournalError> {
        let journal_path = path.join("journal.jsonl");
        let journal = OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .map_err(io("open", &journal_path))?;
        Ok(Self {
            id: id.clone(),
            path,
            journal,
            summary,
            torn_tail,
            _locks: locks,
        })
    }

    /// The run id.
    pub fn id(&self) -> &RunId {
        &self.id
    }

    /// The run's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state, with every record appended so far.
    pub fn summary(&self) -> &RunSummary {
        &self.summary
    }

    /// Whether the journal's last line was torn by a crash (and ignored).
    pub fn torn_tail(&self) -> bool {
        self.torn_tail
    }

    /// Attestations recorded beside the journal that it does not hold yet.
    pub fn new_attestations(&self) -> Result<Vec<super::entry::Attestation>, JournalError> {
        Ok(super::store::read_attestations(&self.path)?
            .into_iter()
            .filter(|a| self.summary.attestation(&a.step, a.undo).is_none())
            .collect())
    }

    /// The plan as applied.
    pub fn plan_bytes(&self) -> Result<Vec<u8>, JournalError> {
        let path = self.path.join("plan.yaml");
        std::fs::read(&path).map_err(io("read", &path))
    }

    /// Appends a record stamped with the time now and fsyncs it before returning.
    pub fn append(&mut self, entry: Entry) -> Result<(), JournalError> {
        let record = Record::now(entry);
        let path = self.path.join("journal.jsonl");
        let mut line = encode(&record, &path)?;
        line.push('\n');
        self.journal
            .write_all(line.as_bytes())
            .map_err(io("append to", &path))?;
        self.journal.sync_data().map_err(io("sync", &path))?;
        self.summary.apply(&record);
        Ok(())
    }
}

fn encode(record: &Record, path: &Path) -> Result<String, JournalError> {
    serde_json::to_string(record)
        .map_err(|e| io("encode a record for", path)(std::io::Error::other(e)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::ids::{StepId, UserId};
    use crate::journal::{RunState, StepEffect};
    use crate::provider::{Op, Readiness, Step, marketo};

    fn id(text: &str) -> RunId {
        RunId::parse(text).unwrap()
    }

    fn started(user: &str) -> Started {
        Started {
            plan: "p".into(),
            plan_sha256: Fingerprint::of(b"p"),
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
        }
    }

    #[test]
    fn a_run_is_written_durably_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(&dir.path().join("state")).unwrap();
        let mut run = Run::start(&state, &id("r1"), b"version: 1\n", started("a@x.io")).unwrap();
        run.append(Entry::Intent {
            step: StepId::new("r0-delete"),
        })
        .unwrap();
        run.append(Entry::Done {
            step: StepId::new("r0-delete"),
            effect: StepEffect::Changed,
        })
        .unwrap();
        let path = run.path().join("journal.jsonl");
        drop(run);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":\"intent\",\"st").unwrap();
        let contents = state.read(&id("r1")).unwrap();
        assert_eq!(contents.records.len(), 3);
        assert!(contents.torn_tail);
        assert!(contents.records.iter().all(|r| r.at.is_some()));
        assert_eq!(state.run_ids().unwrap(), [id("r1")]);
        let digest = std::fs::read_to_string(state.path().join("runs/r1/plan.sha256")).unwrap();
        assert!(digest.starts_with("sha256:"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(state.path()), 0o700);
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&state.path().join("runs/r1/plan.yaml")), 0o600);
        }
    }

    #[test]
    fn damage_before_the_last_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(dir.path()).unwrap();
        let run = Run::start(&state, &id("r1"), b"", started("a@x.io")).unwrap();
        let path = run.path().join("journal.jsonl");
        std::fs::write(&path, "garbage\n{\"kind\":\"finished\"}\n").unwrap();
        assert!(matches!(
            state.read(&id("r1")),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }

    #[test]
    fn a_second_process_is_locked_out_and_a_refused_start_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::create(dir.path()).unwrap();
        let first = Run::start(&state, &id("r1"), b"", started("a@x.io")).unwrap();
        assert!(matches!(
            Run::open(&state, &id("r1")),
            Err(JournalError::Locked(_))
        ));
        assert!(state.is_active(&id("r1")));
        // The same user, in another spelling, while the first run's process holds it.
        let second = Run::start(&state, &id("r2"), b"", started("A@X.io"));
        assert!(matches!(second, Err(JournalError::Locked(_))), "{second:?}");
        assert!(!state.run_dir(&id("r2")).exists(), "no phantom run is left");
        drop(first);
        assert!(!state.is_active(&id("r1")));
        // The first run is unsettled, so it keeps its claim after its process let go.
        let third = Run::start(&state, &id("r3"), b"", started("a@x.io"));
        assert!(
            matches!(&third, Err(JournalError::Claimed { run, .. }) if run == &id("r1")),
            "{third:?}"
        );
        assert!(!state.run_dir(&id("r3")).exists());
        let mut first = Run::open(&state, &id("r1")).unwrap();
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
        assert!(Run::start(&state, &id("r3"), b"", started("a@x.io")).is_ok());
        assert!(matches!(
            Run::start(&state, &id("r1"), b"", started("b@x.io")),
            Err(JournalError::RunExists { .. })
        ));
    }
}
