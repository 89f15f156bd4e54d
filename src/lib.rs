//! relinker rotates, renames and retires the API-only users that SaaS integrations
//! authenticate through, without changing the client id and secret those integrations hold.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap definitions, one module per subcommand) and the mapping
//!   of outcomes to exit codes.
//! - [`plan`]: the plan language: raw YAML types, validation into a [`plan::Plan`], secret
//!   references and the JSON Schema.
//! - [`provider`]: what a platform can do and how to verify it; [`provider::marketo`] is the
//!   REST client with its token cache, rate limiter, retries and date formats.
//! - [`sandbox`]: the embedded emulator of Marketo's APIs, with fixtures, faults, limits and a
//!   control API standing in for the UI.
//! - [`journal`]: run directories, the write-ahead journal, and locks.
//! - [`executor`]: runs compiled steps against a provider: check, act, verify, rollback, gates.
//! - [`offboard`]: finds API users tied to departed people and writes a plan for each.
//! - [`diagnostic`]: problems in input files, pinned to file, line, column and field, and the
//!   schema-driven shape check that finds every one of them in a file at once.
//! - [`secret`]: redacted secret values and their fingerprints.

pub mod address;
pub mod cli;
pub mod diagnostic;
pub mod executor;
pub mod ids;
pub mod journal;
pub mod offboard;
pub mod paths;
pub mod plan;
pub mod provider;
pub mod sandbox;
pub mod secret;
