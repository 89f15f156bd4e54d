//! Locking shared state: the one rule for a poisoned mutex.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, recovering the data if a panicking holder poisoned it. Every critical section
/// in relinker leaves its data consistent (no invariant is broken halfway), so a poisoned lock
/// is safe to keep using, and a panic in one task must not take every other task down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
