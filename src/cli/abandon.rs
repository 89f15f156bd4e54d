//! `relinker abandon RUN_ID --reason TEXT [--by NAME]`: a person gives a run up. The run is
//! left exactly as it is (nothing is sent), the journal records who and why, and the run no
//! longer claims its users, so new runs may touch them.

use clap::Args;

use super::exit::{Failure, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::journal::{Entry, Run, RunState};

/// Options of `relinker abandon`.
#[derive(Debug, Args)]
pub struct AbandonArgs {
    /// The run to give up.
    #[command(flatten)]
    run: super::which::OneRun,
    /// Why: recorded in the journal and shown by `status`.
    #[arg(long, value_name = "TEXT")]
    reason: String,
    /// Who gives it up (default: $USER).
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    #[command(flatten)]
    state: StateArgs,
}

/// Records the abandonment.
pub fn run(args: &AbandonArgs) -> Result<Outcome, Failure> {
    let state = args.state.existing()?;
    let id = &args.run.resolve(&state)?;
    let current = state.summary(id).map_err(journal_failure)?.state();
    if current.is_settled() {
        say(&format!(
            "run {id} is {}; there is nothing to abandon.",
            current.word()
        ));
        return Ok(Outcome::Success);
    }
    if current == RunState::NeverStarted {
        return Err(journal_failure(
            crate::journal::JournalError::NeverStarted { run_id: id.clone() },
        ));
    }
    let mut run = Run::open(&state, id).map_err(journal_failure)?;
    let by = args
        .by
        .clone()
        .or_else(|| std::env::var("USER").ok())
        .filter(|b| !b.trim().is_empty())
        .unwrap_or_else(|| "unknown".into());
    run.append(Entry::Abandoned {
        by: by.clone(),
        reason: args.reason.clone(),
    })
    .map_err(journal_failure)?;
    say(&format!(
        "run {id} abandoned by {by}: {}. It was {}; live state keeps whatever it did (`relinker status {id}` shows each step), and its users are free for new runs.",
        args.reason,
        current.word()
    ));
    let left = run.summary().left_made();
    if !left.is_empty() {
        let names: Vec<String> = left.iter().map(|(_, made)| format!("`{made}`")).collect();
        say(&format!(
            "It leaves {} it made in place: a new run of a plan that creates it takes it over, and deletes it where the plan does (a temporary user at the end of the rename); a rollback of that run leaves it as it found it. To remove it now, delete it in the platform.",
            names.join(", ")
        ));
    }
    let asked = run.summary().left_asked();
    if !asked.is_empty() {
        let names: Vec<String> = asked.iter().map(|user| format!("`{user}`")).collect();
        say(&format!(
            "It asked for {} and never saw it made (an invitation may still wait to be accepted): if it is made later, a new run of a plan that creates it takes it over the same way.",
            names.join(", ")
        ));
    }
    Ok(Outcome::Success)
}
