//! `relinker status [RUN_ID] [--format text|json]`: runs, newest first, with their state, their
//! times and the next command; or one run's steps.

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, ValueEnum};
use serde_json::{Value, json};

use super::exit::{Failure, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::ids::RunId;
use crate::journal::{Attestation, Direction, RunState, RunSummary, StateStore, StepState};
use crate::provider::{Step, Verification};

/// Who attested a step (or its undo) that nothing can observe, if anyone did: shown as
/// "attested, not verified", never as verified.
fn attested<'a>(summary: &'a RunSummary, step: &Step) -> Option<&'a Attestation> {
    let undone = summary.record(&step.id) == StepState::Undone;
    let action = if undone {
        step.action.compensation()?
    } else {
        step.action.clone()
    };
    if action.verification() != Verification::Attested {
        return None;
    }
    summary.attestation(&step.id, undone)
}

/// An attestation in words.
fn attestation_words(attestation: &Attestation) -> String {
    let note = attestation
        .note
        .as_deref()
        .map(|n| format!(" (\"{}\")", n.escape_debug()))
        .unwrap_or_default();
    format!(
        "attested by {} at {}, not verified{note}",
        attestation.by.escape_debug(),
        timestamp(attestation.at)
    )
}

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
    #[command(flatten)]
    run: super::which::RunChoice,
    /// Output format.
    #[arg(long, value_enum, default_value_t = StatusFormat::Text)]
    format: StatusFormat,
    #[command(flatten)]
    state: StateArgs,
}

/// One run as `status` shows it.
struct Shown {
    id: RunId,
    summary: RunSummary,
    /// A process holds the run's lock now.
    active: bool,
}

impl Shown {
    /// The state in a word or two; a run going forward that no process works on is
    /// "interrupted".
    fn word(&self) -> &'static str {
        let state = self.summary.state();
        // A rehearsal stopped short: its embedded sandbox ended with its process, so there is
        // nothing to go on with, and nothing real it claims.
        if self.summary.sandbox() && !state.is_settled() && !self.active {
            return "rehearsal ended";
        }
        state.word_when(self.active)
    }

    /// What a person runs next, if anything.
    fn next(&self) -> Option<String> {
        let id = &self.id;
        if self.active {
            return Some("wait: a relinker process is working on it".into());
        }
        if self.summary.sandbox() && !self.summary.state().is_settled() {
            return Some(
                "nothing: a rehearsal's sandbox ended with its process (`relinker prune` removes it)"
                    .into(),
            );
        }
        Some(match self.summary.state() {
            RunState::NeverStarted
            | RunState::Done
            | RunState::RolledBack
            | RunState::Abandoned { .. } => return None,
            RunState::Running => format!("relinker resume {id}"),
            RunState::Paused {
                direction: Direction::Forward,
                ..
            } => format!(
                "once a person has done the manual steps: relinker resume {id} (or undo the run: relinker rollback {id})"
            ),
            RunState::Paused {
                direction: Direction::Rollback,
                ..
            } => format!("once a person has done the manual steps: relinker rollback {id}"),
            RunState::Failed {
                past_pivot: true, ..
            } => format!(
                "fix the cause, then relinker resume {id} (the rotation is verified and only rolls forward)"
            ),
            RunState::Failed { .. } => format!(
                "fix the cause, then relinker resume {id}; or undo it: relinker rollback {id}"
            ),
            RunState::RollingBack | RunState::RollbackIncomplete { .. } => {
                format!("relinker rollback {id}")
            }
        })
    }

    /// The note after a run's line: what it waits for, or why it stopped.
    fn note(&self) -> Option<String> {
        match self.summary.state() {
            RunState::Paused { waiting, .. } => Some(format!(
                "waiting for a person: {}",
                waiting
                    .iter()
                    .map(|w| w.waiting_for.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            )),
            RunState::Failed { step, error, .. } => Some(format!("failed at `{step}`: {error}")),
            RunState::RollbackIncomplete { reason } => Some(reason),
            RunState::Abandoned { by, reason } => Some(format!("abandoned by {by}: {reason}")),
            _ => None,
        }
    }

    fn json(&self) -> Value {
        let summary = &self.summary;
        let state = summary.state();
        let (waiting, failure, rollback_incomplete, abandoned) = match &state {
            RunState::Paused { waiting, .. } => {
                (json!(waiting), Value::Null, Value::Null, Value::Null)
            }
            RunState::Failed {
                step,
                error,
                past_pivot,
            } => (
                json!([]),
                json!({"step": step, "error": error, "past_pivot": past_pivot}),
                Value::Null,
                Value::Null,
            ),
            RunState::RollbackIncomplete { reason } => {
                (json!([]), Value::Null, json!(reason), Value::Null)
            }
            RunState::Abandoned { by, reason } => (
                json!([]),
                Value::Null,
                Value::Null,
                json!({"by": by, "reason": reason}),
            ),
            _ => (json!([]), Value::Null, Value::Null, Value::Null),
        };
        json!({
            "run_id": self.id,
            "plan": summary.plan(),
            "instance": summary.instance(),
            "status": self.word(),
            "active": self.active,
            "rehearsal": summary.sandbox(),
            "started_at": summary.started_at().map(timestamp),
            "started_by": summary.origin(),
            "last_activity_at": summary.last_activity().map(timestamp),
            "paused_since": summary.paused_since().map(timestamp),
            "waiting": waiting,
            "failure": failure,
            "rollback_incomplete": rollback_incomplete,
            "abandoned": abandoned,
            "next": self.next(),
            "steps": summary.steps().iter().map(|s| json!({
                "id": s.id,
                "state": summary.record(&s.id),
                "verification": crate::cli::render::verification_word(s),
                "attested": attested(summary, s).map(|a| json!({
                    "by": a.by, "at": timestamp(a.at), "note": a.note,
                })),
                "description": s.action.describe(),
            })).collect::<Vec<_>>(),
        })
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn shown_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".into(), timestamp)
}

/// One run as `status --format json` shows it.
pub(crate) fn json_of(state: &StateStore, id: &RunId) -> Result<Value, Failure> {
    Ok(load(state, id)?.json())
}

fn load(state: &StateStore, id: &RunId) -> Result<Shown, Failure> {
    Ok(Shown {
        summary: state.summary(id).map_err(journal_failure)?,
        active: state.is_active(id).map_err(journal_failure)?,
        id: id.clone(),
    })
}

/// Prints runs (or one run's steps).
pub fn run(args: &StatusArgs) -> Result<Outcome, Failure> {
    let state = args.state.existing()?;
    let ids = match args.run.resolve(&state)? {
        Some(id) => vec![id],
        None => state.run_ids().map_err(journal_failure)?,
    };
    let mut runs = ids
        .iter()
        .map(|id| load(&state, id))
        .collect::<Result<Vec<_>, _>>()?;
    runs.sort_by(|a, b| (b.summary.started_at(), &b.id).cmp(&(a.summary.started_at(), &a.id)));
    match args.format {
        StatusFormat::Json => {
            let value: Vec<Value> = runs.iter().map(Shown::json).collect();
            say(&serde_json::to_string_pretty(&value).unwrap_or_default());
        }
        StatusFormat::Text if !args.run.is_given() => list(&runs, &state),
        StatusFormat::Text => runs.iter().for_each(details),
    }
    Ok(Outcome::Success)
}

fn list(runs: &[Shown], state: &StateStore) {
    if runs.is_empty() {
        say(&format!("no runs in {}", state.location()));
        return;
    }
    let id_width = runs
        .iter()
        .map(|r| r.id.as_str().len())
        .max()
        .unwrap_or(0)
        .max(3);
    let word_width = runs
        .iter()
        .map(|r| r.word().len())
        .max()
        .unwrap_or(0)
        .max(5);
    say(&format!(
        "{:<id_width$}  {:<word_width$}  {:>7}  {:<20}  {:<20}  {:<20}  NOTE",
        "RUN", "STATE", "STEPS", "STARTED", "LAST ACTIVITY", "PAUSED SINCE"
    ));
    for run in runs {
        let steps = format!(
            "{}/{}",
            run.summary.complete_steps(),
            run.summary.steps().len()
        );
        say(&format!(
            "{:<id_width$}  {:<word_width$}  {steps:>7}  {:<20}  {:<20}  {:<20}  {}",
            run.id.as_str(),
            run.word(),
            shown_time(run.summary.started_at()),
            shown_time(run.summary.last_activity()),
            shown_time(run.summary.paused_since()),
            run.note().unwrap_or_default()
        ));
    }
}

fn details(run: &Shown) {
    let summary = &run.summary;
    say(&format!(
        "run {}: {} (plan `{}` against {})",
        run.id,
        run.word(),
        summary.plan(),
        summary.instance()
    ));
    let by = summary
        .origin()
        .map(|origin| format!(" by {origin}"))
        .unwrap_or_default();
    say(&format!(
        "  started        {}{by}",
        shown_time(summary.started_at())
    ));
    say(&format!(
        "  last activity  {}",
        shown_time(summary.last_activity())
    ));
    if let Some(since) = summary.paused_since() {
        say(&format!("  paused since   {}", timestamp(since)));
    }
    let width = summary
        .steps()
        .iter()
        .map(|s| s.id.as_str().len())
        .max()
        .unwrap_or(0);
    for step in summary.steps() {
        say(&format!(
            "  {:<24} {:<width$}  {}",
            summary.record(&step.id).word(),
            step.id.as_str(),
            step.action.describe()
        ));
        if let Some(attestation) = attested(summary, step) {
            say(&format!(
                "  {:<24} {:<width$}  {}",
                "",
                "",
                attestation_words(attestation)
            ));
        }
    }
    if let RunState::Paused { waiting, .. } = summary.state() {
        say("  waiting for a person to:");
        for wait in waiting {
            say(&format!("    - {}: {}", wait.step, wait.waiting_for));
        }
    } else if let Some(note) = run.note() {
        say(&format!("  note: {note}"));
    }
    if let Some(next) = run.next() {
        say(&format!("  next: {next}"));
    }
}
