//! How the executor asks whether a step holds: through the platform, with the facts of the run
//! a check may need (credential fingerprints at the start, when steps were done).

use chrono::{DateTime, Utc};

use super::Executor;
use super::error::StepError;
use crate::ids::{ServiceName, StepId};
use crate::journal::RunSummary;
use crate::provider::{Check, ManualAction, Op, RunFacts};
use crate::secret::Fingerprint;

impl RunFacts for RunSummary {
    fn credential_at_start(&self, service: &ServiceName) -> Option<Fingerprint> {
        self.credential(service).cloned()
    }

    fn done_at(&self, step: &StepId) -> Option<DateTime<Utc>> {
        RunSummary::done_at(self, step)
    }
}

impl Executor<'_> {
    /// Reads live state and compares it with what `op` wants.
    pub(super) async fn check(&self, op: &Op) -> Result<Check, StepError> {
        let facts = self.summary();
        Ok(self.platform.check(op, &facts).await?)
    }

    /// Carries out an API operation.
    pub(super) async fn act(&self, op: &Op) -> Result<(), crate::provider::ProviderError> {
        self.platform.act(op).await
    }

    /// What a person must do for a manual operation.
    pub(super) fn instructions(&self, op: &Op) -> ManualAction {
        self.platform.instructions(op)
    }
}
