//! The other performer: a person, who does in a platform's UI what its API does not offer.
//! Most of the time a real person is asked and relinker only checks; where there is none to
//! ask, something that acts as a person would (the sandbox operator of a rehearsal) plays one
//! through this port. It sits beside [`Platform`](super::Platform), so what plays a person
//! depends on the provider layer, never on the executor that calls it.

use std::future::Future;
use std::pin::Pin;

use super::Op;

/// Whoever plays the person at manual steps (the sandbox operator) could not act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} could not {action}: {reason}")]
pub struct PersonError {
    /// Who tried, for people: "the sandbox operator".
    pub what: String,
    /// What it tried, in words.
    pub action: String,
    /// Why it could not.
    pub reason: String,
}

/// A future a [`Person`] returns.
pub type PersonFuture<'a> = Pin<Box<dyn Future<Output = Result<(), PersonError>> + Send + 'a>>;

/// Someone who carries out manual steps the way a person would in the platform's UI.
pub trait Person: Send + Sync {
    /// Who it is, as attestations record it: "the sandbox operator".
    fn name(&self) -> &str;
    /// Does what `action` asks of a person.
    fn perform<'a>(&'a self, action: &'a Op) -> PersonFuture<'a>;
}
