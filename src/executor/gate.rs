//! Manual gates: how long to wait for a person, and who may play one.
//!
//! A manual step is done by a person in the platform's UI and verified by relinker through the
//! API. The executor shows every manual step of a phase at once, then polls their checks until
//! all hold or the wait ends; a run that stops waiting records a pause (exit 4) that `resume`
//! picks up. A [`Person`](crate::provider::Person) stands in for the human where there is none
//! to ask: the sandbox's operator, which acts through the sandbox's control API.

use std::time::Duration;

use tokio::time::Instant;

use crate::provider::BoxFuture;

/// How long a manual step waits for its verification to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateWait {
    /// Check once; if not done, record the pause and stop (exit 4).
    Pause,
    /// Poll for at most this long.
    For(Duration),
    /// Poll until it holds (a person at a terminal).
    Forever,
}

/// How long someone playing the person may take to be seen: it acts at once, but a platform
/// may take a moment to show the change.
const PLAYED_WAIT: Duration = Duration::from_secs(10);

/// How often a waiting gate checks again.
pub(crate) const POLL: Duration = Duration::from_secs(2);

impl GateWait {
    /// When to give up, from now; `None` means check only once.
    pub(crate) fn deadline(self, played: bool) -> Option<Instant> {
        match self {
            GateWait::Pause if played => Some(Instant::now() + PLAYED_WAIT),
            GateWait::Pause => None,
            GateWait::For(wait) => Some(Instant::now() + wait),
            GateWait::Forever => Some(Instant::now() + Duration::from_hours(8760)),
        }
    }
}

/// What the person at the terminal said while a run waited for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// Enter: look again now.
    LookNow,
    /// `done`: they did what nothing can observe, and attest it under their name.
    Done {
        /// Who they are, as attestations record them.
        by: String,
    },
}

/// The person at the terminal a run waits with. The executor hears them through it and knows
/// nothing of terminals (stdin, echo, who is logged in): the command line implements it.
pub trait Console: Send + Sync {
    /// Starts hearing the person for one wait; what it returns hears them until dropped.
    fn listen(&self) -> Box<dyn Listener + '_>;
}

/// One wait's hearing of the person at the terminal.
pub trait Listener: Send {
    /// What the person says next; `None` once nothing more can come (Ctrl-D, a closed input).
    fn next(&mut self) -> BoxFuture<'_, Option<Said>>;
}
