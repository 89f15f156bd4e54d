//! `relinker attest RUN STEP --by NAME [--note TEXT]`: a person confirms a step nothing can
//! observe was done (or, while the run rolls back, that its undo was). The attestation is
//! recorded beside the run's journal, with who and when, and the run picks it up at its next
//! check; the step is always shown as attested, never as verified.

use anyhow::anyhow;
use chrono::Utc;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::ids::{RunId, StepId};
use crate::journal::{Attestation, StepState};
use crate::provider::Verification;

/// Options of `relinker attest`.
#[derive(Debug, Args)]
pub struct AttestArgs {
    /// The run.
    #[arg(value_name = "RUN_ID")]
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
    let id = &args.run_id;
    let summary = state.summary(id).map_err(journal_failure)?;
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
    let op = if undo {
        step.action
            .compensation()
            .ok_or_else(|| anyhow!("run {id} is rolling back, and nothing undoes `{step_id}`"))
            .or_invalid_input()?
    } else {
        step.action.clone()
    };
    if op.verification() != Verification::Attested {
        return Err(anyhow!(
            "`{step_id}` is checked by relinker itself ({}); it needs no attestation: once it is done, `relinker resume {id}` sees it",
            match op.verification() {
                Verification::CheckedByCommand => "by its check command",
                _ => "through the API",
            }
        ))
        .or_invalid_input();
    }
    let done = match summary.record(&step_id) {
        StepState::Undone => undo,
        other => !undo && other.is_complete(),
    };
    if done || summary.attestation(&step_id, undo).is_some() {
        say(&format!("`{step_id}` is already done; nothing to record."));
        return Ok(Outcome::Success);
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
                at: Utc::now(),
                step: step_id.clone(),
                undo,
                by: args.by.trim().to_owned(),
                note: args.note.clone(),
            },
        )
        .map_err(journal_failure)?;
    let what = if undo { "undo of " } else { "" };
    say(&format!(
        "recorded: the {what}`{step_id}` attested by {} (attested, not verified: nothing can observe it). A run waiting at a terminal sees it within seconds; otherwise continue with `relinker {} {id}`.",
        args.by.trim(),
        if undo { "rollback" } else { "resume" }
    ));
    Ok(Outcome::Success)
}
