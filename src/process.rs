//! Programs relinker starts with something secret around them (check commands with a
//! credential in their environment, `command` secret stores whose output is a secret): what of
//! relinker's environment they get, and the process group each one leads, killed whole when
//! relinker stops waiting for it.

/// The variables of relinker's environment such a program is given: where programs are
/// (`PATH`), whose they are (`HOME`), the locale (`LANG`, `LC_*`) and the time zone (`TZ`).
/// Everything else (its own `RELINKER_*` settings, the admin secret, the state store's URL,
/// cloud keys) stays with relinker unless the caller passes it on by name.
pub(crate) fn passed_on(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    vars.into_iter()
        .filter(|(name, _)| {
            name.to_str().is_some_and(|name| {
                matches!(name, "PATH" | "HOME" | "LANG" | "TZ") || name.starts_with("LC_")
            })
        })
        .collect()
}

/// Makes the program lead a process group of its own, so that [`Group`] can kill everything
/// it starts.
pub(crate) fn own_group(command: &mut tokio::process::Command) {
    #[cfg(unix)]
    command.process_group(0);
    #[cfg(not(unix))]
    let _ = command;
}

/// The process group a program leads. What the program starts (a helper it forks, a `sleep`
/// in the background) is in its group with whatever secret it was given, and tokio's
/// `kill_on_drop` kills the program alone: so the whole group is killed when this is dropped,
/// whether the program exited, timed out, or nobody waits for it any more. Declare it after
/// the child, so it is dropped first: the group is killed while its leader is not yet reaped,
/// so its id is still the group's.
#[cfg(unix)]
pub(crate) struct Group(Option<rustix::process::Pid>);

#[cfg(unix)]
impl Group {
    /// The group `leader` leads (started after [`own_group`]).
    pub(crate) fn of(leader: &tokio::process::Child) -> Self {
        Self(
            leader
                .id()
                .and_then(|id| i32::try_from(id).ok())
                .and_then(rustix::process::Pid::from_raw),
        )
    }
}

#[cfg(unix)]
impl Drop for Group {
    fn drop(&mut self) {
        if let Some(leader) = self.0 {
            // Fails (ESRCH) when nothing of the group is left, which is the aim.
            let _ = rustix::process::kill_process_group(leader, rustix::process::Signal::KILL);
        }
    }
}

/// Elsewhere there are no process groups to kill: the program alone is (`kill_on_drop`).
#[cfg(not(unix))]
pub(crate) struct Group;

#[cfg(not(unix))]
impl Group {
    /// Nothing to hold.
    pub(crate) fn of(_leader: &tokio::process::Child) -> Self {
        Self
    }
}
