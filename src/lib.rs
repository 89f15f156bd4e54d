//! relinker rotates, renames and retires the API-only users that SaaS integrations
//! authenticate through, without changing the client id and secret those integrations hold.
//!
//! # Layout
//!
//! - [`cli`]: the command line (clap definitions, one module per subcommand), the renderings
//!   of plans and progress, the mapping of outcomes to exit codes, and `cli::target`, the one
//!   place a plan's provider becomes a platform (or an embedded sandbox of it).
//! - [`plan`]: the plan language: one envelope ([`plan::Plan`]) with a spec per provider
//!   ([`plan::marketo`], [`plan::dotdigital`], [`plan::movius`]), validation, secret references
//!   and credentials, check commands, the JSON Schema.
//! - [`provider`]: the provider-neutral step model ([`provider::Step`]: who performs it, how it
//!   is verified, what undoes it), compilation, the [`provider::Platform`] the executor sees,
//!   and one folder per platform: [`provider::marketo`], [`provider::dotdigital`],
//!   [`provider::movius`], each with its operations, procedures, live snapshot and client;
//!   [`provider::command`] runs check commands.
//! - [`executor`]: runs compiled steps on a platform: check, act, verify, manual phases and
//!   attestations, the pivot, rollback and the undo plan its dry run shows.
//! - [`journal`]: where runs are kept ([`journal::StateStore`]: the local state directory or
//!   PostgreSQL, behind one seam) and the run lifecycle ([`journal::Run`]): locks, claims, the
//!   write-ahead journal, attestations, and the run state it replays to.
//! - [`saved`]: saved plans (`plan --out`), tamper-evident and refused when stale.
//! - [`sandbox`]: emulators of each platform ([`sandbox::marketo`], [`sandbox::dotdigital`],
//!   [`sandbox::movius`]) with what they share: the server, faults, the request log.
//! - [`rehearsal`]: the sandbox's clients in a rehearsal: the operator that plays the person
//!   through a control API, and the copy of a live Marketo instance `--from-live` writes.
//! - [`offboard`]: finds API users tied to departed people and writes a plan for each.
//! - [`runner`]: the runner configuration: which instances, secret references and check
//!   programs the plans a runner is given may use; a plan naming anything else is refused
//!   before any request.
//! - [`stores`]: the secret stores a runner configuration declares (`${store:…}` references):
//!   AWS Secrets Manager and programs (`op`, `vault`, `kubectl`), each secret read once per
//!   command and kept in memory only.
//! - [`notify`]: the webhook message a run sends when it pauses, fails, rolls back or finishes.
//! - [`diagnostic`]: problems in input files, pinned to file, line, column and field, and the
//!   schema-driven shape check that finds every one of them in a file at once.
//! - [`ids`]: the identities that flow from parsing to the journal: users, services, runs,
//!   steps; [`address`]: the one rule for email addresses and when two name the same user.
//! - Shared helpers: [`limits`] (rate limits and durations), [`retry`] (the retry budget every
//!   client uses), [`endpoint`] (which base URLs are allowed, and the one way HTTP clients are
//!   built: no redirect followed, loopback never through a proxy), [`secret`] (redacted values
//!   and the salted fingerprints of credentials), [`paths`] (paths stored relative to the file
//!   that names them, and atomic writes), `sync` (the one rule for a poisoned mutex, and
//!   blocking work off the runtime), `process` (what programs relinker starts get of its
//!   environment, and their process groups).

pub mod address;
pub mod cli;
pub mod diagnostic;
pub mod endpoint;
pub mod executor;
pub mod ids;
pub mod input;
pub mod journal;
pub mod limits;
pub mod notify;
pub mod offboard;
pub mod paths;
pub mod plan;
pub(crate) mod process;
pub mod provider;
pub mod rehearsal;
pub mod retry;
pub mod runner;
pub mod sandbox;
pub mod saved;
pub mod secret;
pub mod stores;
mod sync;
