//! Integration tests: real sandboxes over HTTP on 127.0.0.1:0, and the compiled binary.

// A scenario reads best top to bottom in one function, even when it is long.
#![allow(clippy::too_many_lines)]

mod behaviours;
mod budget;
mod cli_help;
mod compat;
mod concurrency;
mod dotdigital;
mod executor;
mod harness;
mod hostile;
mod install;
mod movius;
mod notify;
mod offboard;
mod pg;
mod plan_cmd;
mod plan_validate;
mod provider;
mod recovery;
mod rehearsal;
mod sandbox_api;
mod sandbox_cli;
mod sandbox_faults;
mod state_store;
mod terminal;
mod walk;
