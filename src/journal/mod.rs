//! The checkpoint store: one directory per run, a write-ahead JSONL journal, and locks.
//!
//! `<state-dir>/runs/<run-id>/` holds `plan.yaml` (the plan exactly as applied), `plan.sha256`,
//! `journal.jsonl` and `lock`. Every record is appended and fsynced before the journal call
//! returns, so an `intent` is on disk before the request it announces is sent. A torn last line
//! (the process died mid-write) is reported and ignored, never fatal. Locks are OS file locks:
//! they die with their process, so no lock outlives a `kill -9`. Secrets never enter a run
//! directory: credentials appear only as fingerprints.

mod entry;
mod lock;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

pub use entry::{Entry, FailureEffect, RunSummary, StepRecord, replay};
pub use lock::{Lock, LockError};

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// File system trouble.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No such run.
    #[error("no run `{run_id}` in `{}`", state_dir.display())]
    NoSuchRun {
        /// The run asked for.
        run_id: String,
        /// Where runs live.
        state_dir: PathBuf,
    },
    /// A run with this id exists already.
    #[error("run `{run_id}` already exists; choose another --run-id or `relinker resume {run_id}`")]
    RunExists {
        /// The id.
        run_id: String,
    },
    /// A line in the middle of the journal is not a record: not a torn write, real damage.
    #[error("`{}` line {line} is not a journal record: {reason}", path.display())]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// Another process holds a lock.
    #[error(transparent)]
    Locked(#[from] LockError),
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}

/// A run's directory, with its journal open for appending and its lock held.
#[derive(Debug)]
pub struct RunDir {
    id: String,
    path: PathBuf,
    journal: File,
    _lock: Lock,
}

/// The records of a journal, and whether its last line was torn.
#[derive(Debug, Clone, Default)]
pub struct JournalContents {
    /// Every complete record, in order.
    pub entries: Vec<Entry>,
    /// A torn last line was found (and ignored).
    pub torn_tail: bool,
}

/// Where the runs of a state directory live.
pub fn runs_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("runs")
}

impl RunDir {
    /// Creates a run directory, writes the plan into it and takes its lock.
    pub fn create(state_dir: &Path, run_id: &str, plan_bytes: &[u8]) -> Result<Self, JournalError> {
        let path = runs_dir(state_dir).join(run_id);
        if path.exists() {
            return Err(JournalError::RunExists {
                run_id: run_id.to_owned(),
            });
        }
        std::fs::create_dir_all(&path).map_err(io("create", &path))?;
        let lock = Lock::acquire(&path.join("lock"), &format!("run `{run_id}`"), run_id)?;
        write_synced(&path.join("plan.yaml"), plan_bytes)?;
        let digest = crate::secret::Fingerprint::of(plan_bytes);
        write_synced(&path.join("plan.sha256"), format!("{digest}\n").as_bytes())?;
        let journal_path = path.join("journal.jsonl");
        let journal = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&journal_path)
            .map_err(io("create", &journal_path))?;
        sync_dir(&path);
        Ok(Self {
            id: run_id.to_owned(),
            path,
            journal,
            _lock: lock,
        })
    }

    /// Opens an existing run and takes its lock.
    pub fn open(state_dir: &Path, run_id: &str) -> Result<Self, JournalError> {
        let path = runs_dir(state_dir).join(run_id);
        if !path.join("journal.jsonl").is_file() {
            return Err(JournalError::NoSuchRun {
                run_id: run_id.to_owned(),
                state_dir: state_dir.to_path_buf(),
            });
        }
        let lock = Lock::acquire(&path.join("lock"), &format!("run `{run_id}`"), run_id)?;
        let journal_path = path.join("journal.jsonl");
        let journal = OpenOptions::new()
            .append(true)
            .open(&journal_path)
            .map_err(io("open", &journal_path))?;
        Ok(Self {
            id: run_id.to_owned(),
            path,
            journal,
            _lock: lock,
        })
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The plan as applied.
    pub fn plan_bytes(&self) -> Result<Vec<u8>, JournalError> {
        let path = self.path.join("plan.yaml");
        std::fs::read(&path).map_err(io("read", &path))
    }

    /// Appends a record and fsyncs it before returning.
    pub fn append(&mut self, entry: &Entry) -> Result<(), JournalError> {
        let path = self.path.join("journal.jsonl");
        let mut line = serde_json::to_string(entry)
            .map_err(|e| io("encode a record for", &path)(std::io::Error::other(e)))?;
        line.push('\n');
        self.journal
            .write_all(line.as_bytes())
            .map_err(io("append to", &path))?;
        self.journal.sync_data().map_err(io("sync", &path))
    }

    /// Reads the journal back.
    pub fn read(&self) -> Result<JournalContents, JournalError> {
        read_journal(&self.path.join("journal.jsonl"))
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
        match serde_json::from_str::<Entry>(line) {
            Ok(entry) => contents.entries.push(entry),
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

/// Every run id in a state directory, oldest first by name.
pub fn list_runs(state_dir: &Path) -> Result<Vec<String>, JournalError> {
    let dir = runs_dir(state_dir);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = std::fs::read_dir(&dir)
        .map_err(io("list", &dir))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("journal.jsonl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    Ok(ids)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), JournalError> {
    let mut file = File::create(path).map_err(io("create", path))?;
    file.write_all(bytes).map_err(io("write", path))?;
    file.sync_all().map_err(io("sync", path))
}

fn sync_dir(path: &Path) {
    // A directory fsync makes the new files' names durable; not every platform allows it.
    if let Ok(dir) = File::open(path) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_reads_and_tolerates_a_torn_tail() {
        let state = tempfile::tempdir().unwrap();
        let mut run = RunDir::create(state.path(), "r1", b"version: 1\n").unwrap();
        run.append(&Entry::Intent { step: "a".into() }).unwrap();
        run.append(&Entry::Done {
            step: "a".into(),
            applied: true,
        })
        .unwrap();
        let path = run.path().join("journal.jsonl");
        drop(run);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"kind\":\"intent\",\"st").unwrap();
        let contents = read_journal(&path).unwrap();
        assert_eq!(contents.entries.len(), 2);
        assert!(contents.torn_tail);
        assert_eq!(list_runs(state.path()).unwrap(), ["r1"]);
        assert!(matches!(
            RunDir::create(state.path(), "r1", b""),
            Err(JournalError::RunExists { .. })
        ));
        let digest = std::fs::read_to_string(state.path().join("runs/r1/plan.sha256")).unwrap();
        assert!(digest.starts_with("sha256:"));
    }

    #[test]
    fn damage_before_the_last_line_is_an_error() {
        let state = tempfile::tempdir().unwrap();
        let run = RunDir::create(state.path(), "r1", b"").unwrap();
        let path = run.path().join("journal.jsonl");
        std::fs::write(&path, "garbage\n{\"kind\":\"intent\",\"step\":\"a\"}\n").unwrap();
        assert!(matches!(
            read_journal(&path),
            Err(JournalError::Corrupt { line: 1, .. })
        ));
    }

    #[test]
    fn a_second_opener_is_locked_out() {
        let state = tempfile::tempdir().unwrap();
        let _first = RunDir::create(state.path(), "r1", b"").unwrap();
        let second = RunDir::open(state.path(), "r1");
        assert!(matches!(second, Err(JournalError::Locked(_))), "{second:?}");
    }
}
