//! `relinker state migrate --from DIR --to URL`: moves the runs of a local state directory
//! (finished and unfinished) into a PostgreSQL store, every record and attestation with them.
//!
//! Each run is copied under its run lock in both stores, so a run a process works on is left
//! for later (exit 3 at the end), and a second migration copies only what the first did not.
//! The directory is left as it was: once every runner uses the database, remove it.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::exit::{Failure, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::journal::{Copied, StateStore};

/// Options of `relinker state`.
#[derive(Debug, Args)]
pub struct StateCommandArgs {
    #[command(subcommand)]
    command: StateCommand,
}

#[derive(Debug, Subcommand)]
enum StateCommand {
    /// Copy every run of a state directory into a PostgreSQL store, records and all.
    Migrate(MigrateArgs),
}

/// Options of `relinker state migrate`.
#[derive(Debug, Args)]
struct MigrateArgs {
    /// The state directory the runs are in now.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The PostgreSQL store to copy them into: a URL or a reference to one (`${env:NAME}`).
    #[arg(long, value_name = "URL")]
    to: String,
    /// Give up on the database after this long on any one call (exit 1).
    #[arg(long, value_name = "DURATION", value_parser = super::run::duration, default_value = "20s", env = "RELINKER_STATE_WAIT")]
    state_wait: std::time::Duration,
}

/// Runs a `state` subcommand.
pub fn run(args: &StateCommandArgs) -> Result<Outcome, Failure> {
    match &args.command {
        StateCommand::Migrate(args) => migrate(args),
    }
}

fn migrate(args: &MigrateArgs) -> Result<Outcome, Failure> {
    let from = StateStore::local_existing(&args.from).map_err(journal_failure)?;
    let to = StateArgs::database_only(&args.to, args.state_wait)?;
    let mut moved = 0;
    let mut unfinished = 0;
    let mut already = 0;
    let mut left = Vec::new();
    let mut differing = Vec::new();
    for id in from.run_ids().map_err(journal_failure)? {
        match from.copy_run(&id, &to).map_err(journal_failure)? {
            Copied::Copied => {
                let settled = to
                    .summary(&id)
                    .map_err(journal_failure)?
                    .state()
                    .is_settled();
                say(&format!(
                    "copied run {id}{}",
                    if settled { "" } else { " (unfinished)" }
                ));
                moved += 1;
                unfinished += usize::from(!settled);
            }
            Copied::AlreadyThere => already += 1,
            Copied::Active => {
                say(&format!(
                    "left run {id}: a process works on it now; migrate again once it stops"
                ));
                left.push(id);
            }
            Copied::Differs => {
                say(&format!(
                    "left run {id}: {} holds a different run of that id; nothing of it was changed",
                    to.location()
                ));
                differing.push(id);
            }
        }
    }
    say(&format!(
        "copied {moved} run(s) ({unfinished} unfinished) from {} to {}; {already} were there already. {} is left as it was: remove it once every runner uses the database.",
        from.location(),
        to.location(),
        from.location()
    ));
    if !differing.is_empty() {
        return Err(Failure {
            outcome: Outcome::Failed,
            error: anyhow!(
                "{} run(s) differ between the two stores and were not copied: {}",
                differing.len(),
                differing
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    }
    if !left.is_empty() {
        return Ok(Outcome::Locked);
    }
    Ok(Outcome::Success)
}
