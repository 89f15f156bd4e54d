//! Integration tests: real sandboxes over HTTP on 127.0.0.1:0, and the compiled binary.

// A test stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A scenario reads best top to bottom in one function, even when it is long.
#![allow(clippy::too_many_lines)]

mod attestations;
mod audit;
mod behaviours;
mod budget;
mod check_commands;
mod cli_help;
mod compat;
mod concurrency;
mod crash_readings;
mod deploy;
mod doctor;
mod dotdigital;
mod dotdigital_facts;
mod dotdigital_strict;
mod executor;
mod fencing;
mod harness;
mod hostile;
mod install;
mod large_copy;
mod leaks;
mod messages;
mod moto;
mod movius;
mod notify;
mod offboard;
mod pg;
mod plan_cmd;
mod plan_validate;
mod pr_workflow;
mod provider;
mod providers;
mod quota;
mod readings;
mod recovery;
mod rehearsal;
mod run_ids;
mod runner_config;
mod sandbox_api;
mod sandbox_cli;
mod sandbox_faults;
mod schedule;
mod secret_stores;
mod state_store;
mod state_trust;
mod tampering;
mod terminal;
mod walk;
