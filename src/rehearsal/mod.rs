//! Rehearsals: what relinker does to run a plan against a sandbox instead of the platform. The
//! emulators in [`crate::sandbox`] serve a platform's API and a control API standing in for its
//! UI; this module holds what feeds and drives them from relinker's side: the [`Operator`] that
//! plays the person at manual steps through that control API, and [`fixture_from`], which
//! writes a fixture from a copy of a live Marketo instance read by relinker's own client. The
//! sandbox knows nothing of either: the arrows run from here to the emulators, never back.

mod from_live;
mod operator;

pub use from_live::fixture_from;
pub use operator::{NotASandbox, Operator};
