//! `relinker attest RUN STEP --by NAME [--note TEXT]`: a person confirms a step nothing can
//! observe was done (or, while the run rolls back, that its undo was). Only a step that is due
//! may be attested: one the run asked a person for and waits for now, in the phase it has
//! reached. The attestation is recorded beside the run's journal, once, with who and when and
//! the ask it answers, and the run picks it up at its next check; the step is always shown as
//! attested, never as verified.

use anyhow::anyhow;
use chrono::Utc;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::ids::{RunId, StepId};
use crate::journal::{Attestation, RunState, RunSummary, StateStore, StepState};
use crate::provider::{Performer, Verification};

/// Options of `relinker attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The run.
    #[arg(value_name = "RUN_ID", add = super::which::run_ids())]
    run_id: RunId,
    /// The step that was done (`relinker status RUN` lists them).
    #[arg(value_name = "STEP")]
    step: String,
    /// Who did it, or saw it done: recorded in the journal.
    #[arg(long, value_name = "NAME")]
    by: String,
    /// Anything worth recording with it.
    #[arg(long, value_name = "TEXT")]
    note: Option<String>,
    #[command(flatten)]
    state: StateArgs,
}

/// Records the attestation.
pub fn run(args: &AttestArgs) -> Result<Outcome, Failure> {
    let state = args.state.existing()?;
    let id = &super::which::find(&state, &args.run_id)?;
    // A person's word goes only to a run that is what relinker wrote.
    let summary = state.verified_summary(id).map_err(journal_failure)?;
    let step_id = StepId::new(args.step.clone());
    let Some(step) = summary.step(&step_id) else {
        let steps: Vec<&str> = summary.steps().iter().map(|s| s.id.as_str()).collect();
        return Err(anyhow!(
            "run {id} has no step `{}`; its steps are {}",
            args.step.escape_debug(),
            steps.join(", ")
        ))
        .or_invalid_input();
    };
    let current = summary.state();
    if current.is_settled() {
        return Err(anyhow!(
            "run {id} is {}; there is nothing left to attest",
            current.word()
        ))
        .or_invalid_input();
    }
    if args.by.trim().is_empty() {
        return Err(anyhow!("--by must name who did it")).or_invalid_input();
    }
    let undo = summary.rollback_decided();
    let op = attestable(id, &summary, step, undo)?;
    let done = match summary.record(&step_id) {
        StepState::Undone => undo,
        other => !undo && other.is_complete(),
    };
    if done {
        say(&format!("`{step_id}` is already done; nothing to record."));
        return Ok(Outcome::Success);
    }
    // One ask, one attestation: a second is the same word, not a new record.
    let asked = summary.asked_at(&step_id, undo);
    if let Some(earlier) = earlier(&state, id, &summary, &step_id, undo)? {
        say(&format!(
            "`{step_id}` is already attested by {} at {}; nothing more to record.",
            earlier.by,
            earlier
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
        return Ok(Outcome::Success);
    }
    let pending = state.attestations(id).map_err(journal_failure)?;
    if !summary.is_due(&step_id, undo, &pending) {
        return Err(anyhow!(
            "`{step_id}` is not due: {}",
            what_is_due(id, &summary, undo)
        ))
        .or_invalid_input();
    }
    if let Some(at) = op.not_before(&summary)
        && Utc::now() < at
    {
        return Err(anyhow!(
            "`{step_id}` may not be done before {} (its soak); attest it after that",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ))
        .or_invalid_input();
    }
    state
        .attest(
            id,
            &Attestation {
                at: crate::journal::now_ms(),
                step: step_id.clone(),
                undo,
                by: args.by.trim().to_owned(),
                note: args.note.clone(),
                asked,
                seal: None,
            },
        )
        .map_err(journal_failure)?;
    let what = if undo { "undo of " } else { "" };
    let why = if op.verification() == Verification::Attested {
        "nothing can observe it"
    } else {
        "it counts only while relinker cannot tell from live state; what it observes still comes first"
    };
    say(&format!(
        "recorded: the {what}`{step_id}` attested by {} (attested, not verified: {why}). A run waiting at a terminal sees it within seconds; otherwise continue with `relinker {} {id}`.",
        args.by.trim(),
        if undo { "rollback" } else { "resume" }
    ));
    Ok(Outcome::Success)
}

/// What a person may attest now, in words: the run attests only what it asked for and waits
/// for, once everything before it holds.
fn what_is_due(id: &RunId, summary: &RunSummary, undo: bool) -> String {
    let due: Vec<String> = summary
        .due(undo)
        .into_iter()
        .filter(|s| {
            let op = if undo {
                s.action.compensation()
            } else {
                Some(s.action.clone())
            };
            op.is_some_and(|op| {
                op.verification() == Verification::Attested
                    || (op.performer() == Performer::Person
                        && summary.waiting(&s.id).is_some_and(|w| w.cannot_tell))
            })
        })
        .map(|s| format!("`{}`", s.id))
        .collect();
    let waits: Vec<String> = match summary.state() {
        RunState::Paused { waiting, .. } => {
            waiting.iter().map(|w| format!("`{}`", w.step)).collect()
        }
        _ => Vec::new(),
    };
    let at = if waits.is_empty() {
        String::new()
    } else {
        format!("run {id} waits at {}; ", waits.join(", "))
    };
    if due.is_empty() {
        format!(
            "{at}nothing there is for a person to attest now (each step is attested once the run asks for it and everything before it holds)"
        )
    } else {
        format!("{at}what may be attested now: {}", due.join(", "))
    }
}

/// The attestation that already answers the step's current ask, in the journal or beside it.
fn earlier(
    state: &StateStore,
    id: &RunId,
    summary: &RunSummary,
    step: &StepId,
    undo: bool,
) -> Result<Option<Attestation>, Failure> {
    if let Some(attestation) = summary.attestation(step, undo) {
        return Ok(Some(attestation.clone()));
    }
    let asked = summary.asked_at(step, undo);
    Ok(state
        .attestations(id)
        .map_err(journal_failure)?
        .into_iter()
        .rev()
        .find(|a| a.step == *step && a.undo == undo && a.asked.is_some() && a.asked == asked))
}

/// What a person attests for `step` (itself, or its undo while the run rolls back), if it is a
/// thing a person's word can stand for: what nothing can observe, or a person's step whose
/// last look could not tell (a token older than the relink it should show). What relinker
/// observes is never replaced by a person's word.
fn attestable(
    id: &RunId,
    summary: &RunSummary,
    step: &crate::provider::Step,
    undo: bool,
) -> Result<crate::provider::Op, Failure> {
    let op = if undo {
        step.action
            .compensation()
            .ok_or_else(|| anyhow!("run {id} is rolling back, and nothing undoes `{}`", step.id))
            .or_invalid_input()?
    } else {
        step.action.clone()
    };
    let cannot_tell = op.performer() == Performer::Person
        && summary.waiting(&step.id).is_some_and(|w| w.cannot_tell);
    if op.verification() != Verification::Attested && !cannot_tell {
        return Err(anyhow!(
            "`{}` is checked by relinker itself ({}); it needs no attestation: once it is done, `relinker {} {id}` sees it",
            step.id,
            match op.verification() {
                Verification::CheckedByCommand => "by its check command",
                _ => "through the API",
            },
            if undo { "rollback" } else { "resume" }
        ))
        .or_invalid_input();
    }
    Ok(op)
}
