//! Which run a command is about: its id, any unique prefix of one (`relinker status acme-rot`),
//! or `--last`, the run started last. Every command that takes a run id reads it here, so they
//! all accept the same.

use std::ffi::OsStr;
use std::path::Path;
use std::time::Duration;

use clap::Args;
use clap_complete::engine::{ArgValueCompleter, CompletionCandidate};

use super::exit::Failure;
use super::run::journal_failure;
use crate::ids::RunId;
use crate::journal::StateStore;

/// `RUN_ID` (or a prefix of it) and `--last`, for commands whose run id is optional.
#[derive(Debug, Args)]
pub struct RunChoice {
    /// The run: its id, or any prefix that only it starts with.
    #[arg(value_name = "RUN_ID", add = run_ids())]
    run_id: Option<RunId>,
    /// The run started last.
    #[arg(long, conflicts_with = "run_id")]
    last: bool,
}

impl RunChoice {
    /// The run named, if one is: a prefix resolved, `--last` looked up.
    pub(crate) fn resolve(&self, state: &StateStore) -> Result<Option<RunId>, Failure> {
        if self.last {
            return state.last().map(Some).map_err(journal_failure);
        }
        self.run_id
            .as_ref()
            .map(|given| find(state, given))
            .transpose()
    }

    /// Whether a run is named at all.
    pub(crate) fn is_given(&self) -> bool {
        self.last || self.run_id.is_some()
    }
}

/// The run `given` names: itself, or the one run its prefix fits.
pub(crate) fn find(state: &StateStore, given: &RunId) -> Result<RunId, Failure> {
    state.find(given).map_err(journal_failure)
}

/// `RUN_ID` (or a prefix of it) or `--last`, for commands that need one run.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct OneRun {
    /// The run: its id, or any prefix that only it starts with.
    #[arg(value_name = "RUN_ID", add = run_ids())]
    run_id: Option<RunId>,
    /// The run started last.
    #[arg(long)]
    last: bool,
}

impl OneRun {
    /// The run named: a prefix resolved, `--last` looked up.
    pub(crate) fn resolve(&self, state: &StateStore) -> Result<RunId, Failure> {
        match &self.run_id {
            Some(given) if !self.last => find(state, given),
            _ => state.last().map_err(journal_failure),
        }
    }
}

/// Shell completion of run ids (`relinker completions`): the runs of the state store the
/// environment names, each with its state.
pub(crate) fn run_ids() -> ArgValueCompleter {
    ArgValueCompleter::new(complete_run_id)
}

/// The run ids that start with `current` in the state store `RELINKER_STATE` (a database URL,
/// given two seconds) or `RELINKER_STATE_DIR` (else `.relinker`) names; none when it cannot be
/// read. A store named by a reference (`${env:…}`) is not resolved for a completion.
fn complete_run_id(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(prefix) = current.to_str() else {
        return Vec::new();
    };
    let store = match std::env::var("RELINKER_STATE")
        .ok()
        .filter(|s| !s.is_empty())
    {
        Some(url) if url.starts_with("postgres") => {
            StateStore::postgres(&url, Duration::from_secs(2))
        }
        Some(_) => return Vec::new(),
        None => {
            let dir = std::env::var("RELINKER_STATE_DIR").unwrap_or_else(|_| ".relinker".into());
            StateStore::local_existing(Path::new(&dir))
        }
    };
    let Ok(store) = store else {
        return Vec::new();
    };
    let mut ids = store.run_ids().unwrap_or_default();
    ids.retain(|id| id.as_str().starts_with(prefix));
    ids.sort();
    ids.into_iter()
        .map(|id| {
            let state = store
                .summary(&id)
                .ok()
                .map(|summary| summary.state().word_when(false).to_owned());
            CompletionCandidate::new(id.as_str()).help(state.map(Into::into))
        })
        .collect()
}
