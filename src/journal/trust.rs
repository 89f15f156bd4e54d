//! When the state directory is trusted, and how its files are opened.
//!
//! Locks and journals decide what a run may send, so the state directory is trusted only while
//! nobody but its owner can change it, as OpenSSH's `StrictModes` trusts `~/.ssh`: the state
//! directory and every directory under it (`runs/`, `locks/`, each run's folder) must belong to
//! the user relinker runs as and be writable by nobody else, and a directory under it must not
//! be a symbolic link. The folders above the state directory are not looked at: a state
//! directory in a shared folder such as `/tmp` is safe while it is the user's own.
//!
//! A file in the state directory is never opened through a symbolic link at its name
//! (`O_NOFOLLOW`): a planted `locks/user-….lock -> ~/.bashrc` would otherwise have the lock's
//! holder written over whatever file the link names. This module opens files and judges
//! directories; it knows nothing of runs.

use std::fs::{File, Metadata};
use std::io;
use std::path::Path;

/// How a file in the state directory is opened.
#[derive(Debug, Clone, Copy)]
pub(super) enum Access {
    /// Read only; the file must exist.
    Read,
    /// Appended to; the file must exist.
    Append,
    /// Appended to, created (0600) if missing.
    AppendOrCreate,
    /// Read and written, created (0600) if missing, never truncated on opening: a lock file.
    Lock,
}

/// Opens `path` as `access` says, refusing a symbolic link at `path` itself (the error is
/// [`is_link`]).
#[cfg(unix)]
pub(super) fn open(path: &Path, access: Access) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::NOFOLLOW
        | OFlags::CLOEXEC
        | match access {
            Access::Read => OFlags::RDONLY,
            Access::Append => OFlags::WRONLY | OFlags::APPEND,
            Access::AppendOrCreate => OFlags::WRONLY | OFlags::APPEND | OFlags::CREATE,
            Access::Lock => OFlags::RDWR | OFlags::CREATE,
        };
    let fd = rustix::fs::open(path, flags, Mode::from_bits_truncate(0o600))?;
    Ok(File::from(fd))
}

/// Without `O_NOFOLLOW` to ask for, a plain open: where this builds, links need privileges to
/// make.
#[cfg(not(unix))]
pub(super) fn open(path: &Path, access: Access) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    match access {
        Access::Read => options.read(true),
        Access::Append => options.append(true),
        Access::AppendOrCreate => options.append(true).create(true),
        Access::Lock => options.read(true).write(true).create(true).truncate(false),
    };
    options.open(path)
}

/// Whether an error says the name opened was a symbolic link (`O_NOFOLLOW`'s `ELOOP`).
pub(super) fn is_link(error: &io::Error) -> bool {
    #[cfg(unix)]
    {
        error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// What is said of a file opened through a link.
pub(super) const LINK: &str = "is a symbolic link; relinker never opens a file in its state directory through a link, which could point it at any file its user can write (remove the link)";

/// Why the directory `path` (described by `meta`, from `symlink_metadata` for a directory
/// under the state directory) is not to be trusted, if it is not.
pub(super) fn dir_problem(path: &Path, meta: &Metadata) -> Option<String> {
    if meta.file_type().is_symlink() {
        return Some(
            "is a symbolic link; relinker does not follow links under its state directory (put the directory itself there)"
                .to_owned(),
        );
    }
    if !meta.is_dir() {
        return Some("is not a directory".to_owned());
    }
    ownership_problem(path, meta)
}

#[cfg(unix)]
fn ownership_problem(path: &Path, meta: &Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = rustix::process::geteuid().as_raw();
    let mode = meta.mode() & 0o7777;
    let shown = path.display();
    if meta.uid() != me {
        return Some(format!(
            "is owned by another user (uid {}, while relinker runs as uid {me}); only the user relinker runs as may own its state: `chown` it to that user, or use a state directory of its own",
            meta.uid()
        ));
    }
    let who = match (mode & 0o020 != 0, mode & 0o002 != 0) {
        (_, true) => "every user",
        (true, false) => "its group",
        (false, false) => return None,
    };
    Some(format!(
        "is writable by {who} (mode {mode:04o}); whoever can write there can plant or change locks and journals, so relinker trusts it only when no one but its owner can (`chmod go-w {shown}`)"
    ))
}

/// Without owners and modes to compare, every directory is its user's.
#[cfg(not(unix))]
fn ownership_problem(_: &Path, _: &Metadata) -> Option<String> {
    None
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[track_caller]
    fn judged(mode: u32, expected: Option<&str>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d");
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        match (dir_problem(&path, &meta), expected) {
            (None, None) => {}
            (Some(problem), Some(said)) => assert!(problem.contains(said), "{problem}"),
            (problem, expected) => panic!("mode {mode:o}: {problem:?}, expected {expected:?}"),
        }
    }

    #[test]
    fn only_directories_no_one_but_their_owner_can_write_are_trusted() {
        judged(0o700, None);
        judged(0o755, None);
        judged(0o1700, None);
        judged(0o770, Some("writable by its group (mode 0770)"));
        judged(0o757, Some("writable by every user (mode 0757)"));
        judged(0o1777, Some("writable by every user (mode 1777)"));
    }

    #[test]
    fn a_link_is_never_opened_or_trusted_as_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("x.lock");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        for access in [
            Access::Read,
            Access::Append,
            Access::AppendOrCreate,
            Access::Lock,
        ] {
            let error = open(&link, access).unwrap_err();
            assert!(is_link(&error), "{access:?}: {error}");
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        let meta = std::fs::symlink_metadata(&link).unwrap();
        assert!(dir_problem(&link, &meta).unwrap().contains("symbolic link"));

        // A file of its own opens as asked, created private.
        let own = dir.path().join("own.lock");
        open(&own, Access::Lock).unwrap().write_all(b"r1").unwrap();
        let mut text = String::new();
        open(&own, Access::Read)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "r1");
        let mode = std::fs::metadata(&own).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
