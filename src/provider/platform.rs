//! A platform at run time: reading the live state a plan depends on, checking and carrying out
//! operations, and telling a person what to do. The executor and the command line see a
//! `dyn Platform` and nothing of any particular platform.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::ProviderError;
use super::fence::Fence;
use super::live::LiveState;
use super::op::Op;
use crate::ids::{ServiceName, StepId};
use crate::plan::{Plan, ProviderKind};
use crate::secret::CredentialFingerprint;

/// A boxed future, so platforms can be chosen at run time.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a live-state check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Live state shows what the operation wants.
    Holds,
    /// Not yet; the reason says what live state shows instead.
    NotYet(String),
    /// Live state contradicts the operation: doing it would be wrong.
    Conflict(String),
    /// Live state shows the operation waits for something only a person can do (accept a
    /// pending invitation, say); the reason says what.
    NeedsPerson(String),
    /// The check cannot be made now, so nothing may be decided on it: a check command that
    /// says it cannot check (a throttled answer, a network error), a credential that cannot be
    /// read at the moment, or one that cannot be the step's (the old credential given as the
    /// new one). The run asks again within its retry budget, then pauses with the reason; it
    /// never acts on it, and never takes it for a conflict.
    CannotTell(String),
}

/// Why a check could not answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckError {
    /// Reading live state failed.
    #[error("cannot read live state: {0}")]
    Read(ProviderError),
    /// The plan names a service relinker has no credentials for.
    #[error("no credentials for service `{service}`")]
    NoCredentials {
        /// The service.
        service: ServiceName,
    },
    /// A check command could not be run, or an operation asked something of the wrong platform.
    #[error("{0}")]
    Unusable(String),
}

impl CheckError {
    /// `op` belongs to another platform than `platform`.
    pub fn foreign(op: &Op, platform: ProviderKind) -> Self {
        CheckError::Unusable(format!(
            "`{}` is not a {} step",
            op.describe(),
            platform.label()
        ))
    }
}

impl ProviderError {
    /// `plan` is for another platform than `platform`.
    pub fn foreign_plan(plan: &Plan, platform: ProviderKind) -> Self {
        ProviderError::Config(format!(
            "a {} plan cannot be planned against {}",
            plan.provider(),
            platform.label()
        ))
    }
}

impl From<ProviderError> for CheckError {
    fn from(error: ProviderError) -> Self {
        CheckError::Read(error)
    }
}

/// What the run knows that a check may need.
pub trait RunFacts: Send + Sync {
    /// The fingerprint a service's credentials had when the run started.
    fn credential_at_start(&self, service: &ServiceName) -> Option<CredentialFingerprint>;
    /// When a step of the run was recorded done.
    fn done_at(&self, step: &StepId) -> Option<DateTime<Utc>>;
    /// For this check, the moment after which live state must have been read to count: a
    /// person was asked to act on what it reads then, so an answer a platform serves from
    /// before (a cached token's scope) tells nothing of what they did. `None` when any
    /// current answer counts.
    fn evidence_after(&self) -> Option<DateTime<Utc>>;
}

/// Something only a person can do, and how to do it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualAction {
    /// One line: what to do.
    pub summary: String,
    /// Steps a person follows.
    pub steps: Vec<String>,
}

impl ManualAction {
    /// An action with nothing to say beyond its summary.
    pub fn summary_only(summary: String) -> Self {
        Self {
            summary,
            steps: Vec::new(),
        }
    }
}

/// What one credential's authentication said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// Whose credential, in words (``service `salesforce-sync` ``).
    pub credential: String,
    /// What it authenticated as, or why it did not.
    pub answer: Result<String, String>,
}

/// A platform relinker can rotate API users on.
pub trait Platform: Send + Sync {
    /// The fingerprint of each service's credentials as the plan resolved them: what the run
    /// proves unchanged (or, where rotation replaces them, what it proves replaced).
    fn credential_fingerprints(&self) -> BTreeMap<ServiceName, CredentialFingerprint>;
    /// Reads the live state `plan` depends on; reads only.
    fn observe<'a>(&'a self, plan: &'a Plan) -> BoxFuture<'a, Result<LiveState, ProviderError>>;
    /// Compares live state with what `op` wants; changes nothing.
    fn check<'a>(
        &'a self,
        op: &'a Op,
        facts: &'a dyn RunFacts,
    ) -> BoxFuture<'a, Result<Check, CheckError>>;
    /// Carries out an operation relinker performs through the API, asking `fence` before every
    /// request that changes state ([`ProviderError::LockLost`] when it says no).
    fn act<'a>(
        &'a self,
        op: &'a Op,
        fence: &'a dyn Fence,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// For a creating operation that was just seen to hold as the run's doing, what it made,
    /// as this platform names it (a userid, a generated username): what rollback deletes.
    fn made(&self, op: &Op) -> Option<crate::provider::Made>;
    /// What a reviewer should know of the credential relinker acts as on this platform (it
    /// may do more than relinker needs): warnings for `relinker plan`, read-only, and never a
    /// reason to stop. Planning alone asks; a run does not spend calls on it.
    fn cautions(&self) -> BoxFuture<'_, Vec<String>>;
    /// Whether what the run found and never changed still holds, read before a rollback says
    /// "rolled back" (a person may have disabled the old user meanwhile): `Err` says what does
    /// not. By default `Ok`: a platform whose undo checks read everything the run touched
    /// (Marketo), or that shows nothing (Movius), has nothing more to read.
    fn as_found<'a>(&'a self, facts: &'a dyn RunFacts) -> BoxFuture<'a, Result<(), String>> {
        let _ = facts;
        Box::pin(async { Ok(()) })
    }
    /// Whether each credential the plan names authenticates now, one answer each (for
    /// `relinker doctor`); reads only. Empty where the platform has no API to ask.
    fn authenticate(&self) -> BoxFuture<'_, Vec<Authenticated>>;
    /// What a person must do for an operation only a person can perform.
    fn instructions(&self, op: &Op) -> ManualAction;
}
