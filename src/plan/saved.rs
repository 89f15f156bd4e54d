//! Saved plans (`plan --out`): what was reviewed, pinned so `apply` can refuse a stale one.
//!
//! A saved plan records the plan file's text and SHA-256, the fingerprint of every live object
//! the plan was compiled from, and the compiled steps. Applying it later recomputes both
//! fingerprints; any difference means the reviewed plan is no longer what would run.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::compile::Compiled;
use crate::secret::Fingerprint;

/// Version of the saved-plan format.
pub const SAVED_FORMAT_VERSION: u32 = 1;

/// A plan as reviewed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    /// Format version.
    pub format_version: u32,
    /// The plan file as named when saved.
    pub plan_file: String,
    /// SHA-256 of the plan file's bytes.
    pub plan_sha256: Fingerprint,
    /// The plan file's text (references only: plans hold no secrets).
    pub plan_text: String,
    /// The instance it was computed against.
    pub instance: String,
    /// Fingerprint of the live state it was computed from.
    pub live_fingerprint: Fingerprint,
    /// The steps.
    pub compiled: Compiled,
}

/// What changed since a plan was saved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Staleness {
    /// The plan file's bytes differ.
    #[error(
        "the plan file `{file}` changed since the plan was saved (sha256 {saved} then, {now} now); run `relinker plan --out` again and review it"
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
        "live state changed since the plan was saved: {what}; run `relinker plan --out` again and review it"
    )]
    LiveChanged {
        /// What differs, in words.
        what: String,
    },
}

/// Why a saved plan could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SavedPlanError {
    /// File system trouble.
    #[error("cannot {action} saved plan `{path}`: {source}")]
    Io {
        /// `write` or `read`.
        action: &'static str,
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
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
    /// Writes the saved plan: a temporary file beside it, synced, then renamed into place, so a
    /// crash leaves either the old file or the new one, never half of one.
    pub fn write(&self, path: &Path) -> Result<(), SavedPlanError> {
        let io = |source| SavedPlanError::Io {
            action: "write",
            path: path.display().to_string(),
            source,
        };
        let text = serde_json::to_string_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temporary = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        temporary.write_all(text.as_bytes()).map_err(io)?;
        temporary.write_all(b"\n").map_err(io)?;
        temporary.as_file().sync_all().map_err(io)?;
        temporary.persist(path).map_err(|e| io(e.error))?;
        Ok(())
    }

    /// Reads a saved plan.
    pub fn read(path: &Path) -> Result<Self, SavedPlanError> {
        let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::Io {
            action: "read",
            path: path.display().to_string(),
            source,
        })?;
        let saved: SavedPlan = serde_json::from_str(&text).map_err(|e| SavedPlanError::Format {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        if saved.format_version != SAVED_FORMAT_VERSION {
            return Err(SavedPlanError::Format {
                path: path.display().to_string(),
                reason: format!("it has format version {}", saved.format_version),
            });
        }
        Ok(saved)
    }

    /// Compares with the plan file and live state as they are now.
    pub fn check(&self, plan_bytes: &[u8], live_now: &Fingerprint) -> Result<(), Staleness> {
        let now = Fingerprint::of(plan_bytes);
        if now != self.plan_sha256 {
            return Err(Staleness::PlanChanged {
                file: self.plan_file.clone(),
                saved: self.plan_sha256.clone(),
                now,
            });
        }
        if live_now != &self.live_fingerprint {
            return Err(Staleness::LiveChanged {
                what: "a user, invitation, service link or address the plan depends on differs"
                    .into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn saved() -> SavedPlan {
        SavedPlan {
            format_version: SAVED_FORMAT_VERSION,
            plan_file: "plan.yaml".into(),
            plan_sha256: Fingerprint::of(b"version: 1"),
            plan_text: "version: 1".into(),
            instance: "https://x".into(),
            live_fingerprint: Fingerprint::of(b"live"),
            compiled: Compiled {
                steps: vec![],
                warnings: vec![],
                conflicts: vec![],
            },
        }
    }

    #[test]
    fn round_trips_and_detects_staleness() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("saved.json");
        saved().write(&path).unwrap();
        let read = SavedPlan::read(&path).unwrap();
        assert_eq!(read, saved());
        assert_eq!(read.check(b"version: 1", &Fingerprint::of(b"live")), Ok(()));
        assert!(matches!(
            read.check(b"version: 2", &Fingerprint::of(b"live")),
            Err(Staleness::PlanChanged { .. })
        ));
        assert!(matches!(
            read.check(b"version: 1", &Fingerprint::of(b"other")),
            Err(Staleness::LiveChanged { .. })
        ));
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(
            SavedPlan::read(&path),
            Err(SavedPlanError::Format { .. })
        ));
    }
}
