//! The fence every request that changes state passes: proof, asked immediately before each
//! send, that the run is still this runner's.
//!
//! A runner's lock can be lost while it lives (its database session dies in a restart, a
//! failover or a terminated backend; its lock file is replaced), and another runner may then
//! resume the run and finish it. A request the first runner sends after that acts on a world
//! the run has moved on from (an invitation sent again leaves an extra user holding the
//! rotated user's roles). So the executor, which owns the run, hands a [`Fence`] to the
//! platform, and a platform asks it before every state-changing request it sends: the first
//! one, and every one it sends again on its own (a client that re-sends after a refused
//! connection, a rate limit or a renewed token). How the proof is made is the journal's
//! business; this module knows nothing of it.

/// Asked immediately before every request that changes state, first sends and re-sends alike.
pub trait Fence: Send + Sync {
    /// `Ok` while the run is still this runner's; otherwise why not, and nothing may be sent.
    fn still_held(&self) -> Result<(), LockLost>;
}

/// The run is no longer provably this runner's: nothing more may be sent for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the run's lock was lost ({reason}); the request was not sent")]
pub struct LockLost {
    /// Why, in the state store's words.
    pub reason: String,
}
