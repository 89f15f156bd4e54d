//! Saved plans (`plan --out`): what was reviewed, pinned so `apply` can refuse anything else.
//!
//! A saved plan records the plan file (as a path relative to the saved plan itself, so it
//! applies from any directory), its SHA-256, the live state it was compiled from, the
//! compiled steps, and how its credential fingerprints were derived (the salt is public; see
//! [`crate::secret`]), so that applying it fingerprints the same credentials the same way. Applying it compiles the plan file again against live state now: the plan
//! file must be the same, live state must be the same, and the steps must be exactly the saved
//! ones. Any difference is named, and nothing is sent.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::ids::StepId;
use crate::provider::{Compiled, LiveState, Step};
use crate::secret::{Fingerprint, Fingerprinter};

/// Version of the saved-plan format.
pub const SAVED_FORMAT_VERSION: u32 = 2;

/// A plan as reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Format version.
    pub format_version: u32,
    /// The plan file, relative to the folder the saved plan is in.
    pub plan_file: String,
    /// SHA-256 of the plan file's bytes.
    pub plan_sha256: Fingerprint,
    /// The plan file's text (references only: plans hold no secrets).
    pub plan_text: String,
    /// The instance it was computed against.
    pub instance: String,
    /// The live state it was computed from (no secrets: credentials appear as fingerprints).
    pub live: LiveState,
    /// How the live state's credential fingerprints were derived: argon2id and the salt of
    /// this saved plan. Absent from saved plans of older relinkers, which used unsalted SHA-256.
    #[serde(default = "Fingerprinter::legacy")]
    pub credential_fingerprints: Fingerprinter,
    /// The steps.
    pub compiled: Compiled,
}

/// Why a saved plan is not what would run now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Staleness {
    /// The plan file's bytes differ.
    #[error(
        "the plan file `{file}` changed since the plan was saved ({saved} then, {now} now); run `relinker plan --out` again and have it reviewed"
    )]
    PlanChanged {
        /// The file.
        file: String,
        /// Fingerprint when saved.
        saved: Fingerprint,
        /// Fingerprint now.
        now: Fingerprint,
    },
    /// Live state differs.
    #[error(
        "live state changed since the plan was saved: {}; run `relinker plan --out` again and have it reviewed",
        differences.join("; ")
    )]
    LiveChanged {
        /// What differs, in words.
        differences: Vec<String>,
    },
    /// The saved steps are not what the plan file compiles to: the saved plan was edited.
    #[error(
        "the saved plan's steps are not what its plan file compiles to (was it edited?): {}; nothing was sent. Run `relinker plan --out` again and have it reviewed",
        differences.join("; ")
    )]
    StepsDiffer {
        /// What differs, in words.
        differences: Vec<String>,
    },
}

/// Why a saved plan could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// It cannot be written where asked.
    #[error("cannot write saved plan `{path}`: {reason}")]
    Write {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file cannot be used: unreadable, not a regular file, over 1 MiB, not UTF-8.
    #[error("{0}")]
    Read(#[from] crate::input::InputError),
    /// Not a saved plan this relinker reads.
    #[error("`{path}` is not a saved plan of format version {SAVED_FORMAT_VERSION}: {reason}")]
    Format {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

impl SavedPlan {
    /// A saved plan of `plan_file` to be written at `saved_at`; `fingerprinter` made the
    /// credential fingerprints in `live`.
    pub fn new(
        plan_file: &Path,
        saved_at: &Path,
        plan_bytes: &[u8],
        instance: &str,
        live: LiveState,
        compiled: Compiled,
        fingerprinter: Fingerprinter,
    ) -> Self {
        let relative = crate::paths::relative(plan_file, crate::paths::parent(saved_at));
        Self {
            format_version: SAVED_FORMAT_VERSION,
            plan_file: relative.display().to_string(),
            plan_sha256: Fingerprint::of(plan_bytes),
            plan_text: String::from_utf8_lossy(plan_bytes).into_owned(),
            instance: instance.to_owned(),
            live,
            credential_fingerprints: fingerprinter,
            compiled,
        }
    }

    /// Where the plan file is, for a saved plan read from `saved_at`.
    pub fn plan_path(&self, saved_at: &Path) -> PathBuf {
        crate::paths::parent(saved_at).join(&self.plan_file)
    }

    /// Writes the saved plan: a temporary file beside it, synced, then renamed into place, so a
    /// crash leaves either the old file or the new one, never half of one.
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let io = |source: std::io::Error| SavedPlanError::Write {
            path: path.display().to_string(),
            reason: crate::input::reason(&source),
        };
        if let Some(reason) = crate::paths::output_file_problem(path) {
            return Err(SavedPlanError::Write {
                path: path.display().to_string(),
                reason,
            });
        }
        let mut text =
            serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        text.push('\n');
        crate::paths::write_atomically(path, text.as_bytes()).map_err(io)
    }

    /// The plan text it holds, as the plan it was saved from: refused if the text is not the
    /// one its SHA-256 pins (a saved plan edited by hand shows nothing it did not review).
    pub fn saved_plan(
        &self,
        saved_at: &Path,
        named: &[crate::plan::NamedInstance],
    ) -> Result<crate::plan::Plan, SavedPlanError> {
        let path = saved_at.display().to_string();
        if Fingerprint::of(self.plan_text.as_bytes()) != self.plan_sha256 {
            return Err(SavedPlanError::Format {
                path,
                reason: format!(
                    "its `plan_text` is not the plan file it pins ({}): it was edited after `relinker plan --out` wrote it",
                    self.plan_sha256
                ),
            });
        }
        let origin = format!("{path} (plan_text, saved from {})", self.plan_file);
        let plan_dir = crate::paths::parent(&self.plan_path(saved_at)).to_path_buf();
        crate::plan::parse_with(&self.plan_text, &origin, &plan_dir, named).map_err(|error| {
            SavedPlanError::Format {
                path,
                reason: error.to_string(),
            }
        })
    }

    /// Reads a saved plan.
    pub fn read(path: &Path) -> Result<Self, SavedPlanError> {
        let text = crate::input::read_text(path, crate::input::Kind::SavedPlan)?;
        let format = |reason: String| SavedPlanError::Format {
            path: path.display().to_string(),
            reason,
        };
        let version = serde_json::from_str::<serde_json::Value>(&text)
            .map_err(|e| format(e.to_string()))?
            .get("format_version")
            .and_then(serde_json::Value::as_u64);
        if version != Some(u64::from(SAVED_FORMAT_VERSION)) {
            let which = version.map_or_else(
                || "no format version".into(),
                |v| format!("format version {v}"),
            );
            return Err(format(format!(
                "it has {which}; run `relinker plan --out` again"
            )));
        }
        serde_json::from_str(&text).map_err(|e| format(e.to_string()))
    }

    /// Compares with the plan file, live state and the steps the plan compiles to now.
    pub fn check(
        &self,
        plan_bytes: &[u8],
        live_now: &LiveState,
        compiled_now: &Compiled,
    ) -> Result<(), Staleness> {
        let now = Fingerprint::of(plan_bytes);
        if now != self.plan_sha256 {
            return Err(Staleness::PlanChanged {
                file: self.plan_file.clone(),
                saved: self.plan_sha256.clone(),
                now,
            });
        }
        if self.live.fingerprint() != live_now.fingerprint() {
            return Err(Staleness::LiveChanged {
                differences: self.live.differences(live_now),
            });
        }
        let differences = step_differences(&self.compiled.steps, &compiled_now.steps);
        if differences.is_empty() {
            Ok(())
        } else {
            Err(Staleness::StepsDiffer { differences })
        }
    }
}

/// How two step lists differ, in words.
fn step_differences(saved: &[Step], now: &[Step]) -> Vec<String> {
    let find = |steps: &'_ [Step], id: &StepId| steps.iter().position(|s| &s.id == id);
    let mut out = Vec::new();
    for (index, step) in saved.iter().enumerate() {
        match find(now, &step.id) {
            None => out.push(format!(
                "the saved plan has step `{}` ({}), which the plan does not",
                step.id,
                step.action.describe()
            )),
            Some(at) if now[at] != *step => out.push(format!(
                "step `{}` would {} in the saved plan, but {} per the plan",
                step.id,
                step.action.describe(),
                now[at].action.describe()
            )),
            Some(at) if at != index => out.push(format!("step `{}` is out of order", step.id)),
            Some(_) => {}
        }
    }
    for step in now.iter().filter(|s| find(saved, &s.id).is_none()) {
        out.push(format!(
            "the plan has step `{}` ({}), which the saved plan lacks",
            step.id,
            step.action.describe()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserId;
    use crate::provider::marketo::{self, Snapshot};
    use crate::provider::{Op, Readiness};

    fn delete(id: &str, user: &str) -> Step {
        Step {
            id: StepId::new(id),
            rotation: 0,
            action: Op::Marketo(marketo::Op::DeleteUser {
                user: UserId::parse(user).unwrap(),
            }),
            readiness: Readiness::Pending,
        }
    }

    fn live() -> LiveState {
        LiveState::Marketo(Snapshot::default())
    }

    fn compiled(steps: Vec<Step>) -> Compiled {
        Compiled {
            steps,
            warnings: vec![],
            conflicts: vec![],
        }
    }

    fn saved(dir: &Path) -> SavedPlan {
        SavedPlan::new(
            &dir.join("ops/plan.yaml"),
            &dir.join("ops/saved.json"),
            b"version: 1",
            "https://x",
            live(),
            compiled(vec![delete("r0-delete", "temp@x.io")]),
            Fingerprinter::fresh(),
        )
    }

    #[test]
    fn round_trips_and_finds_its_plan_from_anywhere() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("ops")).unwrap();
        let path = dir.path().join("ops/saved.json");
        let written = saved(dir.path());
        written.write(&path).unwrap();
        let read = SavedPlan::read(&path).unwrap();
        assert_eq!(read, written);
        assert_eq!(read.plan_file, "plan.yaml", "relative to the saved plan");
        assert_eq!(read.plan_path(&path), dir.path().join("ops/plan.yaml"));
        // Saved by an older relinker: no derivation recorded, so unsalted SHA-256.
        let mut old: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        old.as_object_mut()
            .unwrap()
            .remove("credential_fingerprints");
        std::fs::write(&path, old.to_string()).unwrap();
        assert!(
            SavedPlan::read(&path)
                .unwrap()
                .credential_fingerprints
                .is_legacy()
        );
        std::fs::write(&path, r#"{"format_version": 1}"#).unwrap();
        assert!(matches!(
            SavedPlan::read(&path),
            Err(SavedPlanError::Format { reason, .. }) if reason.contains("format version 1")
        ));
    }

    #[test]
    fn anything_but_the_reviewed_plan_is_refused_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let saved = saved(dir.path());
        let same = compiled(vec![delete("r0-delete", "temp@x.io")]);
        let live = live();
        assert_eq!(saved.check(b"version: 1", &live, &same), Ok(()));
        assert!(matches!(
            saved.check(b"version: 2", &live, &same),
            Err(Staleness::PlanChanged { .. })
        ));
        let mut snapshot = Snapshot::default();
        snapshot.pending.insert(UserId::parse("new@x.io").unwrap());
        let moved = LiveState::Marketo(snapshot);
        let Err(Staleness::LiveChanged { differences }) = saved.check(b"version: 1", &moved, &same)
        else {
            panic!("live drift must be refused")
        };
        assert_eq!(
            differences,
            ["the pending invitation of `new@x.io` appeared or went away"]
        );
        let edited = compiled(vec![delete("r0-delete", "someone.else@x.io")]);
        let Err(error @ Staleness::StepsDiffer { .. }) = saved.check(b"version: 1", &live, &edited)
        else {
            panic!("an edited step must be refused")
        };
        assert!(
            error.to_string().contains(
                "step `r0-delete` would delete user `temp@x.io` in the saved plan, but delete user `someone.else@x.io` per the plan"
            ),
            "{error}"
        );
    }
}
