//! The limiter against a sandbox at its limits, beside another integration: what these tests
//! count (refusals, calls in flight) depends on when requests land, so they run in a test
//! binary of their own, which cargo runs after the others, and one at a time within it
//! ([`serial`]). Beside the whole suite on two cores a neighbour's pace slips and a test
//! measures the machine, not relinker.

// A test stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../it/harness.rs"]
#[allow(dead_code)] // Shared with the main suite, which uses the rest of it.
mod harness;
mod limiter;

/// Holds the limiter tests apart: the one holding it has the machine to itself.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for the other limiter tests to finish; hold the guard for the whole test.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    SERIAL.lock().await
}
