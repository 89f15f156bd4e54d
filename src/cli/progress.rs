//! How the executor's events look: a line each, above a progress bar on a terminal, plain lines
//! otherwise (logs, CI, pipes). While a person is awaited, a terminal shows a spinner with the
//! time waited and what the last look saw; plain output says what it saw when that changes.

use std::io::IsTerminal;
use std::sync::Mutex;

use crate::executor::{Event, Held, Progress};
use crate::ids::StepId;
use crate::provider::Verification;
use crate::sync::lock;

/// Progress lines, with bars on a terminal.
pub(crate) struct Lines {
    screen: Option<Screen>,
    /// Starts every line when several runs share the output: `[run-id] `.
    label: String,
    /// What the last look at the awaited steps saw, so plain output says it once, not every
    /// two seconds.
    last_seen: Mutex<Vec<(StepId, String)>>,
}

/// A terminal's bars: the steps done, and a spinner while a person is awaited.
struct Screen {
    bars: indicatif::MultiProgress,
    steps: indicatif::ProgressBar,
    waiting: Mutex<Option<indicatif::ProgressBar>>,
}

impl Screen {
    /// The spinner, started now if it is not running.
    fn spinner(&self) -> indicatif::ProgressBar {
        let mut waiting = lock(&self.waiting);
        waiting
            .get_or_insert_with(|| {
                let spinner = self.bars.add(indicatif::ProgressBar::new_spinner());
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{spinner} waiting {elapsed} · {wide_msg}",
                ) {
                    spinner.set_style(style);
                }
                // It turns at each look (every 2 s, or when Enter is pressed), not on a timer:
                // each turn means relinker looked again.
                spinner
            })
            .clone()
    }

    /// Clears the spinner: nobody is awaited any more.
    fn stop_waiting(&self) {
        if let Some(spinner) = lock(&self.waiting).take() {
            spinner.finish_and_clear();
            self.bars.remove(&spinner);
        }
    }
}

impl Lines {
    /// Progress over `total` steps, `done` of which are already done (a resumed run starts at
    /// its real position).
    pub(crate) fn new(total: usize, done: usize) -> Self {
        let screen = std::io::stdout().is_terminal().then(|| {
            // The bars share stdout with the lines above them: one stream, one cursor.
            let bars =
                indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stdout());
            // Styled and placed before it is added, so its first drawing is already right.
            let mut steps = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX))
                .with_position(u64::try_from(done).unwrap_or(0));
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed}")
            {
                steps = steps.with_style(style);
            }
            let steps = bars.add(steps);
            // Its clock keeps going while nothing moves (a person is awaited): a clock stuck
            // at `0s` reads as a hung program.
            steps.enable_steady_tick(std::time::Duration::from_secs(1));
            // Shown from the start: a resumed run's bar says where it is before anything moves.
            steps.tick();
            Screen {
                bars,
                steps,
                waiting: Mutex::new(None),
            }
        });
        Self {
            screen,
            label: String::new(),
            last_seen: Mutex::new(Vec::new()),
        }
    }

    /// Plain lines starting with the run's id, for one of several runs going at once (bars
    /// of several runs would overwrite each other).
    pub(crate) fn labelled(run_id: &crate::ids::RunId) -> Self {
        Self {
            screen: None,
            label: format!("[{run_id}] "),
            last_seen: Mutex::new(Vec::new()),
        }
    }

    fn line(&self, text: &str) {
        let text = format!("{}{text}", self.label);
        match &self.screen {
            Some(screen) => {
                let _ = screen.bars.println(super::output::printable(&text));
            }
            None => super::output::say(&text),
        }
    }

    /// What a look at the awaited steps saw: the spinner's message on a terminal, a line
    /// otherwise when it differs from the last look's.
    fn looked(&self, seen: &[(StepId, String)]) {
        let at = chrono::Local::now().format("%H:%M:%S");
        let what: Vec<String> = seen
            .iter()
            .map(|(step, reason)| format!("{step}: {reason}"))
            .collect();
        if let Some(screen) = &self.screen {
            let spinner = screen.spinner();
            spinner.set_message(format!("last check {at} (every 2 s): {}", what.join("; ")));
            spinner.tick();
        } else {
            let mut last = lock(&self.last_seen);
            if *last != seen {
                *last = seen.to_vec();
                self.line(&format!("    still waiting: {}", what.join("; ")));
            }
        }
    }

    /// The person at the terminal pressed Enter (unechoed: see `tty`): say the look is now.
    fn entered(&self) {
        if let Some(screen) = &self.screen {
            screen.spinner().set_message("checking now");
        }
    }

    /// How relinker waits for a person, and how they confirm what nothing can observe.
    fn waiting(&self, enter: bool, attest: &[StepId], run: &crate::ids::RunId) {
        if let Some(screen) = &self.screen {
            screen.spinner().set_message("checking every 2 s");
        }
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
}

impl Progress for Lines {
    fn event(&self, event: Event<'_>) {
        if let Some(screen) = &self.screen
            && !matches!(
                event,
                Event::Looked { .. } | Event::Held { .. } | Event::Waiting { .. } | Event::Entered
            )
        {
            screen.stop_waiting();
        }
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
            Event::Held { step, how } => self.line(&format!("  ✓ {step}{}", held_note(how))),
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
            Event::PersonCouldNot { step, reason } => self.line(&format!(
                "    {step}: {reason}; it waits for a person"
            )),
            Event::PersonPlayed { count } => self.line(&format!(
                "    (the sandbox operator did {}, as a person would in the UI)",
                if count == 1 { "it" } else { "them" }
            )),
            Event::Looked { seen } => self.looked(seen),
            Event::Entered => self.entered(),
            Event::Waiting { enter, attest, run } => self.waiting(enter, attest, run),
            Event::CannotTellYet { step, reason, wait } => self.line(&format!(
                "    {step}: cannot tell yet ({reason}); asking again in {:.1} s",
                wait.as_secs_f64()
            )),
            Event::Undecided { step, reason } => {
                self.line(&format!("  ‖ {step}: cannot tell, so it waits: {reason}"));
            }
            Event::Reopened { step, reason } => self.line(&format!(
                "  ↩ {step}: no longer holds ({reason}); the run goes back to it"
            )),
            Event::Failed { step, error } => self.line(&format!("  ✗ {step}: {error}")),
            Event::RollbackStarted => self.line("rolling back"),
            Event::Undone {
                step,
                nothing_to_undo,
            } => self.line(&if nothing_to_undo {
                format!("  ↺ {step}: nothing to undo (live state shows nothing of the run's left to undo)")
            } else {
                format!("  ↺ {step}: undone")
            }),
            Event::Kept { rotation, pivot } => self.line(&format!(
                "  = rotations[{rotation}] is past its pivot (`{pivot}` passed): it is kept, not rolled back"
            )),
            Event::LeftInPlace { identity, left_by } => self.line(&format!(
                "  = `{identity}` stays: run {left_by} made it and was abandoned, and it was there when this run started (the next run of the plan takes it over and deletes it at its end)"
            )),
        }
    }

    fn advance(&self) {
        if let Some(screen) = &self.screen {
            screen.steps.inc(1);
        }
    }
}

impl Drop for Lines {
    /// Finished bars leave nothing behind: the lines above them are the record.
    fn drop(&mut self) {
        if let Some(screen) = &self.screen {
            screen.stop_waiting();
            screen.steps.finish_and_clear();
        }
    }
}

/// What follows a held step's name: how it is known to hold.
fn held_note(how: Held) -> &'static str {
    match how {
        Held::Verified => ": verified",
        Held::Changed => "",
        Held::AlreadyDone => ": already done",
        Held::ConfirmedAfterInterruption => ": done (confirmed after an interruption)",
        Held::TakenOver => {
            ": already there, left by an abandoned run: this run takes it over as its own"
        }
        Held::PersonDid(Verification::Observed) => ": done (seen through the API)",
        Held::PersonDid(Verification::CheckedByCommand) => ": done (its check command passes)",
        Held::PersonDid(Verification::Attested) => ": attested, not verified",
    }
}
