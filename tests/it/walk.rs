//! The operator walk (issue 24, item 15): seeded random sequences of what operators and the
//! world do to a run, in the spirit of Jepsen and FoundationDB's simulation testing, on every
//! platform and under Marketo's readings, with the promise checked after every command. A walk
//! is (world, seed) -> a sequence of moves; it ends with a cooperative person healing the world
//! and finishing the run. A failing walk prints its moves and the command that replays it.
//!
//! This module owns the configuration and the report; `walker` plays one walk (`checks` after
//! every command, `kill` and `rival` for the crashes and the second runner, `heal` for the
//! end), `world` knows the platforms, `moves` picks what happens next, `invariants` says what
//! must hold. The short walk runs under plain `cargo test`; the long one is documented in
//! docs/testing.md.

mod checks;
mod heal;
mod invariants;
mod kill;
mod moves;
mod rival;
mod walker;
mod world;

use std::collections::BTreeMap;
use std::fmt;

use invariants::{Invariant, Violation};
use walker::Walker;
use world::{Spec, WORLDS};

/// What to walk, from the environment (docs/testing.md).
/// Moves per walk in the long walk.
const LONG_STEPS: usize = 30;

/// Long-walk seeds that once failed, walked again by the short walk at the long walk's length
/// (each fixed with a test of its own; the walk keeps the sequence that found it).
const REGRESSIONS: [(&str, u64); 3] = [
    // A refused credential failed a step, and its rollback trusted a stale token.
    ("marketo-minted", 7),
    // "Nothing to change" while an earlier run was rolling back.
    ("marketo-minted", 17),
    // A rollback and a plan that took tokens minted before a person's relink as evidence.
    ("marketo-minted", 19),
];

struct Config {
    worlds: Vec<&'static Spec>,
    /// Seeds per world: listed ones, the short walk's, or 1..=n.
    seeds: Seeds,
    steps: usize,
    jobs: usize,
    long: bool,
    /// Print every walk's moves, not only a failing one's.
    verbose: bool,
    /// A file for every failing walk in full (the panic shows the shortest of each class).
    report: Option<String>,
    /// Invariants (by number) to log and walk past, to see what the classes already known
    /// would hide.
    pass_over: Vec<u8>,
}

enum Seeds {
    Listed(Vec<u64>),
    Short,
    Count(u64),
}

impl Config {
    fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let number = |name: &str| {
            var(name).map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| panic!("{name}={v:?} is not a number"))
            })
        };
        let long = var("RELINKER_WALK").as_deref() == Some("long");
        let worlds: Vec<&'static Spec> = match var("RELINKER_WALK_PLATFORM") {
            Some(names) => names
                .split(',')
                .map(|name| {
                    WORLDS.iter().find(|w| w.name == name).unwrap_or_else(|| {
                        panic!(
                            "RELINKER_WALK_PLATFORM={name:?}: worlds are {}",
                            WORLDS.iter().map(|w| w.name).collect::<Vec<_>>().join(", ")
                        )
                    })
                })
                .collect(),
            None => WORLDS.iter().collect(),
        };
        let listed = var("RELINKER_WALK_SEED").map(|seeds| {
            seeds
                .split(',')
                .map(|seed| {
                    seed.trim().parse::<u64>().unwrap_or_else(|_| {
                        panic!(
                            "RELINKER_WALK_SEED={seeds:?}: seeds are numbers, separated by commas"
                        )
                    })
                })
                .collect::<Vec<u64>>()
        });
        let seeds = match (listed, long) {
            (Some(seeds), _) => Seeds::Listed(seeds),
            (None, true) => Seeds::Count(number("RELINKER_WALK_COUNT").unwrap_or(40)),
            (None, false) => Seeds::Short,
        };
        let steps =
            number("RELINKER_WALK_STEPS").unwrap_or(if long { LONG_STEPS as u64 } else { 12 });
        let jobs = number("RELINKER_WALK_JOBS").unwrap_or(if long { 3 } else { 2 });
        Self {
            worlds,
            seeds,
            steps: usize::try_from(steps).unwrap_or(usize::MAX),
            jobs: usize::try_from(jobs.max(1)).unwrap_or(1),
            long,
            verbose: var("RELINKER_WALK_LOG").is_some(),
            report: var("RELINKER_WALK_REPORT"),
            pass_over: var("RELINKER_WALK_PASS_OVER")
                .map(|list| {
                    list.split(',')
                        .map(|n| {
                            n.trim().parse::<u8>().unwrap_or_else(|_| {
                                panic!("RELINKER_WALK_PASS_OVER={list:?}: invariant numbers, separated by commas")
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Each walk to take: its world, its seed, and how many moves.
    fn walks(&self) -> Vec<(&'static Spec, u64, usize)> {
        let mut walks = Vec::new();
        for spec in &self.worlds {
            let seeds: Vec<u64> = match self.seeds {
                Seeds::Listed(ref seeds) => seeds.clone(),
                Seeds::Short => (1..=spec.short_seeds).collect(),
                Seeds::Count(n) => (1..=n).collect(),
            };
            walks.extend(seeds.into_iter().map(|seed| (*spec, seed, self.steps)));
            if matches!(self.seeds, Seeds::Short) {
                walks.extend(
                    REGRESSIONS
                        .iter()
                        .filter(|(world, _)| *world == spec.name)
                        .map(|(_, seed)| (*spec, *seed, LONG_STEPS)),
                );
            }
        }
        walks
    }
}

/// A walk that broke a promise.
struct Failure {
    world: &'static str,
    seed: u64,
    steps: usize,
    violation: Violation,
    log: Vec<String>,
    /// The output of the command after which the promise was broken.
    output: String,
}

impl Failure {
    /// The invariant and the message without run ids: walks that failed alike group together.
    fn signature(&self) -> String {
        let mut words: Vec<String> = Vec::new();
        for word in self.violation.message.split_whitespace().take(14) {
            let bare = word.trim_matches(|c: char| !c.is_alphanumeric());
            let is_run = bare.starts_with('w') && bare[1..].chars().all(|c| c.is_ascii_digit());
            words.push(if is_run && bare.len() > 1 {
                "wN".into()
            } else {
                word.to_owned()
            });
        }
        format!("{}: {}", self.violation.invariant, words.join(" "))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "operator walk `{}` seed {} broke {}:\n  {}",
            self.world, self.seed, self.violation.invariant, self.violation.message
        )?;
        writeln!(f, "moves:")?;
        for line in &self.log {
            writeln!(f, "  {line}")?;
        }
        writeln!(f, "output of the last command:")?;
        for line in self.output.lines().take(80) {
            writeln!(f, "  | {line}")?;
        }
        writeln!(
            f,
            "replay: RELINKER_WALK_SEED={} RELINKER_WALK_PLATFORM={} RELINKER_WALK_STEPS={} cargo test --test it walk -- --nocapture",
            self.seed, self.world, self.steps
        )
    }
}

/// A world's own generator for a seed: the same seed walks differently in each world.
fn mix(world: &str, seed: u64) -> u64 {
    // FNV-1a: stable across Rust versions, unlike the standard library's hashers.
    world
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325 ^ seed, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Walks every (world, seed) the configuration names, `jobs` at a time; answers the failures.
async fn walk_all(config: &Config) -> (usize, usize, Vec<Failure>) {
    let walks = config.walks();
    let total = walks.len();
    let mut failures = Vec::new();
    let mut moves = 0;
    let mut pending = walks.into_iter();
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < config.jobs {
            let Some((spec, seed, steps)) = pending.next() else {
                break;
            };
            let pass_over = config.pass_over.clone();
            running.spawn(async move {
                // A walk of its own task: a panic in it (a bug of the walk) is that walk's
                // failure, and the others go on.
                let walk = tokio::spawn(async move {
                    match Walker::start(spec, seed, steps, pass_over).await {
                        Some(walker) => Some(walker.walk().await),
                        None => None,
                    }
                });
                let walked = walk.await.unwrap_or_else(|panic| {
                    Some(Err(Failure {
                        world: spec.name,
                        seed,
                        steps,
                        violation: Violation::new(Invariant::Walk, panic.to_string()),
                        log: Vec::new(),
                        output: String::new(),
                    }))
                });
                (spec.name, seed, walked)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (name, seed, result) = done.expect("a walk panicked");
        match result {
            None => eprintln!("walk {name} seed {seed}: passed over (no PostgreSQL here)"),
            Some(Ok(log)) => {
                moves += log.len();
                for line in log.iter().filter(|l| l.contains("[passed over: ")) {
                    eprintln!(
                        "walk {name} seed {seed}: {}",
                        &line[line.find("[passed over: ").unwrap_or(0)..]
                    );
                }
                if config.long || config.verbose {
                    eprintln!("walk {name} seed {seed}: ok, {} moves", log.len());
                }
                if config.verbose {
                    eprintln!("  {}", log.join("\n  "));
                }
            }
            Some(Err(failure)) => {
                moves += failure.log.len();
                eprintln!("walk {name} seed {seed}: {}", failure.signature());
                failures.push(failure);
            }
        }
    }
    (total, moves, failures)
}

/// The walk: short under plain `cargo test`, long with `RELINKER_WALK=long`, one seed with
/// `RELINKER_WALK_SEED` (docs/testing.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_walk() {
    let config = Config::from_env();
    let (walks, moves, mut failures) = walk_all(&config).await;
    failures.sort_by_key(|f| (f.signature(), f.log.len()));
    let mut classes: BTreeMap<String, Vec<&Failure>> = BTreeMap::new();
    for failure in &failures {
        classes
            .entry(failure.signature())
            .or_default()
            .push(failure);
    }
    eprintln!(
        "operator walk: {walks} walks, {moves} moves, {} failed, in {} classes",
        failures.len(),
        classes.len()
    );
    for (signature, members) in &classes {
        let seeds: Vec<String> = members
            .iter()
            .map(|f| format!("{}#{}", f.world, f.seed))
            .collect();
        eprintln!(
            "  {} x {signature}\n      {}",
            members.len(),
            seeds.join(" ")
        );
    }
    if failures.is_empty() {
        return;
    }
    if let Some(path) = &config.report {
        let all: Vec<String> = failures.iter().map(Failure::to_string).collect();
        std::fs::write(path, all.join("\n")).expect("write the walk's report");
        eprintln!("every failing walk, in full: {path}");
    }
    // The shortest walk of each class, in full: each is a reproduction.
    let mut report = String::new();
    for members in classes.values() {
        if let Some(shortest) = members.iter().min_by_key(|f| f.log.len()) {
            report.push_str(&shortest.to_string());
            report.push('\n');
        }
    }
    panic!("{report}");
}
