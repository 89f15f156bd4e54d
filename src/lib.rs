//! relinker rotates, renames and retires the API-only users that SaaS integrations
//! authenticate through, without changing the client id and secret those integrations hold.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap definitions, one module per subcommand), the renderings
//!   of plans and progress, and the mapping of outcomes to exit codes.
//! - [`plan`]: the plan language: raw YAML types, validation into a [`plan::Plan`], secret
//!   references and credentials, the JSON Schema; the read-only snapshot of live state
//!   ([`plan::observe`]), compilation into steps ([`plan::compile`], [`plan::Step`]), and saved
//!   plans ([`plan::SavedPlan`]).
//! - [`provider`]: what a platform can do and how to verify it; [`provider::marketo`] is the
//!   REST client with its token cache, rate limiter, retry budget and date formats.
//! - [`executor`]: runs compiled steps against a provider: check, act, verify, manual phases,
//!   the pivot, rollback and the undo plan its dry run shows.
//! - [`journal`]: the state directory and the run lifecycle ([`journal::Run`]): locks, claims,
//!   the write-ahead journal and the run state it replays to.
//! - [`sandbox`]: the embedded emulator of Marketo's APIs, with fixtures, faults, limits, a
//!   control API standing in for the UI, and the operator that plays the person.
//! - [`offboard`]: finds API users tied to departed people and writes a plan for each.
//! - [`diagnostic`]: problems in input files, pinned to file, line, column and field, and the
//!   schema-driven shape check that finds every one of them in a file at once.
//! - [`ids`]: the identities that flow from parsing to the journal: users, services, runs,
//!   steps; [`address`]: the one rule for email addresses and when two name the same user.
//! - [`secret`]: redacted secret values and their fingerprints; [`paths`]: paths stored
//!   relative to the file that names them.

pub mod address;
pub mod cli;
pub mod diagnostic;
pub mod endpoint;
pub mod executor;
pub mod ids;
pub mod journal;
pub mod limits;
pub mod offboard;
pub mod paths;
pub mod plan;
pub mod provider;
pub mod retry;
pub mod sandbox;
pub mod saved;
pub mod secret;
