//! Rehearsals: what relinker does to run a plan against a sandbox instead of the platform. The
//! emulators in [`crate::sandbox`] serve a platform's API and a control API standing in for its
//! UI; this module holds their clients: the [`Operator`] that plays the person at manual steps
//! through that control API. The sandbox knows nothing of it: the arrow runs from here to the
//! emulators' HTTP interface, never back.

mod operator;

pub use operator::{NotASandbox, Operator};
