//! The checkpoint store: the state directory, each run's write-ahead JSONL journal, its locks,
//! and the run lifecycle that ties them together.
//!
//! [`Run`] is the one owner of a run's lifecycle: it starts a run (locks first, then the
//! directory), opens it again for `resume`, `rollback` and `abandon` (the same locks), and
//! appends records, each fsynced before the call returns, so an `intent` is on disk before the
//! request it announces is sent. [`RunSummary`] replays a journal into one [`RunState`]. Locks
//! are OS file locks: they die with their process, so no lock outlives a `kill -9`; an
//! unsettled run still keeps its claim on its users through its journal. Secrets never enter
//! the state directory: credentials appear only as fingerprints.

mod entry;
mod lock;
mod run;
mod store;
mod summary;

use std::path::{Path, PathBuf};

pub use entry::{Attestation, Entry, FailureEffect, Record, Started, StepEffect};
pub use lock::{Lock, LockError};
pub use run::Run;
pub use store::{JournalContents, Pruned, StateDir, read_journal};
pub use summary::{Direction, RunState, RunSummary, StepState, Waiting, replay};

use crate::ids::{RunId, UserId};

/// Why the state directory or a journal could not be used.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The state directory is missing, not a directory, or unreadable.
    #[error("state directory `{}` {problem}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: String,
    },
    /// File system trouble inside the state directory.
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
    #[error("no run `{run_id}` in `{}`; `relinker status --state-dir {}` lists the runs there", state_dir.display(), state_dir.display())]
    NoSuchRun {
        /// The run asked for.
        run_id: RunId,
        /// Where runs live.
        state_dir: PathBuf,
    },
    /// A run with this id exists already.
    #[error(
        "run `{run_id}` already exists; choose another --run-id, or continue it with `relinker resume {run_id}`"
    )]
    RunExists {
        /// The id.
        run_id: RunId,
    },
    /// A run directory whose journal has no `started` record: nothing of it ever ran.
    #[error(
        "run `{run_id}` never started (its journal has no `started` record); nothing of it ran, and it can be deleted"
    )]
    NeverStarted {
        /// The id.
        run_id: RunId,
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
    Locked(LockError),
    /// An unsettled run claims one of the users.
    #[error(
        "user `{user}` is claimed by run `{run}`, which is {state}; finish it (`relinker resume {run}`), undo it (`relinker rollback {run}`), or give it up (`relinker abandon {run} --reason …`)"
    )]
    Claimed {
        /// The user.
        user: UserId,
        /// The run that claims it.
        run: RunId,
        /// That run's state, in words.
        state: String,
    },
}

impl From<LockError> for JournalError {
    fn from(error: LockError) -> Self {
        match error {
            LockError::Io { path, source } => JournalError::Io {
                action: "lock",
                path,
                source,
            },
            busy @ LockError::Busy { .. } => JournalError::Locked(busy),
        }
    }
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| JournalError::Io {
        action,
        path,
        source,
    }
}
