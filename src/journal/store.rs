//! The local state directory: where runs, their journals and the locks live.
//!
//! ```text
//! <state-dir>/                 0700
//!   runs/<run-id>/             exists only once the run's locks were taken and it started
//!     plan.yaml                the plan exactly as applied (0600, like every file here)
//!     plan.sha256
//!     journal.jsonl
//!   locks/run-<run-id>.lock    held by the process working on the run
//!   locks/user-<hash>.lock     held by the process working on a run that touches the user
//! ```
//!
//! Reading needs no lock: records are whole lines, and a torn last one is ignored.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::entry::{Attestation, Record};
use super::lock::Lock;
use super::summary::{RunSummary, replay};
use super::{JournalError, io};
use chrono::{DateTime, Utc};

use crate::ids::{RunId, UserId};
use crate::secret::Fingerprint;

/// Where `relinker attest` records attestations, beside the journal.
const ATTESTATIONS: &str = "attestations.jsonl";

/// A state directory that exists and is a directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    path: PathBuf,
}

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

impl StateDir {
    /// The state directory at `path`, created (0700) if it does not exist yet.
    pub fn create(path: &Path) -> Result<Self, JournalError> {
        match std::fs::metadata(path) {
            Ok(_) => Self::existing(path),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                create_dir(path).map_err(|source| JournalError::StateDir {
                    path: path.to_path_buf(),
                    problem: format!("cannot be created: {source}"),
                })?;
                Self::existing(path)
            }
            Err(source) => Err(JournalError::StateDir {
                path: path.to_path_buf(),
                problem: format!("cannot be read: {source}"),
            }),
        }
    }

    /// The state directory at `path`, which must exist, be a directory and be readable.
    pub fn existing(path: &Path) -> Result<Self, JournalError> {
        let problem = match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => match std::fs::read_dir(path) {
                Ok(_) => None,
                Err(source) => Some(format!("cannot be read: {source}")),
            },
            Ok(_) => Some("is not a directory".to_owned()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Some(
                "does not exist (give the right one with --state-dir or RELINKER_STATE_DIR)"
                    .to_owned(),
            ),
            Err(source) => Some(format!("cannot be read: {source}")),
        };
        match problem {
            None => Ok(Self {
                path: path.to_path_buf(),
            }),
            Some(problem) => Err(JournalError::StateDir {
                path: path.to_path_buf(),
                problem,
            }),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn runs(&self) -> PathBuf {
        self.path.join("runs")
    }

    pub(super) fn run_dir(&self, id: &RunId) -> PathBuf {
        self.runs().join(id.as_str())
    }

    fn locks(&self) -> PathBuf {
        self.path.join("locks")
    }

    /// Creates a subdirectory (0700) if it is missing.
    pub(super) fn ensure(dir: &Path) -> Result<(), JournalError> {
        if dir.is_dir() {
            return Ok(());
        }
        create_dir(dir).map_err(io("create", dir))
    }

    /// Takes the lock that keeps a second process off the run.
    pub(super) fn lock_run(&self, id: &RunId) -> Result<Lock, JournalError> {
        let dir = self.locks();
        Self::ensure(&dir)?;
        Ok(Lock::acquire(
            &dir.join(format!("run-{id}.lock")),
            &format!("run `{id}`"),
            id.as_str(),
        )?)
    }

    /// Takes the lock of every user, in one order so two runs never wait on each other.
    pub(super) fn lock_users(
        &self,
        users: &[&UserId],
        owner: &RunId,
    ) -> Result<Vec<Lock>, JournalError> {
        let dir = self.locks();
        Self::ensure(&dir)?;
        let mut sorted = users.to_vec();
        sorted.sort();
        sorted.dedup();
        sorted
            .into_iter()
            .map(|user| {
                let hash = Fingerprint::of(user.folded().as_bytes());
                let name = format!("user-{}.lock", &hash.as_str()[7..23]);
                Lock::acquire(&dir.join(name), &format!("user `{user}`"), owner.as_str())
                    .map_err(JournalError::from)
            })
            .collect()
    }

    /// Whether a process is working on the run now.
    pub fn is_active(&self, id: &RunId) -> bool {
        Lock::is_held(&self.locks().join(format!("run-{id}.lock")))
    }

    /// Every run id, oldest first by name.
    pub fn run_ids(&self) -> Result<Vec<RunId>, JournalError> {
        let dir = self.runs();
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut ids: Vec<RunId> = std::fs::read_dir(&dir)
            .map_err(io("list", &dir))?
            .filter_map(Result::ok)
            .filter(|e| e.path().join("journal.jsonl").is_file())
            .filter_map(|e| RunId::parse(&e.file_name().to_string_lossy()).ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    /// A run's journal, read without a lock.
    pub fn read(&self, id: &RunId) -> Result<JournalContents, JournalError> {
        let path = self.run_dir(id).join("journal.jsonl");
        if !path.is_file() {
            return Err(JournalError::NoSuchRun {
                run_id: id.clone(),
                state_dir: self.path.clone(),
            });
        }
        read_journal(&path)
    }

    /// Records a person's attestation beside a run's journal; the run picks it up at its next
    /// check (a run waiting at a terminal within seconds, a paused one on `resume`). Needs no
    /// lock: each is one line appended whole.
    pub fn attest(&self, id: &RunId, attestation: &Attestation) -> Result<(), JournalError> {
        let path = self.run_dir(id).join(ATTESTATIONS);
        let mut line = serde_json::to_string(attestation)
            .map_err(|e| io("encode an attestation for", &path)(std::io::Error::other(e)))?;
        line.push('\n');
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io("open", &path))?;
        file.write_all(line.as_bytes())
            .map_err(io("append to", &path))?;
        file.sync_data().map_err(io("sync", &path))
    }

    /// The attestations recorded beside a run's journal, oldest first; lines that do not read
    /// are passed over (a torn write is not an attestation).
    pub fn attestations(&self, id: &RunId) -> Result<Vec<Attestation>, JournalError> {
        read_attestations(&self.run_dir(id))
    }

    /// A run's state, read without a lock.
    pub fn summary(&self, id: &RunId) -> Result<RunSummary, JournalError> {
        Ok(replay(&self.read(id)?.records))
    }

    /// Removes a settled run (done, rolled back or abandoned) whose last activity came before
    /// `cutoff`; an unfinished run, a recent one, or one a process holds is left as it is. The
    /// run's folder is first renamed out of the run namespace, so a crash midway never leaves
    /// something that reads as a run.
    pub fn prune(&self, id: &RunId, cutoff: DateTime<Utc>) -> Result<Pruned, JournalError> {
        let lock = match self.lock_run(id) {
            Ok(lock) => lock,
            Err(JournalError::Locked(_)) => return Ok(Pruned::Active),
            Err(error) => return Err(error),
        };
        let summary = self.summary(id)?;
        if !summary.state().is_settled() {
            return Ok(Pruned::Unfinished);
        }
        if summary.last_activity().is_none_or(|at| at >= cutoff) {
            return Ok(Pruned::Recent);
        }
        let dir = self.run_dir(id);
        let doomed = self.runs().join(format!(".pruned-{id}"));
        std::fs::rename(&dir, &doomed).map_err(io("move away", &dir))?;
        std::fs::remove_dir_all(&doomed).map_err(io("remove", &doomed))?;
        // The lock file stays: removing it could race a process taking it for this id.
        drop(lock);
        Ok(Pruned::Removed)
    }

    /// The first unsettled run other than `except` that touches one of `users`: it keeps its
    /// claim until it is done, rolled back or abandoned.
    pub(super) fn claim_on(
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
            if state.is_settled() {
                continue;
            }
            if let Some(user) = summary.users().into_iter().find(|u| users.contains(u)) {
                return Ok(Some((id, user.clone(), state.word().to_owned())));
            }
        }
        Ok(None)
    }
}

/// The attestations beside the journal in a run directory.
pub(super) fn read_attestations(run_dir: &Path) -> Result<Vec<Attestation>, JournalError> {
    let path = run_dir.join(ATTESTATIONS);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(text
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(error) => Err(io("read", &path)(error)),
    }
}

/// Creates a directory and its missing parents, readable by its owner only.
fn create_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

/// Opens a file for writing, readable by its owner only.
pub(super) fn create_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Writes a new file and syncs it.
pub(super) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    let mut file = create_file(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

/// Makes new names in a directory durable; not every platform allows it.
pub(super) fn sync_dir(path: &Path) {
    if let Ok(dir) = File::open(path) {
        let _ = dir.sync_all();
    }
}

/// Reads a journal, tolerating a torn last line.
pub fn read_journal(path: &Path) -> Result<JournalContents, JournalError> {
    let file = File::open(path).map_err(io("open", path))?;
    let lines: Vec<String> = BufReader::new(file)
        .lines()
        .collect::<Result<_, _>>()
        .map_err(io("read", path))?;
    let mut contents = JournalContents::default();
    let last = lines.len();
    for (index, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(record) => contents.records.push(record),
            Err(_) if index + 1 == last => {
                tracing::warn!(path = %path.display(), "ignoring a torn last line in the journal (the process stopped mid-write)");
                contents.torn_tail = true;
            }
            Err(error) => {
                return Err(JournalError::Corrupt {
                    path: path.to_path_buf(),
                    line: index + 1,
                    reason: error.to_string(),
                });
            }
        }
    }
    Ok(contents)
}
