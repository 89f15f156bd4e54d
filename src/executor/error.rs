//! Why a step, a run or a person could not do what was asked. Typed all the way to the CLI,
//! which maps them to messages and exit codes; the journal keeps their text.

use crate::journal::JournalError;
use crate::provider::{CheckError, PersonError, ProviderError};

/// Why a step could not be completed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// Live state could not be checked, so nothing could be decided.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The platform refused the change, and asking again will not change that.
    #[error("{0}")]
    Refused(ProviderError),
    /// Live state contradicts what the step needs.
    #[error("{reason}")]
    Conflict {
        /// What contradicts it.
        reason: String,
    },
    /// The change was made (or a person said they made it) but live state does not show it.
    #[error("the change did not take effect: {why}")]
    NoEffect {
        /// What live state shows instead.
        why: String,
    },
    /// The change never took effect, however often it was sent within the retry budget.
    #[error(
        "gave up after {attempts} attempts, each time reading back that the change had not happened (last answer: {last})"
    )]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last answer.
        last: ProviderError,
    },
    /// Whether the step holds cannot be told now (see [`crate::provider::Check::CannotTell`]):
    /// the run pauses with the reason, and neither rolls back nor goes on.
    #[error("cannot tell yet: {reason}")]
    CannotTell {
        /// Why.
        reason: String,
    },
    /// Whoever plays the person could not act.
    #[error(transparent)]
    Person(#[from] PersonError),
    /// The step waits for a person before it can go on (a pending invitation to accept; a
    /// change the platform refuses until a service is relinked).
    #[error("waiting for a person: {reason}")]
    NeedsPerson {
        /// What the platform shows.
        reason: String,
        /// Whether the change must be sent again once the person is done (the platform
        /// refused it), or only checked (the platform took it and waits).
        resend: bool,
    },
}

impl StepError {
    /// The platform was not well enough to answer, when that is all this error says (see
    /// [`ProviderError::is_transient`]).
    pub fn transient(&self) -> Option<&ProviderError> {
        self.provider_error().filter(|e| e.is_transient())
    }

    /// An error that only says the platform was not well enough to answer stops the run where
    /// it is (see [`ExecError::Unavailable`]): recording the step failed would roll back (or
    /// ask for it), and both need the platform that is not answering.
    ///
    /// A credential the platform refused stops it too: the step was not judged, only not
    /// reached, and a rollback would need the credential that was refused.
    pub(super) fn stops_the_run(&self, step: &crate::ids::StepId) -> Result<(), ExecError> {
        if let Some(error) = self.transient() {
            return Err(ExecError::Unavailable {
                step: step.clone(),
                error: Box::new(error.clone()),
            });
        }
        match self.provider_error() {
            Some(error) if error.is_credential_refused() => Err(ExecError::CredentialRefused {
                step: step.clone(),
                error: Box::new(error.clone()),
            }),
            _ => Ok(()),
        }
    }

    /// The provider error behind it, if one.
    pub fn provider_error(&self) -> Option<&ProviderError> {
        match self {
            StepError::Check(CheckError::Read(e))
            | StepError::Refused(e)
            | StepError::GaveUp { last: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// Why a run stopped short of an outcome, at once and wherever it was, as a crash would: the
/// journal could not record what the run does, or the platform was not well enough to answer.
/// Neither says anything about a step, so no step is recorded failed and nothing is rolled
/// back for it.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The journal could not be written or read.
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// The platform refused a credential the run holds (see
    /// [`ProviderError::is_credential_refused`]): the run stops where it is until the
    /// credential is mended.
    #[error("step `{step}`: {error}")]
    CredentialRefused {
        /// The step the run was at.
        step: crate::ids::StepId,
        /// The refusal.
        error: Box<ProviderError>,
    },
    /// The platform did not answer, or answered only "not now" (a server error, a limit, an
    /// answer lost), until the retry budget was spent: an outage is not the step's failure,
    /// and undoing would need the same platform.
    #[error("step `{step}`: {error}")]
    Unavailable {
        /// The step the run was at.
        step: crate::ids::StepId,
        /// The last answer, or why there was none.
        error: Box<ProviderError>,
    },
}
