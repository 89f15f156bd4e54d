//! What a platform can do, and how relinker knows it was done.
//!
//! A plan compiles ([`compile()`]) into [`Step`]s, each with an [`Op`]eration of the plan's
//! platform that says who performs it ([`Performer`]), how its effect becomes known
//! ([`Verification`]) and what undoes it. At run time a [`Platform`] reads live state, checks and
//! carries out operations, and tells a person what to do. Each provider lives in a folder of its
//! own ([`marketo`], [`dotdigital`], [`movius`]) with its client, operations, procedures and live snapshot; nothing outside
//! a provider sees a URL, a token or a platform's rules. A platform sends nothing that changes
//! state without first asking the run's [`Fence`] whether the run is still this runner's.

pub mod command;
mod compile;
pub mod dotdigital;
mod error;
mod fence;
mod live;
pub mod marketo;
pub mod movius;
mod op;
mod person;
mod platform;
mod step;
mod tally;

pub use compile::{Compiled, Conflict, Leftovers, RelinkAsked, compile};
pub use error::ProviderError;
pub use fence::{Fence, LockLost};
pub use live::LiveState;
pub use op::{Made, Op, Operation};
pub use person::{Person, PersonError, PersonFuture};
pub use platform::{Authenticated, BoxFuture, Check, CheckError, ManualAction, Platform, RunFacts};
pub use step::{Performer, Readiness, Reversibility, Step, Verification, phase_len};
pub use tally::ReadTally;

use crate::plan::ProviderKind;

/// How a platform is spoken of where every platform is: what a run promises there, where a
/// person acts, and what relinker cannot see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wording {
    /// What a finished run proves.
    pub promise: &'static str,
    /// Where a person does manual steps.
    pub where_people_act: &'static str,
    /// What relinker cannot observe there, in one line for the top of a plan, if anything.
    pub caveat: Option<&'static str>,
}

/// How `provider` is spoken of.
pub fn wording(provider: ProviderKind) -> Wording {
    match provider {
        ProviderKind::Marketo => marketo::WORDING,
        ProviderKind::Dotdigital => dotdigital::WORDING,
        ProviderKind::Movius => movius::WORDING,
    }
}
