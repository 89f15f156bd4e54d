//! What operators and the world can do between two looks at a run, and how a walk picks the
//! next move from a seeded generator and what the run waits for. Picking is all this module
//! does: the driver plays the moves and checks the invariants.

use std::fmt;

use rand::RngExt as _;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use serde_json::Value;

use super::world::{Procedure, SecretChange, Site};

/// How long a command may wait at a manual gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gate {
    /// `--gate-wait 0`: pause at once.
    Zero,
    /// No flag: without a terminal, the same as 0 (docs/runbook.md).
    Unset,
    /// `--gate-wait 1s`: look a few times, then pause.
    Short,
}

impl Gate {
    pub fn args(self) -> &'static [&'static str] {
        match self {
            Gate::Zero => &["--gate-wait", "0"],
            Gate::Unset => &[],
            Gate::Short => &["--gate-wait", "1s"],
        }
    }
}

/// One thing an operator or the world does.
#[derive(Clone, Debug)]
pub(super) enum Move {
    Apply {
        gate: Gate,
        operator: bool,
    },
    Resume {
        gate: Gate,
        operator: bool,
    },
    Rollback {
        gate: Gate,
        operator: bool,
    },
    DryRun,
    Attest {
        step: String,
        by: &'static str,
    },
    Abandon,
    Status,
    /// `apply` (or `resume`) waiting at a gate, killed with SIGKILL.
    KillWaiting {
        apply: bool,
    },
    /// `apply` (or `resume`) killed with SIGKILL while its request number `after` hangs.
    KillAtRequest {
        apply: bool,
        after: u32,
    },
    /// A person does a step's effect in the UI (`undo`: reverses it).
    Person {
        step: String,
        undo: bool,
    },
    /// A token lifetime passes on the Marketo instance.
    TimePasses,
    /// The PostgreSQL server restarts (every session, and its locks, end).
    RestartDatabase,
    /// `apply` (or `resume`) whose first change hangs; meanwhile (after a database restart, or
    /// not) a second runner resumes the same run with the sandbox operator; then the first one
    /// wakes.
    /// `applied`: the hung change took effect (its answer is what is lost).
    Rival {
        restart_db: bool,
        applied: bool,
    },
    Secret(SecretChange),
    Fault {
        label: String,
        rule: Value,
    },
    ClearFaults,
}

impl fmt::Display for Move {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let flags = |gate: &Gate, operator: &bool| {
            let mut flags = gate.args().join(" ");
            if *operator {
                flags.push_str(" --sandbox-operator");
            }
            flags
        };
        match self {
            Move::Apply { gate, operator } => write!(f, "apply {}", flags(gate, operator)),
            Move::Resume { gate, operator } => write!(f, "resume {}", flags(gate, operator)),
            Move::Rollback { gate, operator } => write!(f, "rollback {}", flags(gate, operator)),
            Move::DryRun => write!(f, "rollback --dry-run"),
            Move::Attest { step, by } => write!(f, "attest {step} --by {by:?}"),
            Move::Abandon => write!(f, "abandon"),
            Move::Status => write!(f, "status"),
            Move::KillWaiting { apply } => {
                write!(
                    f,
                    "kill -9 a waiting {}",
                    if *apply { "apply" } else { "resume" }
                )
            }
            Move::KillAtRequest { apply, after } => write!(
                f,
                "kill -9 {} while request {} hangs",
                if *apply { "apply" } else { "resume" },
                after + 1
            ),
            Move::Person { step, undo } => {
                write!(
                    f,
                    "person: {} {step}",
                    if *undo { "undoes" } else { "does" }
                )
            }
            Move::TimePasses => write!(f, "an hour passes on the instance"),
            Move::RestartDatabase => write!(f, "the database restarts"),
            Move::Rival {
                restart_db,
                applied,
            } => write!(
                f,
                "a runner hangs on a change{};{} a second runner resumes with the operator",
                if *applied { " it made" } else { "" },
                if *restart_db {
                    " the database restarts;"
                } else {
                    ""
                }
            ),
            Move::Secret(change) => write!(f, "secret: {change:?}"),
            Move::Fault { label, .. } => write!(f, "fault: {label}"),
            Move::ClearFaults => write!(f, "faults cleared"),
        }
    }
}

/// Names people attest with, odd ones included.
const NAMES: [&str; 4] = ["Dana Ops", "Sam Admin", "Zoë Ünïcode", "the night shift"];

/// What the latest run looks like to the picker.
pub(super) struct View<'a> {
    /// `status RUN --format json` of the latest run, when there is one.
    pub status: Option<&'a Value>,
    /// The latest run has not ended (not done, rolled back or abandoned).
    pub live: bool,
}

impl View<'_> {
    fn waiting(&self) -> Vec<String> {
        self.status
            .and_then(|s| s["waiting"].as_array())
            .into_iter()
            .flatten()
            .filter_map(|w| w["step"].as_str().map(str::to_owned))
            .collect()
    }

    /// The run goes backwards: a person asked for now undoes.
    pub fn rolling_back(&self) -> bool {
        self.status
            .and_then(|s| s["status"].as_str())
            .is_some_and(|s| s.contains("roll"))
    }
}

/// Picks the next move.
pub(super) fn pick(rng: &mut StdRng, site: &Site, view: &View<'_>) -> Move {
    let marketo = site.spec.procedure == Procedure::MarketoRename;
    let postgres = site.spec.postgres;
    let gate = |rng: &mut StdRng| match rng.random_range(0..20) {
        0..12 => Gate::Zero,
        12..17 => Gate::Unset,
        _ => Gate::Short,
    };
    let operator = |rng: &mut StdRng| rng.random_bool(0.12);
    let waiting = view.waiting();
    // (weight, what) pairs; the weights say what an operator usually does next.
    let weights: [(u32, u8); 17] = if view.live {
        [
            (16, 0),                                            // resume
            (5, 1),                                             // rollback
            (2, 2),                                             // dry run
            (10, 3),                                            // attest
            (1, 4),                                             // abandon
            (1, 5),                                             // status
            (3, 6),                                             // kill a waiting command
            (3, 7),                                             // kill at a request
            (if waiting.is_empty() { 0 } else { 20 }, 8),       // a person does what is asked
            (5, 9),                                             // a person does or undoes anything
            (if marketo { 6 } else { 0 }, 10),                  // time passes
            (4, 11),                                            // a secret changes
            (5, 12),                                            // a fault
            (4, 13),                                            // faults cleared
            (2, 14),                                            // apply (another run; claims)
            (if postgres { 3 } else { 0 }, 15),                 // the database restarts
            (3 * u32::from(postgres) + u32::from(marketo), 16), // a second runner
        ]
    } else {
        [
            (3, 0),
            (2, 1),
            (1, 2),
            (2, 3),
            (1, 4),
            (1, 5),
            (0, 6),
            (3, 7),
            (0, 8),
            (3, 9),
            (if marketo { 2 } else { 0 }, 10),
            (3, 11),
            (3, 12),
            (2, 13),
            (30, 14),
            (if postgres { 2 } else { 0 }, 15),
            (5 * u32::from(postgres) + u32::from(marketo), 16),
        ]
    };
    let total: u32 = weights.iter().map(|(w, _)| w).sum();
    let mut at = rng.random_range(0..total);
    let mut what = 0;
    for (weight, kind) in weights {
        if at < weight {
            what = kind;
            break;
        }
        at -= weight;
    }
    let person_steps: Vec<&str> = site
        .steps()
        .iter()
        .filter(|s| s.by_person)
        .map(|s| s.id)
        .collect();
    match what {
        0 => Move::Resume {
            gate: gate(rng),
            operator: operator(rng),
        },
        1 => Move::Rollback {
            gate: gate(rng),
            operator: operator(rng),
        },
        2 => Move::DryRun,
        3 => {
            let all: Vec<&str> = site.steps().iter().map(|s| s.id).collect();
            let step = match rng.random_range(0..10) {
                0..6 if !waiting.is_empty() => waiting.choose(rng).cloned().unwrap_or_default(),
                9 => (*["r0-no-such-step", "r1-verify"].choose(rng).unwrap_or(&"")).to_owned(),
                _ => (*all.choose(rng).unwrap_or(&"r0-verify")).to_owned(),
            };
            Move::Attest {
                step,
                by: NAMES.choose(rng).copied().unwrap_or("Dana Ops"),
            }
        }
        4 => Move::Abandon,
        5 => Move::Status,
        6 => Move::KillWaiting { apply: !view.live },
        7 => Move::KillAtRequest {
            apply: !view.live,
            after: rng.random_range(0..8),
        },
        8 => {
            let step = waiting.choose(rng).cloned().unwrap_or_default();
            if site.model(&step).is_some_and(|m| m.by_person) {
                Move::Person {
                    step,
                    undo: view.rolling_back(),
                }
            } else {
                Move::Attest {
                    step,
                    by: NAMES.choose(rng).copied().unwrap_or("Dana Ops"),
                }
            }
        }
        9 => Move::Person {
            step: (*person_steps.choose(rng).unwrap_or(&"")).to_owned(),
            undo: rng.random_bool(0.4),
        },
        10 => Move::TimePasses,
        11 => Move::Secret(
            site.secret_changes()
                .choose(rng)
                .cloned()
                .unwrap_or(SecretChange::Restore),
        ),
        12 => {
            let faults = site.faults();
            let (label, mut rule) = faults.choose(rng).cloned().expect("a fault");
            let times = rng.random_range(1..=3);
            let after = rng.random_range(0..4);
            rule["times"] = times.into();
            rule["after"] = after.into();
            Move::Fault {
                label: format!("{label}, {times} time(s) after {after}"),
                rule,
            }
        }
        13 => Move::ClearFaults,
        15 => Move::RestartDatabase,
        16 => Move::Rival {
            restart_db: postgres && rng.random_bool(0.7),
            applied: rng.random_bool(0.5),
        },
        _ => Move::Apply {
            gate: gate(rng),
            operator: operator(rng),
        },
    }
}
