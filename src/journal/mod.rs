//! The checkpoint store: where runs are kept (a state directory or a PostgreSQL database), each
//! run's write-ahead journal, its locks, and the run lifecycle that ties them together.
//!
//! [`Run`] is the one owner of a run's lifecycle: it starts a run (locks first, then the run),
//! opens it again for `resume`, `rollback` and `abandon` (the same locks), and appends
//! records, each durable before the call returns, so an `intent` is stored before the request
//! it announces is sent. [`RunSummary`] replays a journal into one [`RunState`].
//! [`StateStore`] is where runs are kept, whichever backend keeps them (`store`: the seam;
//! `local`: the state directory, used only while `trust` finds it safe; `postgres`: a database
//! shared by every runner, reached over TLS unless it is on this machine or the URL says
//! otherwise). Locks die with their process (file locks) or its connection (advisory locks), so
//! no lock outlives a `kill -9`; an unsettled run still keeps its claim on its users through
//! its journal. Because a lock can also be lost while its process lives (a database restart
//! ends the session; a clean-up replaces a lock file), a run proves it still holds its lock
//! ([`Run::still_held`]) before each request that changes state, and a local journal before
//! each record. Secrets never enter the store: credentials appear only as fingerprints.

mod chain;
mod entry;
mod local;
mod lock;
mod postgres;
mod run;
mod store;
mod summary;
mod trust;

use std::path::{Path, PathBuf};

pub use chain::{Chained, StateKey};
pub use entry::{
    Attestation, Entry, FORMAT_VERSION, FailureEffect, Origin, Record, Started, StepEffect, now_ms,
};
pub use lock::{Lock, LockError};
pub use run::Run;
pub use store::{Copied, JournalContents, Pruned, StateStore};
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
    /// The state directory, or something in it, cannot be trusted: a directory someone other
    /// than its owner can write, one owned by another user, or a link where relinker never
    /// follows one.
    #[error("unsafe state directory: `{}` {problem}", path.display())]
    UnsafeState {
        /// The directory or file.
        path: PathBuf,
        /// What is wrong with it, and what to do.
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
    #[error("no run `{run_id}` in {location}; `relinker status {flag}` lists the runs there")]
    NoSuchRun {
        /// The run asked for.
        run_id: RunId,
        /// Where runs live, for people.
        location: String,
        /// The flag that names that store.
        flag: String,
    },
    /// A prefix given for a run id fits more than one run.
    #[error("`{given}` is the start of {} run ids: {}; give more of the id", matches.len(), matches.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", "))]
    AmbiguousRun {
        /// What was given.
        given: String,
        /// Every run id it starts.
        matches: Vec<RunId>,
    },
    /// `--last` in a store that holds no run.
    #[error("no runs in {location}, so there is no last one")]
    NoRuns {
        /// Where runs live, for people.
        location: String,
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
    /// A line in the middle of a journal or of its attestations is not a record: not a torn
    /// write, real damage.
    #[error("`{place}` line {line} is not a record relinker wrote: {reason}")]
    Corrupt {
        /// The journal or the attestations: a file, or a run in a database.
        place: String,
        /// 1-based line.
        line: usize,
        /// Why.
        reason: String,
    },
    /// The state store's URL does not read.
    #[error("--state: {problem}")]
    StateUrl {
        /// What is wrong with it (never the URL itself: it may hold a password).
        problem: String,
    },
    /// The database refused or failed an operation.
    #[error("cannot {action} {location}: {reason}")]
    Database {
        /// What was being done.
        action: &'static str,
        /// The database, without its password.
        location: String,
        /// The server's words, or the connection's.
        reason: String,
    },
    /// The database did not answer within the bounded wait.
    #[error(
        "{location} did not answer within {}s; the command stopped before its next step (is the database running and reachable?)",
        waited.as_secs()
    )]
    Unreachable {
        /// The database, without its password.
        location: String,
        /// How long was waited.
        waited: std::time::Duration,
    },
    /// The database's schema was migrated by a newer relinker.
    #[error(
        "{location} holds relinker's schema version {found}, newer than this relinker knows ({known}); use the relinker that migrated it, or a newer one"
    )]
    SchemaNewer {
        /// The database, without its password.
        location: String,
        /// The version found.
        found: usize,
        /// The newest version this binary knows.
        known: usize,
    },
    /// A run was started by a relinker that writes a newer journal format.
    #[error(
        "run `{run_id}` is written in journal format {found}, newer than this relinker reads ({known}); use the relinker that started it, or a newer one"
    )]
    FormatNewer {
        /// The run.
        run_id: RunId,
        /// The format its `started` record names.
        found: u32,
        /// The newest format this binary reads.
        known: u32,
    },
    /// A migration the database recorded is not this binary's: it was edited after databases
    /// ran it, or the record of it was.
    #[error(
        "{location} recorded relinker's schema migration {version} ({name}) with SHA-256 {recorded}, but this relinker's migration {version} has SHA-256 {expected}: the migration, or the database's record of it, was edited after it ran; relinker does not use a schema it cannot vouch for"
    )]
    MigrationEdited {
        /// The database, without its password.
        location: String,
        /// The migration's number, from 1.
        version: usize,
        /// What the migration does.
        name: &'static str,
        /// The digest the database recorded (`none` when it has none).
        recorded: String,
        /// The digest of this binary's migration.
        expected: String,
    },
    /// A record was appended through a session attached to no run: a bug, reported rather
    /// than written anywhere.
    #[error("a journal record was written before its run was opened (a bug in relinker)")]
    Detached,
    /// Another process holds a lock.
    #[error(transparent)]
    Locked(LockError),
    /// This process can no longer prove it holds the run's lock (its database session died,
    /// its lock file was removed or replaced): another runner may hold the run now, so this
    /// one may send and append nothing more for it.
    #[error(
        "lost the lock on run `{run_id}` ({reason}); this runner stopped before sending anything more, since another runner may hold the run now: `relinker status {run_id}` shows whether one does, and `relinker resume {run_id}` goes on from where the run is"
    )]
    LockLost {
        /// The run.
        run_id: RunId,
        /// Why the lock cannot be proven, in words.
        reason: String,
    },
    /// What the store holds for a run is not what relinker wrote: a record or the plan was
    /// edited, removed, added or moved.
    #[error(
        "run `{run_id}` does not verify: record {record} of `{place}`: {reason}; relinker does not act on it"
    )]
    Tampered {
        /// The run.
        run_id: RunId,
        /// Where its records are kept.
        place: String,
        /// The first record that does not verify (1-based; 0 for the plan).
        record: usize,
        /// What is wrong.
        reason: String,
    },
    /// The state key cannot be used as a key.
    #[error("the state key (RELINKER_STATE_KEY) cannot be used as a key")]
    StateKey,
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
            LockError::Io { path, source } => io("lock", &path)(source),
            busy @ LockError::Busy { .. } => JournalError::Locked(busy),
        }
    }
}

/// An I/O error on `path`; a file opened through a planted link is said to be one.
fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> JournalError {
    let path = path.to_path_buf();
    move |source| {
        if trust::is_link(&source) {
            return JournalError::UnsafeState {
                path,
                problem: trust::LINK.to_owned(),
            };
        }
        JournalError::Io {
            action,
            path,
            source,
        }
    }
}
