//! Exclusive locks on files, released by the OS when the holding process ends, and the proof
//! that a held lock still keeps others off: that its path still names the very file locked.
//! A lock file is never opened through a symbolic link: taking a lock writes the holder's name
//! into the file.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::trust::{self, Access};

/// A held lock; released when dropped or when the process dies.
#[derive(Debug)]
pub struct Lock {
    file: File,
    path: PathBuf,
}

/// Why a held lock no longer keeps other processes off: its file lock holds, but on a file
/// that its path no longer names, so another process can take a lock of its own there.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// Nothing is at the path any more.
    #[error("its lock file `{}` was removed", path.display())]
    Removed {
        /// The lock file.
        path: PathBuf,
    },
    /// Another file is at the path.
    #[error("its lock file `{}` was replaced by another file", path.display())]
    Replaced {
        /// The lock file.
        path: PathBuf,
    },
    /// The path or the held file cannot be looked at, so nothing proves the lock holds.
    #[error("its lock file `{}` cannot be looked at: {source}", path.display())]
    Unreadable {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Why a lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "{what} is locked by another process (run `{holder}`); wait for it to finish, or see `relinker status {holder}`"
    )]
    Busy {
        /// What was being locked, for people.
        what: String,
        /// The run that holds it, as its lock file says.
        holder: String,
    },
    /// The lock file could not be opened or locked: a file-system problem, not a holder.
    #[error("cannot lock `{}`: {source}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Lock {
    /// Takes the lock at `path` for `owner` (a run id), or says who holds it.
    pub fn acquire(path: &Path, what: &str, owner: &str) -> Result<Self, LockError> {
        let io = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = trust::open(path, Access::Lock).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(LockError::Busy {
                    what: what.to_owned(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e)),
        }
        // Record the holder for whoever is refused next; the lock itself is what counts.
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = file.write_all(owner.as_bytes());
        let _ = file.sync_data();
        Ok(Self {
            file,
            path: path.to_path_buf(),
        })
    }

    /// Where the lock file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Proves the lock still keeps other processes off: the file at its path is the very file
    /// this lock holds (same device and inode). A lock file removed or replaced (a clean-up of
    /// "stale" locks, say) leaves this lock holding a file nobody else opens, while another
    /// process can lock a new one at the path and work on the same thing.
    pub fn still_held(&self) -> Result<(), Lost> {
        let unreadable = |source| Lost::Unreadable {
            path: self.path.clone(),
            source,
        };
        // A link at the path is not the file locked, even when it names it.
        let there = match std::fs::symlink_metadata(&self.path) {
            Ok(there) => there,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(Lost::Removed {
                    path: self.path.clone(),
                });
            }
            Err(error) => return Err(unreadable(error)),
        };
        let held = self.file.metadata().map_err(unreadable)?;
        if same_file(&there, &held) {
            Ok(())
        } else {
            Err(Lost::Replaced {
                path: self.path.clone(),
            })
        }
    }

    /// Whether some process holds the lock at `path` now. Looking takes the lock for an
    /// instant when it is free; a missing lock file means nobody holds it.
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = trust::open(path, Access::Read) else {
            return false;
        };
        match file.try_lock_shared() {
            Ok(()) => {
                let _ = file.unlock();
                false
            }
            Err(TryLockError::WouldBlock) => true,
            Err(TryLockError::Error(_)) => false,
        }
    }
}

/// Whether two metadata describe one file.
#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Without inodes to compare, a file at the path is taken for the one held: where this builds,
/// an open file cannot be removed or replaced anyway.
#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn after(change: fn(&Path), expected: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run-r1.lock");
        let lock = Lock::acquire(&path, "run `r1`", "r1").unwrap();
        change(&path);
        match (lock.still_held(), expected) {
            (Ok(()), None) => {}
            (Err(lost), Some(said)) => assert!(lost.to_string().ends_with(said), "{lost}"),
            (held, expected) => panic!("{held:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn a_lock_holds_only_while_its_path_names_the_file_it_locked() {
        after(|_| {}, None);
        // Written to in place (the holder's name, by a curious person): the same file.
        after(|path| std::fs::write(path, "someone").unwrap(), None);
        after(
            |path| std::fs::remove_file(path).unwrap(),
            Some("was removed"),
        );
        #[cfg(unix)]
        after(
            |path| {
                let fresh = path.with_extension("fresh");
                std::fs::write(&fresh, "").unwrap();
                std::fs::rename(&fresh, path).unwrap();
            },
            Some("was replaced by another file"),
        );
        // A link to the very file locked, put in its place: not the file, whatever it names.
        #[cfg(unix)]
        after(
            |path| {
                let moved = path.with_extension("moved");
                std::fs::rename(path, &moved).unwrap();
                std::os::unix::fs::symlink(&moved, path).unwrap();
            },
            Some("was replaced by another file"),
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_is_never_taken_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let path = dir.path().join("user-0123.lock");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let refused = Lock::acquire(&path, "user `a@x.io`", "r1").unwrap_err();
        assert!(
            matches!(&refused, LockError::Io { source, .. } if trust::is_link(source)),
            "{refused:?}"
        );
        assert!(!Lock::is_held(&path));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    }
}
