//! `relinker apply PLAN.yaml|SAVED.json...`: plan, show, confirm, run.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use clap::Args;
use futures_util::future::join_all;

use super::exit::{Failure, OrExit, Outcome};
use super::notice::{self, About, NotifyArgs};
use super::render::{self, Footer, PlanView};
use super::run::{
    Direction, GateArgs, Played, RetryArgs, StateArgs, execute, finish, journal_failure, say,
};
use super::target::{self, Connections, Target};
use super::trust::{self, RunnerArgs};
use crate::ids::RunId;
use crate::journal::{Run, Started};
use crate::notify::Webhook;
use crate::plan::{self, LoadedPlan};
use crate::runner::Runner;
use crate::saved::SavedPlan;
use crate::secret::{Fingerprint, Fingerprinter};

/// Options of `relinker apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Plan files, or saved plans from `plan --out`; each becomes its own run.
    #[arg(required = true, value_name = "PLAN")]
    plans: Vec<PathBuf>,
    /// Run against an embedded sandbox seeded from the plan's fixture (implies --sandbox-operator).
    #[arg(long)]
    sandbox: bool,
    /// Id for the run (one plan only).
    #[arg(long, value_name = "ID")]
    run_id: Option<RunId>,
    #[command(flatten)]
    state: StateArgs,
    #[command(flatten)]
    gate: GateArgs,
    #[command(flatten)]
    retry: RetryArgs,
    #[command(flatten)]
    notify: NotifyArgs,
    #[command(flatten)]
    runner: RunnerArgs,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Show the plan and stop; change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Applies each plan; the exit code is the worst of the runs.
///
/// Several plans are read and compiled concurrently, shown and confirmed one after another in
/// the order given, then run concurrently: each is its own run with its own journal, and the
/// plans naming one instance share one client (token, limiter, instance-wide reads).
pub async fn run(args: &ApplyArgs) -> Result<Outcome, Failure> {
    if args.run_id.is_some() && args.plans.len() > 1 {
        return Err(anyhow!("--run-id names one run; give one plan with it")).or_invalid_input();
    }
    let many = args.plans.len() > 1;
    // The runner first: it declares the secret stores `--notify` and the state may name.
    let runner = args.runner.runner()?;
    let webhook = args.notify.webhook()?;
    let connections = Connections::default();
    let prepared = join_all(
        args.plans
            .iter()
            .map(|path| prepare(path, args, runner.as_ref(), &connections)),
    )
    .await;
    let mut worst = Outcome::Success;
    let mut ready = Vec::new();
    for (path, prepared) in args.plans.iter().zip(prepared) {
        match prepared.and_then(|prepared| review(prepared, args)) {
            Ok(Reviewed::Run(run)) => ready.push(*run),
            Ok(Reviewed::Nothing) => {}
            Err(failure) if many => {
                super::output::warn(&format!("error: {}: {failure}", path.display()));
                worst = worst.max(failure.outcome);
            }
            Err(failure) => return Err(failure),
        }
    }
    let outcomes = join_all(
        ready
            .into_iter()
            .map(|ready| ready.execute(args, many, webhook.as_ref())),
    )
    .await;
    for outcome in outcomes {
        worst = worst.max(match outcome {
            Ok(outcome) => outcome,
            Err(failure) if many => {
                super::output::warn(&format!("error: {failure}"));
                failure.outcome
            }
            Err(failure) => return Err(failure),
        });
    }
    Ok(worst)
}

/// A plan to apply, and the saved plan when given one.
fn load(
    path: &Path,
    named: &[crate::plan::NamedInstance],
) -> Result<(LoadedPlan, Option<SavedPlan>), Failure> {
    let saved = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if saved {
        let saved = SavedPlan::read(path).or_invalid_input()?;
        let loaded = plan::load_with(&saved.plan_path(path), named).or_invalid_input()?;
        Ok((loaded, Some(saved)))
    } else {
        Ok((plan::load_with(path, named).or_invalid_input()?, None))
    }
}

/// A plan read, connected to and compiled against live state; not shown yet.
struct Prepared {
    plan: crate::plan::Plan,
    bytes: Vec<u8>,
    run_id: RunId,
    target: Target,
    live: crate::provider::LiveState,
    compiled: crate::provider::Compiled,
}

async fn prepare(
    path: &Path,
    args: &ApplyArgs,
    runner: Option<&Runner>,
    connections: &Connections,
) -> Result<Prepared, Failure> {
    let (LoadedPlan { plan, bytes }, saved) =
        load(path, runner.map_or(&[][..], Runner::instances))?;
    // What the plan may reach, read and run is the runner's to say, before anything is.
    let origin = saved
        .as_ref()
        .map_or_else(|| path.to_path_buf(), |s| s.plan_path(path));
    trust::admit_plan(runner, &plan, &bytes, &origin.display().to_string())?;
    let run_id = args
        .run_id
        .clone()
        .unwrap_or_else(|| RunId::generate(&plan.name, chrono::Utc::now()));
    // A saved plan's credentials are fingerprinted as when it was saved, so that the same
    // credentials compare equal; the run then records them the same way.
    let fingerprinter = match &saved {
        Some(saved) => {
            if saved.credential_fingerprints.is_legacy() {
                super::output::warn(&format!(
                    "warning: saved plan `{}` holds unsalted SHA-256 credential fingerprints (an older relinker saved it): they are compared the old way; run `relinker plan --out` again to replace them",
                    path.display()
                ));
            }
            saved.credential_fingerprints.clone()
        }
        None => Fingerprinter::fresh(),
    };
    let target = target::connect_shared(
        &plan,
        args.sandbox,
        args.retry.policy(),
        connections,
        &fingerprinter,
    )
    .await?;
    target.refuse_known_problems(&plan, &bytes, &origin.display().to_string())?;
    // Rehearsals leave nothing behind; a state store that does not exist yet knows of nothing.
    let leftovers = match args.state.existing() {
        Ok(state) if !args.sandbox => state.leftovers(&target.base_url).map_err(journal_failure)?,
        _ => crate::provider::Leftovers::default(),
    };
    let (live, compiled) = target.compile(&plan, &leftovers).await?;
    // "Nothing to change" holds only while no unsettled run on the same users may still undo
    // what was seen (a run rolling back, one a person resumes).
    if !compiled.has_changes()
        && !args.sandbox
        && let Ok(state) = args.state.existing()
    {
        let users: Vec<_> = compiled
            .steps
            .iter()
            .flat_map(|s| s.action.users())
            .collect();
        state
            .refuse_claimed(&users, &run_id)
            .map_err(journal_failure)?;
    }
    if let Some(saved) = &saved {
        // Anything but the reviewed steps is refused before a single change is sent.
        saved.check(&bytes, &live, &compiled).or_invalid_input()?;
    }
    Ok(Prepared {
        plan,
        bytes,
        run_id,
        target,
        live,
        compiled,
    })
}

/// What reviewing a prepared plan decided.
enum Reviewed {
    /// Run it.
    Run(Box<Ready>),
    /// Nothing to run: a dry run, nothing to change, or not confirmed.
    Nothing,
}

/// Shows the plan, and asks when a person is there to answer.
fn review(prepared: Prepared, args: &ApplyArgs) -> Result<Reviewed, Failure> {
    let Prepared {
        plan,
        bytes,
        run_id,
        target,
        live,
        compiled,
    } = prepared;
    say(&format!(
        "run {run_id}{}",
        if args.dry_run {
            " (dry run: nothing will be changed or recorded)"
        } else {
            ""
        }
    ));
    let view = PlanView {
        plan: &plan,
        compiled: &compiled,
        live: &live,
        instance: &target.base_url,
        footer: Footer::None,
    };
    say(&render::text(&view));
    if !compiled.conflicts.is_empty() {
        return Err(anyhow!(
            "the plan has conflicts; nothing was changed, and run {run_id} was not started"
        ))
        .or_failed();
    }
    if args.dry_run {
        say("dry run: nothing was changed.");
        return Ok(Reviewed::Nothing);
    }
    if !compiled.has_changes() {
        say("nothing to change: every rotation already holds. No run was started.");
        return Ok(Reviewed::Nothing);
    }
    if !args.yes {
        let question = Question::new(&plan.name, &target.base_url, &run_id, &compiled.steps);
        if !approved(&question, &plan.name, args.sandbox)? {
            say("not applied.");
            return Ok(Reviewed::Nothing);
        }
    }
    Ok(Reviewed::Run(Box::new(Ready {
        plan,
        bytes,
        run_id,
        target,
        steps: compiled.steps,
    })))
}

/// A confirmed plan, about to become a run.
struct Ready {
    plan: crate::plan::Plan,
    bytes: Vec<u8>,
    run_id: RunId,
    target: Target,
    steps: Vec<crate::provider::Step>,
}

impl Ready {
    async fn execute(
        self,
        args: &ApplyArgs,
        many: bool,
        webhook: Option<&Webhook>,
    ) -> Result<Outcome, Failure> {
        let Ready {
            plan,
            bytes,
            run_id,
            target,
            steps,
        } = self;
        let webhook = notice::for_plan(webhook, &plan, args.sandbox)?;
        let credentials = target.platform.credential_fingerprints();
        let started = Started {
            format_version: crate::journal::FORMAT_VERSION,
            plan: plan.name.clone(),
            plan_sha256: Fingerprint::of(&bytes),
            instance: target.base_url.clone(),
            sandbox: args.sandbox,
            plan_dir: crate::paths::normalized(&plan.base_dir)
                .display()
                .to_string(),
            on_failure: Some(plan.policy.on_failure),
            steps: steps.clone(),
            credentials,
            origin: Some(super::origin::here()),
        };
        let state = args.state.create()?;
        // Refused (another runner, a claim on a user): the id printed first names no run.
        let mut run = Run::start(&state, &run_id, &bytes, started).map_err(|error| {
            let mut failure = journal_failure(error);
            failure.error = failure
                .error
                .context(format!("run {run_id} was not started"));
            failure
        })?;
        let played = if args.sandbox {
            Played::BySandbox
        } else {
            Played::ByAPerson
        };
        let options = args
            .gate
            .options(&target, played, plan.policy.on_failure, &args.retry)
            .await?;
        let label = many.then_some(&run_id);
        let outcome = execute(&target, &mut run, &options, Direction::AsJournaled, label).await?;
        let exit = finish(&run_id, &outcome, &steps);
        let about = About {
            run: &run_id,
            plan: &plan.name,
            instance: &target.base_url,
        };
        notice::tell(
            webhook.as_ref(),
            &mut run,
            &about,
            &outcome,
            exit,
            args.notify.reminder(),
        )
        .await;
        Ok(exit)
    }
}

/// What a person is asked to approve: the plan, where, and what it will do.
struct Question(String);

impl Question {
    fn new(plan: &str, instance: &str, run_id: &RunId, steps: &[crate::provider::Step]) -> Self {
        let pending = || steps.iter().filter(|s| s.readiness.has_work());
        let manual = pending()
            .filter(|s| s.performer() == crate::provider::Performer::Person)
            .count();
        let deletions = pending().filter(|s| s.action.deletes()).count();
        let changes = pending().count() - manual;
        let count =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let deleting = match deletions {
            0 => String::new(),
            1 => " (1 deletes a user)".to_owned(),
            n => format!(" ({n} delete a user)"),
        };
        Self(format!(
            "Apply plan `{plan}` to {instance} as run {run_id}: {}{deleting}, {}? [y/N] ",
            count(changes, "API step", "API steps"),
            count(manual, "manual step", "manual steps"),
        ))
    }
}

/// Whether a person approves. Terraform's rule: without a person at stdin to answer, only
/// `--yes` approves (a pipe such as `apply plan.yaml | tee log` must not apply unasked). The
/// embedded sandbox is the exception: it lives as long as the command, and nothing real changes.
fn approved(question: &Question, plan: &str, sandbox: bool) -> Result<bool, Failure> {
    if std::io::stdin().is_terminal() {
        return confirm(question);
    }
    if sandbox {
        return Ok(true);
    }
    Err(anyhow!(
        "plan `{plan}` was not applied: there is no terminal to ask for approval; pass --yes to apply it without asking"
    ))
    .or_invalid_input()
}

fn confirm(question: &Question) -> Result<bool, Failure> {
    let mut stdout = std::io::stdout().lock();
    let _ = write!(stdout, "{}", question.0);
    let _ = stdout.flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .context("cannot read the answer")
        .or_failed()?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{ServiceName, StepId, UserId};
    use crate::provider::{Readiness, Step, marketo};

    fn step(id: &str, op: marketo::Op, readiness: Readiness) -> Step {
        Step {
            id: StepId::new(id),
            rotation: 0,
            action: crate::provider::Op::Marketo(op),
            readiness,
        }
    }

    #[test]
    fn the_question_names_the_plan_the_instance_and_what_it_will_do() {
        let temp = UserId::parse("temp@x.test").unwrap();
        let jane = UserId::parse("jane@x.test").unwrap();
        let link = |id: &str, to: &UserId| {
            step(
                id,
                marketo::Op::LinkService {
                    service: ServiceName::new("crm"),
                    from: jane.clone(),
                    to: to.clone(),
                },
                Readiness::Pending,
            )
        };
        let steps = [
            step(
                "create",
                marketo::Op::CreateUser {
                    user: temp.clone(),
                    first_name: "T".into(),
                    last_name: "U".into(),
                    roles: vec![],
                },
                // Already there: not something the run will do.
                Readiness::AlreadySatisfied,
            ),
            link("away", &temp),
            link("back", &jane),
            step(
                "delete",
                marketo::Op::DeleteUser { user: temp.clone() },
                Readiness::Pending,
            ),
        ];
        let run = RunId::parse("acme-20261204-1").unwrap();
        let question = Question::new("acme", "https://x.mktorest.com", &run, &steps);
        assert_eq!(
            question.0,
            "Apply plan `acme` to https://x.mktorest.com as run acme-20261204-1: 1 API step (1 deletes a user), 2 manual steps? [y/N] "
        );
    }
}
