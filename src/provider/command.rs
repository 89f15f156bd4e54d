//! Checked by command: where no API can tell whether a credential works, a program the plan
//! names does. It gets the credential in its environment only (`RELINKER_USERNAME`,
//! `RELINKER_PASSWORD`; argv is visible to every process on the machine), with
//! `RELINKER_SERVICE` and `RELINKER_BASE_URL` to know what it checks, and exits 0 when the
//! credential authenticates. Its output is discarded unread: a script may echo what it was
//! given, and a secret never enters relinker's output or logs.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use super::platform::{Check, CheckError};
use crate::ids::ServiceName;
use crate::plan::{CheckCommand, Login, Secrets};
use crate::secret::Secret;

/// How long a check command may run, unless [`TIMEOUT_VARIABLE`] says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

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

/// Runs `command` with a credential; answers whether it authenticates (exit 0).
pub async fn authenticates(
    command: &CheckCommand,
    context: CommandContext<'_>,
    username: &str,
    password: &Secret,
) -> Result<bool, CheckError> {
    let mut process = tokio::process::Command::new(program(&command.program, context.base_dir));
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
    // A platform without an API (Movius) has no instance URL to tell.
    if !context.base_url.is_empty() {
        process.env("RELINKER_BASE_URL", context.base_url);
    }
    let status = tokio::time::timeout(context.timeout, process.status())
        .await
        .map_err(|_| {
            CheckError::Unusable(format!(
                "the check command `{command}` of `{}` did not finish within {} s",
                context.service,
                context.timeout.as_secs()
            ))
        })?
        .map_err(|e| {
            CheckError::Unusable(format!(
                "cannot run the check command `{command}` of `{}`: {e}",
                context.service
            ))
        })?;
    tracing::debug!(service = %context.service, code = ?status.code(), "check command finished");
    match status.code() {
        Some(0) => Ok(true),
        Some(_) => Ok(false),
        None => Err(CheckError::Unusable(format!(
            "the check command `{command}` of `{}` was killed by a signal",
            context.service
        ))),
    }
}

/// Runs a platform's check commands: where they run, what instance they are told of, and
/// where the credentials they are handed come from.
#[derive(Debug, Clone)]
pub struct CommandChecker {
    secrets: Secrets,
    base_dir: PathBuf,
    base_url: String,
    timeout: Duration,
}

impl CommandChecker {
    /// Check commands run in `base_dir`, told of `base_url`, with credentials from `secrets`,
    /// for as long as [`TIMEOUT_VARIABLE`] allows.
    pub fn new(secrets: Secrets, base_dir: PathBuf, base_url: String) -> Self {
        Self {
            secrets,
            base_dir,
            base_url,
            timeout: timeout_from_env(),
        }
    }

    /// Where credentials come from.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// Whether `service`'s check command passes with `login`; `None` while the credential
    /// cannot be read (a new credential usually does not exist when the plan is made).
    pub async fn passes(
        &self,
        service: &ServiceName,
        check: &CheckCommand,
        login: &Login,
    ) -> Result<Option<bool>, CheckError> {
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

    /// [`Self::passes`] as a gate's check: a switch holds once the command passes.
    pub async fn switched(
        &self,
        service: &ServiceName,
        check: &CheckCommand,
        login: &Login,
    ) -> Result<Check, CheckError> {
        Ok(match self.passes(service, check, login).await? {
            Some(true) => Check::Holds,
            Some(false) => Check::NotYet(format!(
                "the check command of `{service}` does not pass with the credential yet"
            )),
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
        assert!(
            authenticates(
                &command(script),
                context,
                "apiuser-x@apiconnector.com",
                &password
            )
            .await
            .unwrap()
        );
        assert!(
            !authenticates(&command("exit 1"), context, "u", &password)
                .await
                .unwrap()
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
}
