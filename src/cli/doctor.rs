//! `relinker doctor PLAN`: a preflight a team runs before its first rotation and in CI. It
//! reads, and sends nothing that changes the platform: the plan and the runner configuration
//! are valid; every secret reference resolves; the instance answers (DNS, TLS, the API) and
//! every credential the plan names authenticates, with the permissions planning needs; the plan
//! compiles against live state without conflict; the state store is reachable and writable; the
//! webhook answers (a test message). One line per check; exit 0 only if every check passes.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use super::exit::{Failure, Outcome};
use super::notice::NotifyArgs;
use super::run::{RetryArgs, StateArgs};
use super::target;
use super::trust::{self, RunnerArgs};
use crate::plan::{self, LoadedPlan};
use crate::secret::Fingerprinter;

/// Output format of `doctor`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum DoctorFormat {
    /// One line per check.
    #[default]
    Text,
    /// For machines: every check with its verdict.
    Json,
}

/// Options of `relinker doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The plan file, or an offboarding config (`offboard --config`).
    #[arg(value_name = "PLAN_OR_CONFIG")]
    plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DoctorFormat::Text)]
    format: DoctorFormat,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    runner: RunnerArgs,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    /// It holds.
    Pass,
    /// It holds, with something to know (a role with more than relinker needs).
    Warn,
    /// It does not hold: the rotation would not run as planned.
    Fail,
    /// It could not be checked, because an earlier check failed.
    Skipped,
}

/// One check's line.
#[derive(Debug, Serialize)]
struct Checked {
    check: &'static str,
    verdict: Verdict,
    detail: String,
}

#[derive(Default)]
struct Report(Vec<Checked>);

impl Report {
    fn add(&mut self, check: &'static str, verdict: Verdict, detail: impl Into<String>) {
        self.0.push(Checked {
            check,
            verdict,
            detail: detail.into(),
        });
    }

    fn failed(&mut self, check: &'static str, failure: &Failure) {
        self.add(check, Verdict::Fail, failure.to_string());
    }
}

/// Runs every check and prints one line for each.
pub async fn run(args: &DoctorArgs) -> Result<Outcome, Failure> {
    let mut report = Report::default();
    // The runner configuration is the runner's own input: a broken one is exit 2 at once.
    let runner = args.runner.runner()?;
    if is_offboarding_config(&args.plan) {
        offboarding_config(args, runner.as_ref(), &mut report).await;
        state_store(&args.state, &mut report);
        return Ok(print(args.format, &report));
    }
    match plan::load_with(
        &args.plan,
        runner.as_ref().map_or(&[][..], |r| r.instances()),
    ) {
        Err(error) => {
            report.add("plan", Verdict::Fail, error.to_string());
            for check in [
                "runner configuration",
                "instance and credentials",
                "plan against live state",
            ] {
                report.add(check, Verdict::Skipped, "the plan is not valid");
            }
        }
        Ok(loaded) => platform(args, runner.as_ref(), &loaded, &mut report).await,
    }
    state_store(&args.state, &mut report);
    Ok(print(args.format, &report))
}

/// The plan, the runner configuration, the instance, the credentials and the webhook.
async fn platform(
    args: &DoctorArgs,
    runner: Option<&crate::runner::Runner>,
    LoadedPlan { plan, bytes }: &LoadedPlan,
    report: &mut Report,
) {
    report.add(
        "plan",
        Verdict::Pass,
        format!(
            "`{}` ({}): valid, {} rotation{}",
            plan.name,
            args.plan.display(),
            plan.rotation_count(),
            if plan.rotation_count() == 1 { "" } else { "s" }
        ),
    );
    let origin = args.plan.display().to_string();
    if let Err(failure) = trust::admit_plan(runner, plan, bytes, &origin) {
        report.failed("runner configuration", &failure);
        report.add(
            "instance and credentials",
            Verdict::Skipped,
            "nothing is sent where the runner configuration does not allow",
        );
    } else {
        runner_verdict(runner.is_some(), "plan", report);
        instance(args, runner, plan, report).await;
    }
    let flag = match args.notify.webhook() {
        Ok(flag) => flag,
        Err(failure) => {
            report.failed("webhook", &failure);
            return;
        }
    };
    match super::notice::for_plan(flag.as_ref(), plan, false) {
        Err(failure) => report.failed("webhook", &failure),
        Ok(webhook) => {
            let text = format!(
                "relinker doctor: this webhook works (plan `{}`); it will hear when a run of it waits for a person, fails or ends.",
                plan.name
            );
            test_webhook(webhook.as_ref(), &text, report).await;
        }
    }
}

/// Whether `path` is an offboarding config rather than a plan (it has no `rotations:`), as
/// `inventory` tells them apart. An unreadable file is taken for a plan, whose check says why.
fn is_offboarding_config(path: &std::path::Path) -> bool {
    crate::input::read_text(path, crate::input::Kind::Plan).is_ok_and(|text| {
        !text
            .lines()
            .any(|line| line.trim_end().starts_with("rotations:"))
    })
}

/// An offboarding config: valid and allowed, its instance answers and every credential it
/// names authenticates; the webhook `--notify` names answers.
async fn offboarding_config(
    args: &DoctorArgs,
    runner: Option<&crate::runner::Runner>,
    report: &mut Report,
) {
    let (instance, services, base_dir) =
        match target::marketo_source(&args.plan, "doctor", &args.runner) {
            Ok(source) => source,
            Err(failure) => {
                report.failed("offboarding config", &failure);
                report.add(
                    "instance and credentials",
                    Verdict::Skipped,
                    "the config is not usable",
                );
                return;
            }
        };
    report.add(
        "offboarding config",
        Verdict::Pass,
        format!(
            "{}: valid, {} known service{}",
            args.plan.display(),
            services.len(),
            if services.len() == 1 { "" } else { "s" }
        ),
    );
    runner_verdict(runner.is_some(), "config", report);
    let credentials = match crate::provider::marketo::resolve_credentials(
        &instance,
        &services,
        &base_dir,
        &Fingerprinter::fresh(),
    ) {
        Ok(credentials) => credentials,
        Err(error) => {
            report.add("instance and credentials", Verdict::Fail, error.to_string());
            return;
        }
    };
    let client = match target::marketo_client(
        &instance,
        &instance.base_url,
        &credentials,
        args.retry.policy(),
    ) {
        Ok(client) => client,
        Err(failure) => {
            report.failed("instance and credentials", &failure);
            return;
        }
    };
    let platform = crate::provider::marketo::MarketoPlatform::new(client, credentials);
    credentials_verdict(
        &platform,
        &instance.base_url,
        "the config names authenticated",
        report,
    )
    .await;
    match args.notify.webhook() {
        Err(failure) => report.failed("webhook", &failure),
        Ok(webhook) => {
            test_webhook(
                webhook.as_ref(),
                "relinker doctor: this webhook works; it will hear when a scheduled offboarding run waits for a person, fails or ends.",
                report,
            )
            .await;
        }
    }
}

/// The line of every credential the file names: each authenticated (`names` says what of),
/// or which did not and why; then what the reviewer should know of the admin credential.
async fn credentials_verdict(
    platform: &dyn crate::provider::Platform,
    base_url: &str,
    names: &str,
    report: &mut Report,
) {
    let answers = platform.authenticate().await;
    let refused: Vec<String> = answers
        .iter()
        .filter_map(|a| {
            a.answer
                .as_ref()
                .err()
                .map(|why| format!("{}: {why}", a.credential))
        })
        .collect();
    if refused.is_empty() {
        report.add(
            "instance and credentials",
            Verdict::Pass,
            format!(
                "{base_url}: answered, and {} credential{} {names}",
                answers.len(),
                if answers.len() == 1 { "" } else { "s" }
            ),
        );
    } else {
        report.add(
            "instance and credentials",
            Verdict::Fail,
            refused.join("; "),
        );
    }
    for caution in platform.cautions().await {
        report.add("permissions", Verdict::Warn, caution);
    }
}

/// The runner configuration's line: it allowed what the `file` ("plan", "config") names, or
/// there is none and the file's own hosts and secrets are trusted.
fn runner_verdict(given: bool, file: &str, report: &mut Report) {
    if given {
        report.add(
            "runner configuration",
            Verdict::Pass,
            format!("the {file}'s instance, secret references and check programs are all allowed"),
        );
    } else {
        report.add(
            "runner configuration",
            Verdict::Warn,
            format!("none given (--runner-config): the {file}'s own hosts, secrets and programs are trusted"),
        );
    }
}

/// Sends `webhook` a test message, if there is one.
async fn test_webhook(webhook: Option<&crate::notify::Webhook>, text: &str, report: &mut Report) {
    match webhook {
        None => report.add(
            "webhook",
            Verdict::Pass,
            "none configured (--notify, or a plan's `notify:`)",
        ),
        Some(webhook) => match webhook.send_text(text).await {
            Ok(()) => report.add("webhook", Verdict::Pass, "it answered a test message"),
            Err(error) => report.add("webhook", Verdict::Fail, error.to_string()),
        },
    }
}

/// The instance answers and every credential authenticates; the plan compiles against it.
async fn instance(
    args: &DoctorArgs,
    runner: Option<&crate::runner::Runner>,
    plan: &crate::plan::Plan,
    report: &mut Report,
) {
    let connections = target::Connections::with_checks(trust::checks_at_plan(runner));
    let connected = target::connect_shared(
        plan,
        false,
        args.retry.policy(),
        &connections,
        &Fingerprinter::fresh(),
    )
    .await;
    let target = match connected {
        Ok(target) => target,
        Err(failure) => {
            report.failed("instance and credentials", &failure);
            report.add(
                "plan against live state",
                Verdict::Skipped,
                "the instance was not reached",
            );
            return;
        }
    };
    match target
        .compile(plan, &crate::provider::Leftovers::default())
        .await
    {
        Err(failure) => {
            report.failed("instance and credentials", &failure);
            report.add(
                "plan against live state",
                Verdict::Skipped,
                "live state could not be read",
            );
        }
        Ok((_, compiled)) => {
            credentials_verdict(
                target.platform.as_ref(),
                &target.base_url,
                "the plan names authenticated, with what planning reads",
                report,
            )
            .await;
            if compiled.conflicts.is_empty() {
                report.add(
                    "plan against live state",
                    Verdict::Pass,
                    format!(
                        "{} step{} to run",
                        compiled.steps.len(),
                        if compiled.steps.len() == 1 { "" } else { "s" }
                    ),
                );
            } else {
                let conflicts: Vec<String> =
                    compiled.conflicts.iter().map(ToString::to_string).collect();
                report.add(
                    "plan against live state",
                    Verdict::Fail,
                    conflicts.join("; "),
                );
            }
        }
    }
}

/// The state store is reachable, at a schema this relinker knows, and writable.
fn state_store(state: &StateArgs, report: &mut Report) {
    let store = match state.existing() {
        Ok(store) => store,
        Err(failure) => {
            report.failed("state store", &failure);
            return;
        }
    };
    let runs = match store.run_ids() {
        Ok(runs) => runs.len(),
        Err(error) => {
            report.failed("state store", &super::run::journal_failure(error));
            return;
        }
    };
    match store.writable() {
        Ok(true) => {}
        Ok(false) => {
            report.add(
                "state store",
                Verdict::Fail,
                format!(
                    "{}: this process may read but not write runs there",
                    store.location()
                ),
            );
            return;
        }
        Err(error) => {
            report.failed("state store", &super::run::journal_failure(error));
            return;
        }
    }
    report.add(
        "state store",
        Verdict::Pass,
        format!(
            "{}: reachable and writable, {runs} run{}",
            store.location(),
            if runs == 1 { "" } else { "s" }
        ),
    );
}

fn print(format: DoctorFormat, report: &Report) -> Outcome {
    let failed = report
        .0
        .iter()
        .any(|c| matches!(c.verdict, Verdict::Fail | Verdict::Skipped));
    match format {
        DoctorFormat::Json => super::output::say(
            &serde_json::to_string_pretty(&serde_json::json!({
                "format_version": 1,
                "ok": !failed,
                "checks": report.0,
            }))
            .unwrap_or_default(),
        ),
        DoctorFormat::Text => {
            for checked in &report.0 {
                let mark = match checked.verdict {
                    Verdict::Pass => "✓",
                    Verdict::Warn => "!",
                    Verdict::Fail => "✗",
                    Verdict::Skipped => "-",
                };
                super::output::say(&format!("{mark} {}: {}", checked.check, checked.detail));
            }
        }
    }
    if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    }
}
