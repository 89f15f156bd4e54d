//! Exclusive locks on files, released by the OS when the holding process ends.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A held lock; released when dropped or when the process dies.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Someone else holds the lock.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} is locked by another process (run `{holder}`)")]
pub struct LockError {
    /// What was being locked, for people.
    pub what: String,
    /// The run that holds it, as its lock file says.
    pub holder: String,
}

impl Lock {
    /// Takes the lock at `path` for `owner` (a run id), or says who holds it.
    pub fn acquire(path: &Path, what: &str, owner: &str) -> Result<Self, LockError> {
        let busy = |holder: String| LockError {
            what: what.to_owned(),
            holder,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| busy(format!("unknown: {e}")))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(busy(if holder.is_empty() {
                    "unknown".into()
                } else {
                    holder.to_owned()
                }));
            }
            Err(TryLockError::Error(e)) => return Err(busy(format!("unknown: {e}"))),
        }
        // Record the holder for whoever is refused next; the lock itself is what counts.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(owner.as_bytes());
        let _ = file.sync_data();
        Ok(Self { _file: file })
    }
}
