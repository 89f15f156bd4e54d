//! Which run a command is about: its id, any unique prefix of one (`relinker status acme-rot`),
//! or `--last`, the run started last. Every command that takes a run id reads it here, so they
//! all accept the same.

use clap::Args;

use super::exit::Failure;
use super::run::journal_failure;
use crate::ids::RunId;
use crate::journal::StateStore;

/// `RUN_ID` (or a prefix of it) and `--last`, for commands whose run id is optional.
#[derive(Debug, Args)]
pub struct RunChoice {
    /// The run: its id, or any prefix that only it starts with.
    #[arg(value_name = "RUN_ID")]
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
    #[arg(value_name = "RUN_ID")]
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
