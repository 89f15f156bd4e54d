//! `relinker status [RUN_ID] [--format text|json]`: runs and the state of each step.

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use serde_json::json;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{StateArgs, say};
use crate::journal::{self, RunSummary, replay, runs_dir};

/// Output format of `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum StatusFormat {
    /// For people.
    #[default]
    Text,
    /// For machines.
    Json,
}

/// Options of `relinker status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One run; every run when absent.
    #[arg(value_name = "RUN_ID")]
    run_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    format: StatusFormat,
    #[command(flatten)]
    state: StateArgs,
}

fn summary(args: &StatusArgs, id: &str) -> Result<RunSummary, Failure> {
    let path = runs_dir(&args.state.state_dir)
        .join(id)
        .join("journal.jsonl");
    if !path.is_file() {
        return Err(anyhow!(
            "no run `{id}` in `{}`",
            args.state.state_dir.display()
        ))
        .or_invalid_input();
    }
    // Reading needs no lock: records are whole lines, and a torn last one is ignored.
    Ok(replay(&journal::read_journal(&path).or_failed()?.entries))
}

/// Prints runs (or one run's steps).
pub fn run(args: &StatusArgs) -> Result<Outcome, Failure> {
    let ids = match &args.run_id {
        Some(id) => vec![id.clone()],
        None => journal::list_runs(&args.state.state_dir).or_failed()?,
    };
    let mut runs = Vec::new();
    for id in &ids {
        runs.push((id.clone(), summary(args, id)?));
    }
    match args.format {
        StatusFormat::Json => {
            let value: Vec<_> = runs
                .iter()
                .map(|(id, run)| {
                    json!({
                        "run_id": id,
                        "plan": run.plan,
                        "status": run.status(),
                        "waiting_for": run.waiting_for,
                        "failure": run.failure,
                        "rollback_incomplete": run.rollback_incomplete,
                        "steps": run.steps.iter().map(|s| json!({"id": s.id, "state": run.record(&s.id), "description": s.action.describe()})).collect::<Vec<_>>(),
                    })
                })
                .collect();
            say(&serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        StatusFormat::Text if args.run_id.is_none() => {
            if runs.is_empty() {
                say(&format!("no runs in `{}`", args.state.state_dir.display()));
            }
            for (id, run) in &runs {
                let done = run
                    .steps
                    .iter()
                    .filter(|s| {
                        matches!(
                            run.record(&s.id),
                            journal::StepRecord::Applied | journal::StepRecord::AlreadySatisfied
                        )
                    })
                    .count();
                say(&format!(
                    "{id}  {:<20} {done}/{} steps  {}",
                    run.status(),
                    run.steps.len(),
                    run.waiting_for
                        .as_deref()
                        .map(|w| format!("waiting for a person to {w}"))
                        .unwrap_or_default()
                ));
            }
        }
        StatusFormat::Text => {
            for (id, run) in &runs {
                say(&format!(
                    "run {id}: {} (plan `{}` against {})",
                    run.status(),
                    run.plan,
                    run.instance
                ));
                for step in &run.steps {
                    let state = serde_json::to_value(run.record(&step.id))
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    say(&format!(
                        "  {:<16} {:<44} {}",
                        state,
                        step.id,
                        step.action.describe()
                    ));
                }
                for note in [&run.waiting_for, &run.failure, &run.rollback_incomplete]
                    .into_iter()
                    .flatten()
                {
                    say(&format!("  note: {note}"));
                }
            }
        }
    }
    Ok(Outcome::Success)
}
