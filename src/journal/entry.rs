//! Journal records: one JSON object per line, each stamped with the time it was written.
//!
//! Records say what the run observed and decided, never how a code path got there: a step is
//! `done` with the effect the run had on live state (`changed` when the run found the state
//! different and it now holds, whoever made the change), and rollback is computed from those
//! effects alone. Journals written by earlier versions (no timestamps, `applied: bool`, no
//! format version) still read; the `started` record names the format its run is written in.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::{ServiceName, StepId};
use crate::plan::OnFailure;
use crate::provider::Step;
use crate::secret::{CredentialFingerprint, Fingerprint};

/// One line of `journal.jsonl`: a record and when it was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// When it was written, RFC 3339 in UTC. Absent only in journals from before timestamps.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339",
        deserialize_with = "from_rfc3339"
    )]
    pub at: Option<DateTime<Utc>>,
    /// The link to the record before it (see `chain`): absent only in journals written before
    /// records were linked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub entry: Entry,
}

impl Record {
    /// A record written now. The time is kept to the millisecond, as it is stored, so a
    /// record reads back exactly as it was applied in memory (an attestation names the ask it
    /// answers by that time).
    pub fn now(entry: Entry) -> Self {
        Self {
            at: Some(now_ms()),
            prev: None,
            entry,
        }
    }
}

/// The time now, to the millisecond: what a record or an attestation stores.
pub fn now_ms() -> DateTime<Utc> {
    use chrono::SubsecRound;
    Utc::now().trunc_subsecs(3)
}

// serde's `serialize_with` hands over a reference to the field.
#[allow(clippy::ref_option)]
fn rfc3339<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        None => serializer.serialize_none(),
    }
}

fn rfc3339_required<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn from_rfc3339<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    Option::<DateTime<Utc>>::deserialize(deserializer)
}

/// The journal format this relinker writes and reads; a run started in a newer one is refused,
/// not misread (its records may mean what this binary cannot know).
pub const FORMAT_VERSION: u32 = 1;

/// Journals from before the format was recorded are the first format.
fn first_format() -> u32 {
    1
}

/// The `started` record: the run's steps, fixed at its start, and what it must prove unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Started {
    /// The journal format the run is written in ([`FORMAT_VERSION`] for runs this binary
    /// starts). Absent in journals of older relinkers, which are format 1.
    #[serde(default = "first_format")]
    pub format_version: u32,
    /// Plan name.
    pub plan: String,
    /// SHA-256 of the plan file.
    pub plan_sha256: Fingerprint,
    /// The instance.
    pub instance: String,
    /// Whether the run used an embedded sandbox (which ends with its process).
    pub sandbox: bool,
    /// The folder the plan file was in, for its relative references.
    pub plan_dir: String,
    /// What a failed step leads to, decided when the run started. Absent in older journals,
    /// which take it from the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// The compiled steps.
    pub steps: Vec<Step>,
    /// Each service's credential fingerprint at the start: argon2id with one salt for the
    /// run, or `sha256:` in journals of older relinkers.
    pub credentials: BTreeMap<ServiceName, CredentialFingerprint>,
    /// Who started the run, and where. Absent in journals of older relinkers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
}

/// Who started a run and where, as the starting process's environment said: for an auditor,
/// not for authority (anyone who can run relinker can set these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The login name (`$USER`), or `unknown`.
    pub user: String,
    /// The host name, or `unknown`.
    pub host: String,
    /// The CI job that ran it, when the environment names one (a URL where there is one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_job: Option<String>,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} on {}", self.user, self.host)?;
        if let Some(job) = &self.ci_job {
            write!(f, " (CI job {job})")?;
        }
        Ok(())
    }
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// The run began (always the first record).
    Started(Box<Started>),
    /// A step's check found live state different from what the step wants; a change is about
    /// to be sent, or a person asked (written and fsynced first).
    Intent {
        /// The step id.
        step: StepId,
    },
    /// What a step that creates something made, as live state showed it right after the step
    /// held: the identity its undo deletes, and nothing else (written before its `done`).
    Made {
        /// The step.
        step: StepId,
        /// The thing made, as the platform names it (a username, a userid).
        identity: String,
        /// The fingerprint of the credential it answered to, where the platform knows it by
        /// that (see [`crate::provider::Made`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        credential: Option<crate::secret::CredentialFingerprint>,
    },
    /// A creating step found its thing already there, made by an earlier run that was given
    /// up (abandoned) with it in place: this run takes it over, as made by itself, so its
    /// rollback and its plan's own cleanup treat it as the run's (written with `started`).
    Adopted {
        /// The creating step.
        step: StepId,
        /// What it made, as that run recorded it.
        identity: String,
        /// The abandoned run that made it.
        from: crate::ids::RunId,
    },
    /// A step that held no longer does (a fact an irreversible step rests on was read again and
    /// had changed): it and the steps after it in its rotation are to be done again.
    Reopened {
        /// The earliest step that no longer holds.
        step: StepId,
        /// What live state shows now.
        reason: String,
    },
    /// A step holds.
    Done {
        /// The step id.
        step: StepId,
        /// Whether the run changed live state for it.
        #[serde(alias = "applied")]
        effect: StepEffect,
    },
    /// A named person confirmed a step nothing can observe (or its undo) was done.
    Attested {
        /// The step.
        step: StepId,
        /// Whether it is the step's undo that was confirmed.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undo: bool,
        /// Who.
        by: String,
        /// When they said so.
        #[serde(serialize_with = "rfc3339_required")]
        attested_at: DateTime<Utc>,
        /// What they said.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    /// A step was passed over on purpose; the reason says why.
    Skipped {
        /// The step id.
        step: StepId,
        /// Why.
        reason: String,
    },
    /// The run stopped at a manual step nobody has done yet.
    Paused {
        /// The step id.
        step: StepId,
        /// What the person must do.
        waiting_for: String,
        /// Whether the last look could not tell if it was done (so a person's attestation may
        /// stand in for what cannot be observed now).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        cannot_tell: bool,
    },
    /// A step failed after its retries.
    Failed {
        /// The step id.
        step: StepId,
        /// Why, as a person reads it.
        error: String,
        /// Whether it may have changed live state before failing. Absent in journals written
        /// before this was recorded, which read as unchanged.
        #[serde(default, skip_serializing_if = "FailureEffect::is_unchanged")]
        effect: FailureEffect,
    },
    /// The run is to be rolled back (by its policy after a failure, or by a person).
    RollbackStarted {
        /// Why.
        reason: String,
    },
    /// A step's compensation is about to run.
    UndoIntent {
        /// The step being undone.
        step: StepId,
    },
    /// A step's compensation waits for a person.
    UndoPaused {
        /// The step being undone.
        step: StepId,
        /// What the person must do.
        waiting_for: String,
        /// Whether the last look could not tell if it was undone.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        cannot_tell: bool,
    },
    /// A step was undone, or found to need no undoing.
    Undone {
        /// The step.
        step: StepId,
    },
    /// Rollback stopped short.
    RollbackIncomplete {
        /// Why.
        reason: String,
    },
    /// Every step holds and every check passed.
    Finished,
    /// Rollback undid everything it needed to.
    RolledBack,
    /// A person gave the run up: it is left as it is and no longer claims its users.
    Abandoned {
        /// Who.
        by: String,
        /// Why.
        reason: String,
    },
    /// A notice about the run reached its webhook. What it was about is kept, so that a run
    /// still paused at the same steps is not told again on every scheduled resume.
    Notified {
        /// The event and a digest of what it waited for ([`crate::notify::Notice::about`]).
        about: String,
    },
}

/// A person's word that a step (or its undo) was done, as `relinker attest` records it beside
/// the journal (a run waiting at a terminal holds the journal's lock; this needs none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// When.
    #[serde(serialize_with = "rfc3339_required")]
    pub at: DateTime<Utc>,
    /// The step.
    pub step: StepId,
    /// Whether it is the step's undo.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub undo: bool,
    /// Who.
    pub by: String,
    /// What they said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When the run asked a person for the step (its latest `intent`, as the journal stores
    /// it): the ask this attestation answers. A run accepts it only while that ask stands, so
    /// an attestation never carries over to a later ask. Absent in attestations written by
    /// earlier versions.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "rfc3339",
        deserialize_with = "from_rfc3339"
    )]
    pub asked: Option<DateTime<Utc>>,
    /// Its HMAC under the state key, when the store has one: an attestation without it (or
    /// with another) is not taken in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
}

/// What a step that holds changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEffect {
    /// The run found live state different and it now holds: the run's effect, whoever made
    /// the change (relinker through the API, or a person the run asked).
    Changed,
    /// Live state already held when the run got there, as the plan expected.
    Unchanged,
}

impl Serialize for StepEffect {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            StepEffect::Changed => "changed",
            StepEffect::Unchanged => "unchanged",
        })
    }
}

impl<'de> Deserialize<'de> for StepEffect {
    /// Reads `"changed"`/`"unchanged"`, and the `applied: true|false` of older journals.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Applied(bool),
            Word(String),
        }
        match Repr::deserialize(deserializer)? {
            Repr::Applied(true) => Ok(StepEffect::Changed),
            Repr::Applied(false) => Ok(StepEffect::Unchanged),
            Repr::Word(word) => match word.as_str() {
                "changed" => Ok(StepEffect::Changed),
                "unchanged" => Ok(StepEffect::Unchanged),
                other => Err(serde::de::Error::unknown_variant(
                    other,
                    &["changed", "unchanged"],
                )),
            },
        }
    }
}

/// What a failed step may have left behind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureEffect {
    /// Live state shows it did not take effect: a check failed, the request was refused, or a
    /// re-read after a failed request found nothing changed.
    #[default]
    Unchanged,
    /// Its change was made, or may have been (a person acted, an answer was lost), but could
    /// not be verified: rollback must consider undoing it.
    MaybeChanged,
}

impl FailureEffect {
    // serde's `skip_serializing_if` hands over a reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    fn is_unchanged(&self) -> bool {
        *self == FailureEffect::Unchanged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: &str) -> StepId {
        StepId::new(id)
    }

    #[test]
    fn records_carry_an_rfc3339_utc_timestamp() {
        let record = Record {
            prev: None,
            at: Some(
                DateTime::parse_from_rfc3339("2026-11-23T10:46:32.5+01:00")
                    .unwrap()
                    .with_timezone(&Utc),
            ),
            entry: Entry::Intent { step: step("a") },
        };
        let line = serde_json::to_string(&record).unwrap();
        assert_eq!(
            line,
            r#"{"at":"2026-11-23T09:46:32.500Z","kind":"intent","step":"a"}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), record);
    }

    #[test]
    fn journals_from_earlier_versions_still_read() {
        let old = [
            (
                r#"{"kind":"done","step":"a","applied":true}"#,
                Entry::Done {
                    step: step("a"),
                    effect: StepEffect::Changed,
                },
            ),
            (
                r#"{"kind":"done","step":"a","applied":false}"#,
                Entry::Done {
                    step: step("a"),
                    effect: StepEffect::Unchanged,
                },
            ),
            (
                r#"{"kind":"failed","step":"a","error":"boom"}"#,
                Entry::Failed {
                    step: step("a"),
                    error: "boom".into(),
                    effect: FailureEffect::Unchanged,
                },
            ),
            (r#"{"kind":"finished"}"#, Entry::Finished),
        ];
        for (line, entry) in old {
            let record: Record = serde_json::from_str(line).unwrap();
            assert_eq!((record.at, record.entry), (None, entry), "{line}");
        }
        let line = serde_json::to_string(&Record {
            at: None,
            prev: None,
            entry: Entry::Failed {
                step: step("a"),
                error: "boom".into(),
                effect: FailureEffect::MaybeChanged,
            },
        })
        .unwrap();
        assert!(line.contains(r#""effect":"maybe_changed""#), "{line}");
    }
}
