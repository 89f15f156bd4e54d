//! `relinker export RUN [--out FILE]`: one run's whole record, self-contained, for an auditor
//! (and before `prune` removes it): who started it and where, the plan it ran (its text and
//! digest), every journal record with its time (steps, evidence, attestations, the rollback),
//! and its state as `status` shows it. Read only after the journal's chain and the kept plan
//! verify, so what is exported is what relinker wrote. It holds no secret: journals never do.

use std::path::PathBuf;

use chrono::{SecondsFormat, Utc};
use clap::Args;
use serde_json::json;

use super::exit::{Failure, OrExit, Outcome};
use super::run::{StateArgs, journal_failure, say};
use crate::journal::{Chained, replay};

/// Version of the export's format.
const EXPORT_FORMAT_VERSION: u32 = 1;

/// Options of `relinker export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    run: super::which::OneRun,
    /// Write the record to this file (0600, written whole or not at all) instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    state: StateArgs,
}

/// Exports one run.
pub fn run(args: &ExportArgs) -> Result<Outcome, Failure> {
    if let Some(problem) = args
        .out
        .as_deref()
        .and_then(crate::paths::output_file_problem)
    {
        return Err(anyhow::anyhow!("--out: {problem}")).or_invalid_input();
    }
    let state = args.state.existing()?;
    let id = args.run.resolve(&state)?;
    let (contents, chained) = state.verified(&id).map_err(journal_failure)?;
    let summary = replay(&contents.records);
    let started = summary
        .started()
        .ok_or_else(|| {
            anyhow::anyhow!("run {id} never started: its journal has no `started` record")
        })
        .or_failed()?;
    let plan = state.verified_plan(&id, started).map_err(journal_failure)?;
    let document = json!({
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "run_id": id,
        "state_store": state.location(),
        "journal_chain": match chained {
            Chained::Linked => "verified: every record linked to the one before it",
            Chained::Unlinked => "unverified: written before records were linked",
        },
        "started_by": started.origin,
        "status": super::status::json_of(&state, &id)?,
        "plan": {
            "name": started.plan,
            "sha256": started.plan_sha256,
            "text": String::from_utf8_lossy(&plan),
        },
        "journal": contents.records,
        "torn_tail": contents.torn_tail,
    });
    let mut text = serde_json::to_string_pretty(&document)
        .map_err(anyhow::Error::from)
        .or_failed()?;
    text.push('\n');
    match &args.out {
        Some(out) => {
            crate::paths::write_atomically(out, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write `{}`: {e}", out.display()))
                .or_failed()?;
            say(&format!("run {id} exported to {}", out.display()));
        }
        None => super::output::show(&text),
    }
    Ok(Outcome::Success)
}
