//! Checked by command: where no API can tell whether a credential works, a program the plan
//! names does. It gets the credential in its environment only (`RELINKER_USERNAME`,
//! `RELINKER_PASSWORD`; argv is visible to every process on the machine), with
//! `RELINKER_SERVICE` and `RELINKER_BASE_URL` to know what it checks. It exits 0 when the
//! credential authenticates, 1 when it is refused, and anything else when it cannot tell (the
//! service throttled it, the network failed): only a refusal is an answer a run may act on.
//! Its output is discarded unread: a script may echo what it was given, and a secret never
//! enters relinker's output or logs. It leads a process group of its own, killed whole when
//! the check ends, times out or is no longer waited for: nothing it started outlives it with
//! the credential in its environment.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::platform::{Check, CheckError};
use super::step::Readiness;
use crate::ids::ServiceName;
use crate::plan::{CheckCommand, Login, Secrets};
// Of relinker's environment, a check command gets what any program relinker starts gets; its
// own `RELINKER_USERNAME`, `RELINKER_PASSWORD`, `RELINKER_SERVICE` and `RELINKER_BASE_URL` are
// set for it.
use crate::process::passed_on;
use crate::secret::Secret;

/// How long a check command may run, unless [`TIMEOUT_VARIABLE`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_mins(1);

/// An operations (and test) knob: how long a check command may run (`90s`, `2m`, `500ms`).
const TIMEOUT_VARIABLE: &str = "RELINKER_CHECK_TIMEOUT";

/// How long a check command may run: [`TIMEOUT_VARIABLE`] when it reads as a duration, else
/// 60 s. A value that does not read is said once and otherwise ignored: a typo in a knob must
/// not stop a run that would work with the default.
fn timeout_from_env() -> Duration {
    let Ok(text) = std::env::var(TIMEOUT_VARIABLE) else {
        return DEFAULT_TIMEOUT;
    };
    crate::limits::parse_duration(text.trim()).unwrap_or_else(|| {
        tracing::warn!(
            "{TIMEOUT_VARIABLE}=`{text}` is not a duration such as 90s or 2m; check commands get {} s",
            DEFAULT_TIMEOUT.as_secs()
        );
        DEFAULT_TIMEOUT
    })
}

/// Where and for what a check command runs.
#[derive(Debug, Clone, Copy)]
pub struct CommandContext<'a> {
    /// The plan's folder: relative program paths resolve here, and the command runs here.
    pub base_dir: &'a Path,
    /// The service whose credential is checked.
    pub service: &'a ServiceName,
    /// The instance the run targets (the sandbox, in a `--sandbox` run).
    pub base_url: &'a str,
    /// How long the command may run.
    pub timeout: Duration,
}

/// The program to start: `relinker` is this very program; a path with a `/` is relative to
/// the plan's folder; a bare name is looked up in `PATH`.
fn program(name: &str, base_dir: &Path) -> PathBuf {
    if name == "relinker"
        && let Ok(me) = std::env::current_exe()
    {
        return me;
    }
    let path = Path::new(name);
    if name.contains('/') && path.is_relative() {
        base_dir.join(path)
    } else {
        path.to_path_buf()
    }
}

/// What a check command said of a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Exit 0: it authenticates.
    Authenticates,
    /// Exit 1: it is refused.
    Refused,
    /// Any other end (another exit code, a timeout, a signal): the command could not tell.
    CannotCheck(String),
}

impl Answer {
    /// The answer as a plan records it: whether the credential authenticates, or `None` when
    /// the command could not tell, its reason kept in `undecided` (the plan then knows nothing
    /// of what it checks, and says why).
    pub fn told(self, undecided: &mut Vec<String>) -> Option<bool> {
        match self {
            Answer::Authenticates => Some(true),
            Answer::Refused => Some(false),
            Answer::CannotCheck(why) => {
                undecided.push(why);
                None
            }
        }
    }
}

/// What an integration's check command said when the plan was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checked {
    /// With the credential it uses now: `None` when the plan gives none, it cannot be read, or
    /// the command could not tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<bool>,
    /// With the rotation's new credential: `None` when the plan gives none or it cannot be read
    /// yet (a new credential usually does not exist when the plan is made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<bool>,
}

impl Checked {
    /// What an integration's switch to the new credential has to do, as its check command
    /// read it at planning (`None`: the integration was not checked): done if the new
    /// credential passes, to do if the current one does, otherwise not known.
    pub fn switch_readiness(seen: Option<&Checked>) -> Readiness {
        match seen {
            Some(seen) if seen.new == Some(true) => Readiness::AlreadySatisfied,
            Some(seen) if seen.current == Some(true) => Readiness::Pending,
            _ => Readiness::Unknown,
        }
    }

    /// The command refused the current credential and did not pass with the new one: the
    /// integration is on neither, as far as the plan can see.
    pub fn on_neither(self) -> bool {
        self.current == Some(false) && self.new != Some(true)
    }
}

/// Runs `command` with a credential; answers whether it authenticates (exit 0), is refused
/// (exit 1), or the command could not tell. Only a command that cannot be started at all is an
/// error: the plan names something that is not there.
pub async fn authenticates(
    command: &CheckCommand,
    context: CommandContext<'_>,
    username: &str,
    password: &Secret,
) -> Result<Answer, CheckError> {
    let mut process = tokio::process::Command::new(program(&command.program, context.base_dir));
    // Only what a check needs: relinker's own environment holds the admin secret, the state
    // store's URL, the webhook and whatever cloud keys the runner has.
    process.env_clear().envs(passed_on(std::env::vars_os()));
    process
        .args(&command.args)
        .current_dir(context.base_dir)
        .env("RELINKER_USERNAME", username)
        .env("RELINKER_PASSWORD", password.expose())
        .env("RELINKER_SERVICE", context.service.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    crate::process::own_group(&mut process);
    // A platform without an API (Movius) has no instance URL to tell.
    if !context.base_url.is_empty() {
        process.env("RELINKER_BASE_URL", context.base_url);
    }
    let cannot_run = |e: std::io::Error| {
        CheckError::Unusable(format!(
            "cannot run the check command `{command}` of `{}`: {e}",
            context.service
        ))
    };
    let mut child = process.spawn().map_err(cannot_run)?;
    // Declared after `child`, so dropped before it: the group is killed while its leader is
    // not yet reaped (on a timeout or a cancelled wait), so its id is still the group's.
    let _group = crate::process::Group::of(&child);
    let Ok(status) = tokio::time::timeout(context.timeout, child.wait()).await else {
        return Ok(Answer::CannotCheck(format!(
            "the check command `{command}` of `{}` did not finish within {} s",
            context.service,
            context.timeout.as_secs()
        )));
    };
    let status = status.map_err(cannot_run)?;
    tracing::debug!(service = %context.service, code = ?status.code(), "check command finished");
    Ok(match status.code() {
        Some(0) => Answer::Authenticates,
        Some(1) => Answer::Refused,
        Some(code) => Answer::CannotCheck(format!(
            "the check command `{command}` of `{}` could not check (exit {code})",
            context.service
        )),
        None => Answer::CannotCheck(format!(
            "the check command `{command}` of `{}` was killed by a signal",
            context.service
        )),
    })
}

/// Runs a platform's check commands: where they run, what instance they are told of, and
/// where the credentials they are handed come from.
#[derive(Debug, Clone)]
pub struct CommandChecker {
    secrets: Secrets,
    base_dir: PathBuf,
    base_url: String,
    timeout: Duration,
    runs: CheckCommands,
}

/// Whether check commands run in this command.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CheckCommands {
    /// They run.
    #[default]
    Run,
    /// Planning on a runner whose configuration keeps them from running then (a plan under
    /// review must not start programs with credentials): each check cannot tell.
    NotAtPlanTime,
}

impl CommandChecker {
    /// Check commands run in `base_dir`, told of `base_url`, with credentials from `secrets`,
    /// for as long as `RELINKER_CHECK_TIMEOUT` allows (60 s unless it says otherwise), if
    /// `runs` lets them run at all.
    pub fn new(secrets: Secrets, base_dir: PathBuf, base_url: String, runs: CheckCommands) -> Self {
        Self {
            secrets,
            base_dir,
            base_url,
            timeout: timeout_from_env(),
            runs,
        }
    }

    /// Where credentials come from.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// What `service`'s check command says of `login`; `None` while the credential cannot be
    /// read (a new credential usually does not exist when the plan is made).
    pub async fn passes(
        &self,
        service: &ServiceName,
        check: &CheckCommand,
        login: &Login,
    ) -> Result<Option<Answer>, CheckError> {
        if self.runs == CheckCommands::NotAtPlanTime {
            return Ok(Some(Answer::CannotCheck(format!(
                "the check command of `{service}` does not run at plan time on this runner (its runner configuration's `checks.at_plan`)"
            ))));
        }
        let Ok(resolved) = self.secrets.login(login) else {
            return Ok(None);
        };
        let context = CommandContext {
            base_dir: &self.base_dir,
            service,
            base_url: &self.base_url,
            timeout: self.timeout,
        };
        authenticates(check, context, &resolved.username, &resolved.password)
            .await
            .map(Some)
    }

    /// Whether every integration's check command passes with `login`, the new credential of a
    /// rotation's proof: only a refusal is a wrong answer (a conflict); a command that cannot
    /// check, or a credential that cannot be read now, cannot tell.
    pub async fn all_pass<'i>(
        &self,
        checks: impl IntoIterator<Item = (&'i ServiceName, &'i CheckCommand)>,
        login: &Login,
    ) -> Result<Check, CheckError> {
        for (service, check) in checks {
            match self.passes(service, check, login).await? {
                Some(Answer::Authenticates) => {}
                Some(Answer::Refused) => {
                    return Ok(Check::Conflict(format!(
                        "the check command of `{service}` does not pass with the new credential"
                    )));
                }
                Some(Answer::CannotCheck(reason)) => return Ok(Check::CannotTell(reason)),
                None => {
                    return Ok(Check::CannotTell(
                        "the new credential cannot be read now".into(),
                    ));
                }
            }
        }
        Ok(Check::Holds)
    }

    /// [`Self::passes`] as a gate's check: a switch holds once the command passes.
    pub async fn switched(
        &self,
        service: &ServiceName,
        check: &CheckCommand,
        login: &Login,
    ) -> Result<Check, CheckError> {
        Ok(match self.passes(service, check, login).await? {
            Some(Answer::Authenticates) => Check::Holds,
            Some(Answer::Refused) => Check::NotYet(format!(
                "the check command of `{service}` does not pass with the credential yet"
            )),
            Some(Answer::CannotCheck(reason)) => Check::CannotTell(reason),
            None => Check::NotYet(format!(
                "waiting for the credential of `{service}` to be readable"
            )),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(script: &str) -> CheckCommand {
        CheckCommand {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
        }
    }

    #[tokio::test]
    async fn the_credential_reaches_the_command_in_its_environment_only() {
        let dir = tempfile::tempdir().unwrap();
        let service = ServiceName::new("magento");
        let context = CommandContext {
            base_dir: dir.path(),
            service: &service,
            base_url: "http://127.0.0.1:1",
            timeout: Duration::from_secs(10),
        };
        let password = Secret::new("s3cret-word");
        let script = r#"test "$RELINKER_USERNAME" = apiuser-x@apiconnector.com && test "$RELINKER_PASSWORD" = s3cret-word && test "$RELINKER_SERVICE" = magento && test "$#" = 0"#;
        assert_eq!(
            authenticates(
                &command(script),
                context,
                "apiuser-x@apiconnector.com",
                &password
            )
            .await
            .unwrap(),
            Answer::Authenticates
        );
        assert_eq!(
            authenticates(&command("exit 1"), context, "u", &password)
                .await
                .unwrap(),
            Answer::Refused
        );
        // Anything but 0 and 1 is a command that could not tell, never a refusal.
        let throttled = authenticates(&command("exit 2"), context, "u", &password)
            .await
            .unwrap();
        assert!(
            matches!(&throttled, Answer::CannotCheck(why) if why.contains("exit 2")),
            "{throttled:?}"
        );
        let missing = CheckCommand {
            program: "./no-such-check".into(),
            args: vec![],
        };
        let error = authenticates(&missing, context, "u", &password)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("cannot run the check command"),
            "{error}"
        );
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn a_check_command_is_given_only_what_a_check_needs() {
        let os = |pairs: &[(&str, &str)]| -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
            pairs
                .iter()
                .map(|(n, v)| ((*n).into(), (*v).into()))
                .collect()
        };
        let given = os(&[
            ("PATH", "/usr/bin"),
            ("HOME", "/home/ops"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
            ("TZ", "UTC"),
            ("MARKETO_CLIENT_SECRET", "s3cret"),
            ("RELINKER_STATE", "postgres://u:p@db/x"),
            ("RELINKER_STATE_KEY", "k"),
            ("AWS_SECRET_ACCESS_KEY", "aws"),
            ("LCX", "not a locale"),
        ]);
        let kept: Vec<String> = passed_on(given)
            .into_iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["PATH", "HOME", "LANG", "LC_ALL", "TZ"]);
    }

    /// Whether a process runs: a zombie, killed and waiting to be reaped, does not.
    #[cfg(target_os = "linux")]
    fn runs(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.chars().next())
                .is_some_and(|state| state != 'Z' && state != 'X')
        })
    }

    /// What a check command started in the background dies with it, whether it timed out or
    /// its check was abandoned (the future dropped, as when a run stops).
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_check_commands_children_die_with_it() {
        use std::time::Duration;
        for (case, timeout) in [
            ("timed out", Duration::from_secs(1)),
            ("abandoned", Duration::from_mins(1)),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let service = ServiceName::new("magento");
            let context = CommandContext {
                base_dir: dir.path(),
                service: &service,
                base_url: "",
                timeout,
            };
            let password = Secret::new("s3cret-word");
            let script = command("sleep 300 & echo $! > sleep.pid; wait");
            let pid_file = dir.path().join("sleep.pid");
            let started = async {
                loop {
                    match std::fs::read_to_string(&pid_file) {
                        Ok(pid) if pid.ends_with('\n') => return,
                        _ => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
            };
            let check = authenticates(&script, context, "u", &password);
            if timeout < Duration::from_mins(1) {
                // A check that runs out of time could not tell: an answer, not an error.
                let answer = check.await;
                assert!(
                    matches!(&answer, Ok(Answer::CannotCheck(why)) if why.contains("did not finish")),
                    "{case}: {answer:?}"
                );
            } else {
                tokio::select! {
                    ended = check => panic!("{case}: the check ended: {ended:?}"),
                    () = started => {}
                }
            }
            let pid = std::fs::read_to_string(&pid_file).unwrap();
            let pid = pid.trim();
            let mut waited = 0;
            while runs(pid) {
                waited += 1;
                if waited > 100 {
                    let _ = std::process::Command::new("kill")
                        .args(["-9", pid])
                        .status();
                    panic!("{case}: the check command's child {pid} outlived it");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}
