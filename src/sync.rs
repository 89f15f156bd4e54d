//! Synchronous work in an async program: the one rule for a poisoned mutex, and the one way
//! blocking work (a journal fsync, a secret store's answer) runs from async code.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, recovering the data if a panicking holder poisoned it. Every critical section
/// in relinker leaves its data consistent (no invariant is broken halfway), so a poisoned lock
/// is safe to keep using, and a panic in one task must not take every other task down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs blocking work (an fsync, a database round trip, a secret store's answer, which can take
/// milliseconds or, for a store or database that does not answer, its whole timeout): on a
/// multi-threaded runtime this worker first hands its other tasks (a run's other rotations,
/// other runs) to another thread, so only the caller waits; elsewhere it just runs.
pub(crate) fn off_the_runtime<T>(work: impl FnOnce() -> T) -> T {
    let multi_threaded = tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
        runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    });
    if multi_threaded {
        tokio::task::block_in_place(work)
    } else {
        work()
    }
}
