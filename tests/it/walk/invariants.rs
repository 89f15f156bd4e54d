//! The promise, as checks a walk makes after every command: the world is the original state,
//! the planned state, or what the run's journal explains; what the output claims agrees with
//! live state; the journal replays; no secret is shown; exit codes are documented ones;
//! attestations land only where they mean something; wording never upgrades evidence; and a
//! cooperative person gets every run to an end. Each check names its invariant, so a failure
//! says which promise it broke.
//!
//! Which invariant each class of issue 24 trips (the long walk on the main of 2026-12-07):
//!
//! | invariant | classes |
//! |---|---|
//! | 1 explained | item 10 (a stale `minted` scope recorded as a link, or as nothing to undo); item 2 (the old credential taken as the new one) |
//! | 2 claims | item 9 (the temporary user left: pending, and after `abandon`); item 7 (undo of what another run made); item 2; item 13 (a conflicted plan headlined "nothing to change"); item 1 (an irreversible step without a fresh look) |
//! | 6 attest | item 4 (a step not yet due); item 5 (a second attestation recorded) |
//! | 7 wording | item 6 ("the integrations were verified" when one was attested) |
//! | 8 converges | item 7 (an undo of another run's work that cannot happen); a gate or an undo that waits for what a person can no longer do |
//! | 10 transient | item 3 (a secret that cannot be read now; a change whose budget ran out) |

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::Value;

use super::world::{Facts, Site};
use crate::harness::{ENV, flat};

/// Which promise a failure broke. The numbers are the walk's, named in docs/testing.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Invariant {
    /// 1. The world is the original state, the planned state, or what the run's journal
    ///    explains (steps held, waited for, or undone).
    Explained,
    /// 2. Output that says done, rolled back, verified or nothing to change agrees with live
    ///    state at that moment.
    Claim,
    /// 3. Every run's journal replays: `status --format json` answers.
    Replays,
    /// 4. No secret value and no access token in any output or in the state.
    NoSecret,
    /// 5. Exit codes are the documented ones (0-4; a killed process has none).
    ExitCode,
    /// 6. `attest` is accepted only for a step that is due and nothing observes, once.
    Attest,
    /// 7. Wording never upgrades evidence: nothing attested is called verified.
    Wording,
    /// 8. With faults gone, secrets back and a person who does what is asked, a run ends
    ///    (done or rolled back) in a few rounds.
    Converges,
    /// 9. Every command ends on its own.
    Ends,
    /// 10. Only a refusal rolls a run back by itself: a check that cannot answer now, a
    ///     throttled or failed call, a secret that cannot be read now are waited out or pause.
    Transient,
    /// The walk itself broke (a panic in the test, not a promise of relinker's).
    Walk,
}

impl Invariant {
    /// The invariant's number in docs/testing.md (0 for the walk's own failure).
    pub fn number(self) -> u8 {
        match self {
            Invariant::Walk => 0,
            Invariant::Explained => 1,
            Invariant::Claim => 2,
            Invariant::Replays => 3,
            Invariant::NoSecret => 4,
            Invariant::ExitCode => 5,
            Invariant::Attest => 6,
            Invariant::Wording => 7,
            Invariant::Converges => 8,
            Invariant::Ends => 9,
            Invariant::Transient => 10,
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Invariant::Walk => return write!(f, "the walk itself (a bug of the test)"),
            Invariant::Explained => "the world is original, planned, or explained by the journal",
            Invariant::Claim => "what the output claims agrees with live state",
            Invariant::Replays => "the journal replays",
            Invariant::NoSecret => "no secret in any output",
            Invariant::ExitCode => "exit codes are documented ones",
            Invariant::Attest => "attestations only where and when they mean something",
            Invariant::Wording => "wording never upgrades evidence",
            Invariant::Converges => "a cooperative person gets the run to an end",
            Invariant::Ends => "every command ends",
            Invariant::Transient => "only a refusal rolls a run back by itself",
        };
        write!(f, "invariant {} ({name})", self.number())
    }
}

/// A broken promise.
#[derive(Debug)]
pub(super) struct Violation {
    pub invariant: Invariant,
    pub message: String,
}

impl Violation {
    pub fn new(invariant: Invariant, message: impl Into<String>) -> Self {
        Self {
            invariant,
            message: message.into(),
        }
    }
}

/// Step states in which a step's effect holds.
const HELD: [&str; 2] = ["applied", "already_satisfied"];
/// Step states in which its effect may or may not have come about (an intent without a
/// `done`, a person asked, a failure, an undo under way, a step done and then reopened because
/// something before it no longer held: its effect may still be there, to be seen again).
const IN_FLIGHT: [&str; 6] = [
    "in_doubt",
    "waiting_for_person",
    "reopened",
    "failed",
    "undo_in_doubt",
    "undo_waiting_for_person",
];

/// The values each fact may have while the run is where its journal says, starting from the
/// run's original state: a held step's effect, either side of a step in flight, and a step
/// pending or undone leaves what was before it.
pub(super) fn allowed(
    site: &Site,
    status: &Value,
    original: &Facts,
) -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut allowed: BTreeMap<&'static str, BTreeSet<String>> = original
        .iter()
        .map(|(fact, value)| (*fact, BTreeSet::from([value.clone()])))
        .collect();
    for model in site.steps() {
        let state = step_state(status, model.id);
        for change in model.changes {
            let values = allowed.entry(change.fact).or_default();
            let after = change.after.iter().map(|v| (*v).to_owned());
            if HELD.contains(&state) {
                *values = after.collect();
            } else if IN_FLIGHT.contains(&state) {
                values.extend(after);
            }
        }
    }
    allowed
}

/// A step's state in `status RUN --format json`.
pub(super) fn step_state<'a>(status: &'a Value, id: &str) -> &'a str {
    status["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|s| s["id"] == id))
        .and_then(|s| s["state"].as_str())
        .unwrap_or("pending")
}

/// Invariant 1 for a run that has not ended: every fact no person changed behind the run's
/// back is one the journal explains.
pub(super) fn explained(
    site: &Site,
    status: &Value,
    original: &Facts,
    world: &Facts,
    tainted: &BTreeSet<&'static str>,
) -> Result<(), Violation> {
    let allowed = allowed(site, status, original);
    let mut wrong = Vec::new();
    for (fact, value) in world {
        if tainted.contains(fact) {
            continue;
        }
        let Some(values) = allowed.get(fact) else {
            continue;
        };
        if !values.contains(value) {
            wrong.push(format!(
                "`{fact}` is {} but the journal allows only {}",
                cut(value),
                values
                    .iter()
                    .map(|v| cut(v))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
    }
    if wrong.is_empty() {
        return Ok(());
    }
    Err(Violation::new(
        Invariant::Explained,
        format!(
            "run is {} with steps [{}], and {}",
            status["status"].as_str().unwrap_or("?"),
            steps_line(status),
            wrong.join("; ")
        ),
    ))
}

/// The facts of the planned end state, from a start where the other facts hold.
pub(super) fn planned(site: &Site, start: &Facts) -> Facts {
    let mut facts = start.clone();
    for (fact, value) in site.planned() {
        facts.insert(fact, (*value).to_owned());
    }
    facts
}

/// The facts a verification proves.
pub(super) fn verified(site: &Site) -> Facts {
    site.verified()
        .iter()
        .map(|(fact, value)| (*fact, (*value).to_owned()))
        .collect()
}

/// Where `world` differs from `expected` in what the claim is about: exactly, except for a
/// fact a person changed behind the run's back, where only what relinker can observe counts.
pub(super) fn differences(
    site: &Site,
    world: &Facts,
    expected: &Facts,
    tainted: &BTreeSet<&'static str>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for (fact, want) in expected {
        let have = world.get(fact).map_or("(missing)", String::as_str);
        let differs = if tainted.contains(fact) {
            site.observed(fact, have) != site.observed(fact, want)
        } else {
            have != want
        };
        if differs {
            wrong.push(format!(
                "`{fact}` is {} (expected {})",
                cut(have),
                cut(want)
            ));
        }
    }
    wrong
}

/// What an output claims about the world.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Claim {
    /// The run is done: the planned state.
    Done(String),
    /// The run is rolled back: its original state.
    RolledBack(String),
    /// The plan already holds: the planned state.
    NothingToChange,
    /// The rotation's verification passed.
    Verified,
    /// A sentence the world names as a fact about itself: `fact` reads as `value` does.
    Says {
        phrase: &'static str,
        fact: &'static str,
        value: &'static str,
    },
}

/// The claims in a command's output about the runs `ids` (`target`: the run the command was
/// about, for sentences that do not name it).
pub(super) fn claims(site: &Site, raw: &str, ids: &[String], target: Option<&str>) -> Vec<Claim> {
    let text = flat(raw);
    let mut found = Vec::new();
    for (phrase, fact, value) in site.phrases() {
        if text.contains(phrase) {
            found.push(Claim::Says {
                phrase,
                fact,
                value,
            });
        }
    }
    for id in ids {
        if text.contains(&format!("run {id} done")) || text.contains(&format!("run {id} is done")) {
            found.push(Claim::Done(id.clone()));
        }
        if text.contains(&format!("run {id} rolled back"))
            || text.contains(&format!("run {id} is rolled back"))
            || text.contains(&format!("run {id} is already rolled back"))
        {
            found.push(Claim::RolledBack(id.clone()));
        }
    }
    if let Some(target) = target
        && text.contains("everything the run changed was rolled back")
    {
        found.push(Claim::RolledBack(target.to_owned()));
    }
    if text.contains("nothing to change") {
        found.push(Claim::NothingToChange);
    }
    // An attested verification says so on its line, and claims no more than a person's word.
    let verified = raw
        .lines()
        .any(|line| line.trim_start().starts_with("✓ r0-verify") && !line.contains("attested"));
    if verified {
        found.push(Claim::Verified);
    }
    found.dedup();
    found
}

/// Invariant 5: a command that was not killed exits with a documented code.
pub(super) fn exit_code(code: Option<i32>, killed: bool) -> Result<(), Violation> {
    match code {
        Some(0..=4) => Ok(()),
        None if killed => Ok(()),
        other => Err(Violation::new(
            Invariant::ExitCode,
            format!("exit code {other:?} is not a documented one (0-4)"),
        )),
    }
}

/// Invariant 4: no secret value, and no access token.
pub(super) fn no_secrets(site: &Site, text: &str) -> Result<(), Violation> {
    let mut leaked: Vec<&str> = ENV
        .iter()
        .filter(|(_, secret)| text.contains(secret))
        .map(|(name, _)| *name)
        .collect();
    leaked.extend(
        site.secrets()
            .iter()
            .filter(|secret| text.contains(*secret))
            .map(|_| "a platform password"),
    );
    if text.contains(":int") {
        leaked.push("an access token");
    }
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(Violation::new(
            Invariant::NoSecret,
            format!("leaked: {}", leaked.join(", ")),
        ))
    }
}

/// Invariant 7: while the run holds an attested step, nothing the output says calls what was
/// attested "verified". A step line `✓ STEP: verified` is about that step alone and is fine for
/// a step something observes.
pub(super) fn wording(status: &Value, text: &str) -> Result<(), Violation> {
    let steps = status["steps"].as_array().map_or(&[][..], Vec::as_slice);
    let attested_held = steps.iter().any(|s| {
        s["verification"] == "attested" && HELD.contains(&s["state"].as_str().unwrap_or(""))
    });
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix("✓ ") {
            let id = rest.split(':').next().unwrap_or_default();
            let verification = steps
                .iter()
                .find(|s| s["id"] == id)
                .and_then(|s| s["verification"].as_str());
            if rest.contains(": verified") && verification == Some("attested") {
                return Err(Violation::new(
                    Invariant::Wording,
                    format!("an attested step is shown as verified: {}", line.trim()),
                ));
            }
            continue;
        }
        let lower = line.to_lowercase();
        let upgraded = lower.match_indices("verified").any(|(at, _)| {
            let before = &lower[..at];
            !before.ends_with("not ")
                && !before.ends_with("never as ")
                && !before.ends_with("never ")
        });
        if attested_held
            && upgraded
            && !lower.contains("rotation is verified and only rolls forward")
        {
            return Err(Violation::new(
                Invariant::Wording,
                format!(
                    "a step was only attested, and the output says: {}",
                    line.trim()
                ),
            ));
        }
    }
    Ok(())
}

/// What a failure says when it is about now, not about the world: a check that cannot
/// answer, a throttled, failed or lost call, a secret that cannot be read at the moment.
const TRANSIENT: [&str; 11] = [
    "cannot check",
    "429",
    "RATE_LIMIT",
    "cannot read the credential",
    "could not connect",
    "connection closed",
    "timed out",
    "HTTP 5",
    "no such file",
    "No such file",
    "is not set",
];

/// Invariant 10: a command that was not `rollback` and rolled its run back names a refusal,
/// not a transient failure.
pub(super) fn rolled_back_for_now(text: &str) -> Result<(), Violation> {
    let rolled = text.lines().skip(1).any(|l| l.trim() == "rolling back");
    if !rolled || text.starts_with("rolling back") {
        return Ok(());
    }
    let failure = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("✗ ") && TRANSIENT.iter().any(|t| l.contains(t)));
    match failure {
        Some(line) => Err(Violation::new(
            Invariant::Transient,
            format!("a transient failure rolled the run back: {}", cut(line)),
        )),
        None => Ok(()),
    }
}

/// `id:state` of every step, for messages.
pub(super) fn steps_line(status: &Value) -> String {
    status["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            format!(
                "{}:{}",
                s["id"].as_str().unwrap_or("?").trim_start_matches("r0-"),
                s["state"].as_str().unwrap_or("?")
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A value short enough for a message.
pub(super) fn cut(value: &str) -> String {
    if value.chars().count() > 90 {
        format!("{}…", value.chars().take(90).collect::<String>())
    } else if value.is_empty() {
        "(empty)".into()
    } else {
        value.to_owned()
    }
}
