//! `--notify`: where a command tells people how each run ended, and the notice each ending
//! makes (see [`crate::notify`]).

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};
use crate::executor::{RollbackOutcome, RunOutcome};
use crate::ids::RunId;
use crate::journal::Waiting;
use crate::notify::{Notice, PendingStep, RunEvent, Webhook};
use crate::plan::SecretRef;
use crate::secret::Secret;

/// Arguments of the commands that run: where to send notifications.
#[derive(Debug, Args)]
pub struct NotifyArgs {
    /// Post a JSON message (Slack-compatible `text`, and structured fields) when a run pauses
    /// for a person, fails, rolls back or finishes. A webhook URL is a secret: give a
    /// reference, `${env:NAME}` or `${file:PATH}`, rather than the URL. A notification that
    /// cannot be sent is a warning; it never fails the run.
    #[arg(
        long,
        value_name = "URL",
        env = "RELINKER_NOTIFY",
        hide_env_values = true
    )]
    notify: Option<String>,
    /// A run still paused at the same steps is told again only after this long (a reminder);
    /// a scheduled `resume --all` that finds nothing changed posts nothing. `0s` tells every
    /// time.
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = super::run::duration,
        default_value = "24h",
        env = "RELINKER_NOTIFY_REMINDER"
    )]
    notify_reminder: std::time::Duration,
}

impl NotifyArgs {
    /// The webhook, read before anything runs so that a missing secret stops the command
    /// (exit 2) rather than a notification later.
    pub(crate) fn webhook(&self) -> Result<Option<Webhook>, Failure> {
        let Some(value) = &self.notify else {
            return Ok(None);
        };
        let url = if SecretRef::looks_like_reference(value) {
            let reference = SecretRef::parse(value)
                .ok_or_else(|| {
                    anyhow!("--notify: `{value}` is not `${{env:NAME}}`, `${{file:PATH}}` or `${{store:STORE/PATH#KEY}}`")
                })
                .or_invalid_input()?;
            let cwd = std::env::current_dir().unwrap_or_default();
            reference
                .resolve(&cwd)
                .map_err(|error| anyhow!("--notify: {error}"))
                .or_invalid_input()?
        } else {
            Secret::new(value.clone())
        };
        Webhook::new(url)
            .map(Some)
            .map_err(|error| anyhow!("--notify: {error}"))
            .or_invalid_input()
    }
}

/// The webhook for a run of `plan`: `--notify`'s when given (`flag`), else the plan's
/// `notify:`. A `--sandbox` rehearsal never uses the plan's: it must not tell the team about
/// a run that changed nothing real.
pub(crate) fn for_plan(
    flag: Option<&Webhook>,
    plan: &crate::plan::Plan,
    sandbox: bool,
) -> Result<Option<Webhook>, Failure> {
    if let Some(webhook) = flag {
        return Ok(Some(webhook.clone()));
    }
    let Some(reference) = plan.notify.as_ref().filter(|_| !sandbox) else {
        return Ok(None);
    };
    let url = reference
        .resolve(&plan.base_dir)
        .map_err(|error| anyhow!("plan `{}`: notify: {error}", plan.name))
        .or_invalid_input()?;
    Webhook::new(url)
        .map(Some)
        .map_err(|error| anyhow!("plan `{}`: notify: {error}", plan.name))
        .or_invalid_input()
}

/// Where a run's notice goes out from: the run, its plan and instance.
pub(crate) struct About<'a> {
    pub(crate) run: &'a RunId,
    pub(crate) plan: &'a str,
    pub(crate) instance: &'a str,
}

/// Tells `webhook`, if any, how the run `about` ended (a failure to is a warning, never the
/// run's), unless the run's last
/// notice said the same less than `reminder` ago; a notice that went out is recorded in the
/// run's journal.
pub(crate) async fn tell(
    webhook: Option<&Webhook>,
    run: &mut crate::journal::Run,
    about: &About<'_>,
    outcome: &RunOutcome,
    exit: Outcome,
    reminder: std::time::Duration,
) {
    let Some(webhook) = webhook else {
        return;
    };
    let notice = notice(about, outcome, exit);
    let said = notice.about();
    if let Some((last, at)) = run.summary().last_notice()
        && last == said
        && chrono::Utc::now()
            .signed_duration_since(at)
            .to_std()
            .unwrap_or_default()
            < reminder
    {
        super::output::say(&format!(
            "run {}: nothing changed since the notice of {}; not told again before the reminder (--notify-reminder {})",
            notice.run,
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            crate::limits::format_duration(reminder)
        ));
        return;
    }
    if let Err(error) = webhook.send(&notice).await {
        super::output::warn(&format!(
            "warning: run {}: {error}; the run is not affected",
            notice.run
        ));
        return;
    }
    if let Err(error) = run.append(crate::journal::Entry::Notified { about: said }) {
        super::output::warn(&format!(
            "warning: run {}: the notice went out, and could not be recorded ({error}): the next resume may tell it again",
            notice.run
        ));
    }
}

impl NotifyArgs {
    /// How long a run paused at the same steps goes before it is told again.
    pub(crate) fn reminder(&self) -> std::time::Duration {
        self.notify_reminder
    }
}

/// The notice for how a run ended, with the exit code the command gives it.
pub(crate) fn notice(about: &About<'_>, outcome: &RunOutcome, exit: Outcome) -> Notice {
    let run = about.run;
    let mut notice = Notice {
        event: RunEvent::Finished,
        run: run.clone(),
        plan: about.plan.to_owned(),
        instance: about.instance.to_owned(),
        exit_code: exit.code(),
        pending: Vec::new(),
        next: None,
        reason: None,
        rolling_back: false,
    };
    match outcome {
        RunOutcome::Finished => {}
        RunOutcome::Paused { waiting } => {
            notice.event = RunEvent::Paused;
            notice.pending = pending(waiting);
            notice.next = Some(format!("relinker resume {run}"));
        }
        RunOutcome::Failed {
            step,
            error,
            rollback,
        } => {
            notice.event = RunEvent::Failed;
            let then = rolled_back(&mut notice, rollback);
            notice.reason = Some(format!("failed at `{step}`: {error}{then}"));
        }
        RunOutcome::RolledBack(rollback) => {
            notice.event = RunEvent::RolledBack;
            notice.rolling_back = true;
            let then = rolled_back(&mut notice, rollback);
            match rollback {
                // The headline says the rollback waits, and for which steps.
                RollbackOutcome::Paused { .. } => notice.event = RunEvent::Paused,
                _ if !then.is_empty() => {
                    notice.event = RunEvent::Failed;
                    notice.reason = Some(then.trim_start_matches("; ").to_owned());
                }
                _ => {}
            }
        }
    }
    notice
}

/// Fills in what a rollback left to do; the words that follow the reason.
fn rolled_back(notice: &mut Notice, rollback: &RollbackOutcome) -> String {
    let run = &notice.run;
    match rollback {
        RollbackOutcome::Complete { .. } => {
            if notice.event == RunEvent::Failed {
                "; everything it changed was rolled back".into()
            } else {
                String::new()
            }
        }
        RollbackOutcome::Paused { waiting } => {
            notice.pending = pending(waiting);
            notice.next = Some(format!("relinker rollback {run}"));
            "; its rollback waits for a person".into()
        }
        RollbackOutcome::Incomplete(reason) => format!("; rollback incomplete: {reason}"),
        RollbackOutcome::NotAttempted | RollbackOutcome::PastPivot => {
            notice.next = Some(format!("relinker resume {run}"));
            "; nothing was rolled back".into()
        }
    }
}

fn pending(waiting: &[Waiting]) -> Vec<PendingStep> {
    waiting
        .iter()
        .map(|wait| PendingStep {
            step: wait.step.clone(),
            action: wait.waiting_for.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::StepId;

    #[test]
    fn a_paused_rollback_says_so_once_and_names_the_command_that_goes_on() {
        let run = RunId::parse("acme-20261204-1").unwrap();
        let about = About {
            run: &run,
            plan: "acme",
            instance: "https://x.mktorest.com",
        };
        let waiting = vec![Waiting {
            step: StepId::new("r0-link-crm"),
            waiting_for: "link service `crm` to `jane@x.test`".into(),
            since: None,
            cannot_tell: false,
        }];
        let outcome = RunOutcome::RolledBack(RollbackOutcome::Paused { waiting });
        let notice = notice(&about, &outcome, Outcome::Paused);
        let text = notice.text();
        assert!(
            text.starts_with(
                "relinker: run `acme-20261204-1` (plan `acme`): its rollback waits for a person to do 1 step"
            ),
            "{text}"
        );
        assert_eq!(text.matches("rollback").count(), 2, "{text}");
        assert!(
            text.ends_with("Then: `relinker rollback acme-20261204-1`"),
            "{text}"
        );
        assert_eq!(notice.body()["relinker"]["rolling_back"], true);
    }
}
