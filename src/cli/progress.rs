//! How the executor's events look: a line each, above a progress bar on a terminal, plain lines
//! otherwise (logs, CI, pipes).

use std::io::IsTerminal;

use crate::executor::{Event, Held, Progress};
use crate::provider::Verification;

/// Progress lines, with a bar on a terminal.
pub(crate) struct Lines {
    bar: Option<indicatif::ProgressBar>,
    /// Starts every line when several runs share the output: `[run-id] `.
    label: String,
}

impl Lines {
    /// Progress over `total` steps, `done` of which are already done (a resumed run starts at
    /// its real position).
    pub(crate) fn new(total: usize, done: usize) -> Self {
        let bar = std::io::stdout().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX));
            bar.set_position(u64::try_from(done).unwrap_or(0));
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed}")
            {
                bar.set_style(style);
            }
            bar
        });
        Self {
            bar,
            label: String::new(),
        }
    }

    /// Plain lines starting with the run's id, for one of several runs going at once (bars
    /// of several runs would overwrite each other).
    pub(crate) fn labelled(run_id: &crate::ids::RunId) -> Self {
        Self {
            bar: None,
            label: format!("[{run_id}] "),
        }
    }

    fn line(&self, text: &str) {
        let text = format!("{}{text}", self.label);
        match &self.bar {
            Some(bar) => bar.println(super::output::printable(&text)),
            None => super::output::say(&text),
        }
    }
}

impl Progress for Lines {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::Acting {
                step,
                description,
                attempt,
                undo,
            } => {
                let prefix = if undo { "undo-" } else { "" };
                let again = if attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.line(&format!("  → {prefix}{}: {description}{again}", step.id));
            }
            Event::Held { step, how } => {
                let note = match how {
                    Held::Verified => ": verified",
                    Held::Changed => "",
                    Held::AlreadyDone => ": already done",
                    Held::ConfirmedAfterInterruption => {
                        ": done (confirmed after an interruption)"
                    }
                    Held::PersonDid(Verification::Observed) => ": done (seen through the API)",
                    Held::PersonDid(Verification::CheckedByCommand) => {
                        ": done (its check command passes)"
                    }
                    Held::PersonDid(Verification::Attested) => ": attested, not verified",
                };
                self.line(&format!("  ✓ {step}{note}"));
            }
            Event::Skipped { step, reason } => self.line(&format!("  - {step}: skipped: {reason}")),
            Event::Blocked { step, reason } => {
                self.line(&format!("    {step}: waits for a person: {reason}"));
            }
            Event::AnswerLost { step, error } => self.line(&format!(
                "    {step}: answer lost or unclear ({error}); reading live state to see whether it took effect"
            )),
            Event::NotApplied { step, attempt, wait } => self.line(&format!(
                "    {step}: live state shows attempt {attempt} did not take effect; sending it again in {:.1} s",
                wait.as_secs_f64()
            )),
            Event::PersonNeeded { steps, undo } => {
                let why = if undo { " to roll back" } else { "" };
                if steps.len() > 1 {
                    self.line(&format!(
                        "    a person must do these {} steps{why} in the platform's UI, in one sitting:",
                        steps.len()
                    ));
                }
                for (step, action) in steps {
                    self.line(&format!("    manual{why} ({step}): {}", action.summary));
                    for line in &action.steps {
                        self.line(&format!("      - {line}"));
                    }
                }
            }
            Event::PersonPlayed { count } => self.line(&format!(
                "    (the sandbox operator did {}, as a person would in the UI)",
                if count == 1 { "it" } else { "them" }
            )),
            Event::Waiting { enter, attest, run } => {
                self.line(if enter {
                    "    waiting; press Enter to check again now (it is also checked every 2 s)"
                } else {
                    "    waiting (checked every 2 s)"
                });
                if !attest.is_empty() {
                    let how = if enter {
                        "type `done` and Enter here once you have done them (recorded as attested by you), or "
                    } else {
                        ""
                    };
                    self.line(&format!(
                        "    nothing can observe {}: {how}confirm each with `relinker attest {run} STEP --by NAME`",
                        attest.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            Event::Failed { step, error } => self.line(&format!("  ✗ {step}: {error}")),
            Event::RollbackStarted => self.line("rolling back"),
            Event::Undone {
                step,
                nothing_to_undo,
            } => self.line(&if nothing_to_undo {
                format!("  ↺ {step}: nothing to undo (live state already shows it undone)")
            } else {
                format!("  ↺ {step}: undone")
            }),
            Event::Kept { rotation, pivot } => self.line(&format!(
                "  = rotations[{rotation}] is past its pivot (`{pivot}` passed): it is kept, not rolled back"
            )),
        }
    }

    fn advance(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
