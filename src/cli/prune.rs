//! `relinker prune --older-than DURATION [--dry-run]`: removes finished runs (done, rolled back
//! or abandoned, and rehearsals, whose sandbox ended with them) whose last activity is older
//! than the duration. An unfinished run is never removed, however old: it is the only record
//! of what it changed.

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::journal::Pruned;
use crate::limits::parse_duration;

/// Options of `relinker prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove finished runs last active longer ago than this: `90d`, `12h`, `30m`.
    #[arg(long, value_name = "DURATION")]
    older_than: String,
    /// List what would be removed; remove nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    state: StateArgs,
}

/// Removes the old finished runs and says which.
pub fn run(args: &PruneArgs) -> Result<Outcome, Failure> {
    let age = parse_duration(&args.older_than)
        .and_then(|age| chrono::Duration::from_std(age).ok())
        .ok_or_else(|| {
            anyhow!(
                "--older-than: `{}` is not a duration such as `90d`, `12h` or `30m`",
                args.older_than
            )
        })
        .or_invalid_input()?;
    let cutoff = chrono::Utc::now() - age;
    let state = args.state.existing()?;
    let mut removed = 0;
    let mut unfinished = 0;
    for id in state.run_ids().map_err(journal_failure)? {
        let summary = state.summary(&id).map_err(journal_failure)?;
        let old = summary.last_activity().is_some_and(|at| at < cutoff);
        if !summary.is_over() {
            unfinished += 1;
            continue;
        }
        if !old {
            continue;
        }
        if args.dry_run {
            say(&format!(
                "would remove run {id} ({})",
                summary.state().word()
            ));
            removed += 1;
            continue;
        }
        match state.prune(&id, cutoff).map_err(journal_failure)? {
            Pruned::Removed => {
                say(&format!("removed run {id} ({})", summary.state().word()));
                removed += 1;
            }
            Pruned::Active => say(&format!("kept run {id}: a process works on it now")),
            Pruned::Unfinished | Pruned::Recent => {}
        }
    }
    let verb = if args.dry_run {
        "would remove"
    } else {
        "removed"
    };
    say(&format!(
        "{verb} {removed} finished run(s) older than {}; kept {unfinished} unfinished run(s), which are never pruned.",
        args.older_than
    ));
    Ok(Outcome::Success)
}
