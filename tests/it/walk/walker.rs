//! One walk under way: its world, its generator, its runs and its log; it plays each move
//! and runs relinker for it, bounded. What is checked after a command is `checks`, the kills
//! are `kill`, the cooperative end is `heal`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde_json::Value;

use super::invariants::{self, Invariant, Violation};
use super::moves::{self, Move, View};
use super::world::{Facts, Site, Spec};
use super::{Failure, mix};
use crate::harness::Ran;

/// No command of a walk may take longer than this: every wait it asks for is shorter.
const COMMAND_LIMIT: Duration = Duration::from_secs(150);
/// Every call's budget: faults cost seconds, not a minute.
pub(super) const GIVE_UP: [&str; 2] = ["--give-up-after", "3s"];

/// A run a walk made, and the world as it found it.
pub(super) struct Run {
    pub(super) id: String,
    pub(super) original: Facts,
    pub(super) abandoned: bool,
    /// The state the run ended in (done, rolled back) and the facts that must then hold.
    pub(super) ended: Option<(String, Facts)>,
}

/// One walk under way.
pub(super) struct Walker {
    pub(super) site: Site,
    pub(super) seed: u64,
    pub(super) steps: usize,
    pub(super) rng: StdRng,
    pub(super) log: Vec<String>,
    pub(super) runs: Vec<Run>,
    pub(super) applies: u32,
    /// Facts a person changed behind the run's back (or attested falsely): the journal
    /// cannot explain them, and a claim is held to what relinker could observe of them.
    pub(super) tainted: BTreeSet<&'static str>,
    /// Facts an accepted attestation speaks of while the world says otherwise, with what it
    /// said: the person's word, until the world agrees.
    pub(super) lies: BTreeMap<&'static str, Vec<String>>,
    /// What the latest run's recorded attestations say of each fact (and whether of an undo).
    pub(super) said: BTreeMap<&'static str, (bool, Vec<String>)>,
    pub(super) initial: Facts,
    /// A person changed the world since the latest run ended: its end state need not hold.
    pub(super) moved_since_end: bool,
    /// (run, step, undo) of every attestation a run recorded.
    pub(super) attestations: BTreeSet<(String, String, bool)>,
    /// `status RUN --format json` of the latest run, after the last command.
    pub(super) status: Option<Value>,
    /// Invariants (by number) whose violations are logged and walked past.
    pub(super) pass_over: Vec<u8>,
}

impl Walker {
    pub(super) async fn start(
        spec: &'static Spec,
        seed: u64,
        steps: usize,
        pass_over: Vec<u8>,
    ) -> Option<Self> {
        let mut site = Site::start(spec).await?;
        let initial = site.facts().await;
        Some(Self {
            site,
            seed,
            steps,
            rng: StdRng::seed_from_u64(mix(spec.name, seed)),
            log: Vec::new(),
            runs: Vec::new(),
            applies: 0,
            tainted: BTreeSet::new(),
            lies: BTreeMap::new(),
            said: BTreeMap::new(),
            initial,
            attestations: BTreeSet::new(),
            status: None,
            moved_since_end: false,
            pass_over,
        })
    }

    /// A check's verdict: a broken promise ends the walk, unless it is one the walk was told
    /// to pass over (`RELINKER_WALK_PASS_OVER`), which is logged and walked past.
    pub(super) fn judge(
        &mut self,
        verdict: Result<(), Violation>,
        output: &str,
    ) -> Result<(), Failure> {
        match verdict {
            Ok(()) => Ok(()),
            Err(v) if self.pass_over.contains(&v.invariant.number()) => {
                let n = self.log.len();
                if n > 0 {
                    let _ = write!(
                        self.log[n - 1],
                        " [passed over: {}: {}]",
                        v.invariant,
                        v.message
                    );
                }
                Ok(())
            }
            Err(v) => Err(self.fail(v, output)),
        }
    }

    pub(super) fn fail(&self, violation: Violation, output: &str) -> Failure {
        Failure {
            world: self.site.spec.name,
            seed: self.seed,
            steps: self.steps,
            violation,
            log: self.log.clone(),
            output: output.to_owned(),
        }
    }

    pub(super) fn note(&mut self, what: &str, outcome: &str) {
        let n = self.log.iter().filter(|l| !l.starts_with("  --")).count() + 1;
        self.log.push(format!("{n:>3}. {what} => {outcome}"));
    }

    /// How many requests the sandbox has answered with this fault so far.
    pub(super) async fn faulted(&self, kind: &str) -> usize {
        self.site.sandbox.requests().await["requests"]
            .as_array()
            .map_or(0, |all| all.iter().filter(|r| r["fault"] == kind).count())
    }

    pub(super) fn latest(&self) -> Option<&Run> {
        self.runs.last()
    }

    /// The latest run has not ended.
    pub(super) fn live(&self) -> bool {
        let Some(run) = self.latest() else {
            return false;
        };
        let word = self.word();
        !run.abandoned && !matches!(word.as_str(), "done" | "rolled back" | "abandoned")
    }

    pub(super) fn word(&self) -> String {
        self.status
            .as_ref()
            .and_then(|s| s["status"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    pub(super) async fn walk(mut self) -> Result<Vec<String>, Failure> {
        for _ in 0..self.steps {
            let view = View {
                status: self.status.as_ref(),
                live: self.live(),
            };
            let next = moves::pick(&mut self.rng, &self.site, &view);
            self.play(next).await?;
        }
        self.heal().await?;
        let state = self.site.stored().await;
        invariants::no_secrets(&self.site, &state)
            .map_err(|v| self.fail(v, "(the state directory)"))?;
        Ok(self.log)
    }

    pub(super) async fn play(&mut self, next: Move) -> Result<(), Failure> {
        let label = next.to_string();
        match next {
            Move::Apply { gate, operator } => {
                self.applies += 1;
                let id = format!("w{}", self.applies);
                let mut args = vec!["apply", "plan.yaml", "--yes", "--run-id", &id];
                args.extend_from_slice(gate.args());
                if operator {
                    args.push("--sandbox-operator");
                }
                let before = self.site.facts().await;
                let ran = self.command(&format!("{label} [{id}]"), &args).await?;
                self.adopt(&id, before).await;
                self.checked(&ran, false).await
            }
            Move::Resume { gate, operator } | Move::Rollback { gate, operator } => {
                let Some(id) = self.latest().map(|r| r.id.clone()) else {
                    return Ok(());
                };
                let verb = if matches!(next, Move::Resume { .. }) {
                    "resume"
                } else {
                    "rollback"
                };
                let mut args = vec![verb, &id];
                args.extend_from_slice(gate.args());
                if operator {
                    args.push("--sandbox-operator");
                }
                let ran = self.command(&format!("{label} [{id}]"), &args).await?;
                self.checked(&ran, false).await
            }
            Move::DryRun | Move::Abandon | Move::Status => {
                let Some(id) = self.latest().map(|r| r.id.clone()) else {
                    return Ok(());
                };
                let args: Vec<&str> = match next {
                    Move::DryRun => vec!["rollback", &id, "--dry-run"],
                    Move::Abandon => vec![
                        "abandon",
                        &id,
                        "--reason",
                        "a person took over",
                        "--by",
                        "Dana Ops",
                    ],
                    _ => vec!["status", &id],
                };
                let ran = self.command(&format!("{label} [{id}]"), &args).await?;
                if matches!(next, Move::Abandon)
                    && ran.code == Some(0)
                    && let Some(run) = self.runs.last_mut()
                {
                    run.abandoned = true;
                }
                self.checked(&ran, false).await
            }
            Move::Attest { step, by } => self.attest(&label, &step, by).await,
            Move::KillWaiting { apply } => self.kill(&label, apply, None).await,
            Move::KillAtRequest { apply, after } => self.kill(&label, apply, Some(after)).await,
            Move::Person { step, undo } => {
                let before = self.site.facts().await;
                let answer = self.site.person(&step, undo).await;
                self.note(&label, &answer);
                self.retaint(&before).await;
                Ok(())
            }
            Move::RestartDatabase => {
                let answer = self.site.restart_database().await;
                self.note(&label, &answer);
                Ok(())
            }
            Move::Rival {
                restart_db,
                applied,
            } => self.rival(&label, restart_db, applied).await,
            Move::TimePasses => {
                let answer = self.site.time_passes().await;
                self.note(&label, &answer);
                Ok(())
            }
            Move::Secret(change) => {
                let what = self.site.change_secret(&change);
                self.note(&label, &what);
                Ok(())
            }
            Move::Fault { rule, .. } => {
                self.site.sandbox.add_fault(rule).await;
                self.note(&label, "added");
                Ok(())
            }
            Move::ClearFaults => {
                self.site.sandbox.clear_faults().await;
                self.note(&label, "none left");
                Ok(())
            }
        }
    }

    /// Runs relinker to its end (bounded), and logs it.
    pub(super) async fn command(&mut self, label: &str, args: &[&str]) -> Result<Ran, Failure> {
        let mut args: Vec<&str> = args.to_vec();
        if matches!(args[0], "apply" | "resume" | "rollback") {
            args.extend_from_slice(&GIVE_UP);
        }
        let ran = tokio::time::timeout(COMMAND_LIMIT, self.site.relinker(&args).run()).await;
        let Ok(ran) = ran else {
            self.note(label, "never ended");
            return Err(self.fail(
                Violation::new(
                    Invariant::Ends,
                    format!("`relinker {}` ran for {COMMAND_LIMIT:?}", args.join(" ")),
                ),
                "",
            ));
        };
        if std::env::var_os("RELINKER_WALK_FULL").is_some() {
            eprintln!("=== {label}: relinker {}\n{}", args.join(" "), ran.text());
        }
        let outcome = format!("exit {}: {}", code(ran.code), excerpt(&ran.text()));
        self.note(label, &outcome);
        Ok(ran)
    }

    /// Records the run `apply` made, if it made one.
    pub(super) async fn adopt(&mut self, id: &str, before: Facts) {
        let listed = self
            .site
            .relinker(&["status", id, "--format", "json"])
            .run()
            .await;
        if listed.code == Some(0) && listed.stdout.contains(&format!("\"run_id\": \"{id}\"")) {
            self.runs.push(Run {
                id: id.to_owned(),
                original: before,
                abandoned: false,
                ended: None,
            });
            self.tainted.clear();
            self.lies.clear();
            self.said.clear();
        }
    }
}

pub(super) fn code(code: Option<i32>) -> String {
    code.map_or_else(|| "none (killed)".into(), |c| c.to_string())
}

/// The lines of an output that say what happened: its first and its last.
pub(super) fn excerpt(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("- ")
                && !l.starts_with("Plan `")
                && !l.starts_with("1 rotation")
        })
        .collect();
    let pick: Vec<&str> = match lines.len() {
        0..=2 => lines,
        n => vec![lines[0], "…", lines[n - 1]],
    };
    let joined = pick.join(" / ");
    if joined.chars().count() > 220 {
        format!("{}…", joined.chars().take(220).collect::<String>())
    } else {
        joined
    }
}
