//! `kind: command` stores: a program the runner configuration names (1Password's `op read`,
//! `vault kv get -field`, `kubectl get secret`) whose standard output is the secret.
//!
//! It runs from its `argv` alone (no shell: a reference's path is one argument, never code),
//! with a cleared environment (what every program relinker starts gets, [`passed_on`], plus the
//! variables the store lists by name, such as `OP_SERVICE_ACCOUNT_TOKEN` or `VAULT_TOKEN`),
//! for a bounded time, leading a process group that is killed whole when it ends or times
//! out. Its standard error is never shown: a failing program may print what it read.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use crate::process::passed_on;
use crate::secret::Secret;

/// The most of a program's output taken as a secret: more is not a secret but a mistake.
const MAX_OUTPUT: u64 = 64 * 1024;

/// A program whose standard output is a secret.
#[derive(Debug, Clone)]
pub struct CommandSource {
    /// The program and its arguments; `{path}` and `{key}` in them stand for the reference's.
    pub argv: Vec<String>,
    /// Variables of relinker's environment the program is given, besides `PATH`, `HOME`,
    /// `LANG`, `LC_*` and `TZ`.
    pub env: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
}

impl CommandSource {
    /// Whether the program reads a secret's key itself (`{key}` is in its `argv`): then a
    /// reference must give one, and its output is the key's value.
    pub fn takes_key(&self) -> bool {
        self.argv.iter().any(|arg| arg.contains("{key}"))
    }

    /// The program's arguments for a reference to `path` (and `key`).
    fn args(&self, path: &str, key: Option<&str>) -> Vec<String> {
        self.argv
            .iter()
            .map(|arg| {
                arg.replace("{path}", path)
                    .replace("{key}", key.unwrap_or_default())
            })
            .collect()
    }

    /// Runs the program for `path` (and `key`); its output less one trailing newline.
    pub(super) async fn read(&self, path: &str, key: Option<&str>) -> Result<Secret, String> {
        let args = self.args(path, key);
        let Some((program, rest)) = args.split_first() else {
            return Err("the store's `argv` is empty".into());
        };
        if self.takes_key() && key.is_none() {
            return Err("this store reads a key: write the reference as `…#KEY`".into());
        }
        let mut process = tokio::process::Command::new(program);
        process
            .env_clear()
            .envs(passed_on(std::env::vars_os()))
            .envs(
                self.env
                    .iter()
                    .filter_map(|name| std::env::var_os(name).map(|value| (name, value))),
            )
            .args(rest)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        crate::process::own_group(&mut process);
        let mut child = process
            .spawn()
            .map_err(|e| format!("cannot run `{program}`: {e}"))?;
        let _group = crate::process::Group::of(&child);
        let Some(stdout) = child.stdout.take() else {
            return Err(format!("cannot read what `{program}` prints"));
        };
        let run = async {
            let mut output = Vec::new();
            stdout
                .take(MAX_OUTPUT + 1)
                .read_to_end(&mut output)
                .await
                .map_err(|e| format!("cannot read what `{program}` prints: {e}"))?;
            let status = child
                .wait()
                .await
                .map_err(|e| format!("`{program}` did not finish: {e}"))?;
            Ok::<_, String>((output, status))
        };
        let Ok(finished) = tokio::time::timeout(self.timeout, run).await else {
            return Err(format!(
                "`{program}` did not finish within {} s (it was stopped)",
                self.timeout.as_secs_f64()
            ));
        };
        let (output, status) = finished?;
        if !status.success() {
            return Err(match status.code() {
                Some(code) => format!(
                    "`{program}` failed (exit {code}; its messages are not shown, as they may hold secrets)"
                ),
                None => format!("`{program}` was killed by a signal"),
            });
        }
        value(output).map_err(|why| format!("`{program}` {why}"))
    }
}

/// A program's output as a secret: UTF-8, at most [`MAX_OUTPUT`], one trailing newline
/// (`\n` or `\r\n`) dropped, not empty.
fn value(output: Vec<u8>) -> Result<Secret, String> {
    if output.len() as u64 > MAX_OUTPUT {
        return Err(format!("printed more than {} KiB", MAX_OUTPUT / 1024));
    }
    let Ok(text) = String::from_utf8(output) else {
        return Err("printed something that is not UTF-8 text".into());
    };
    let value = text
        .strip_suffix('\n')
        .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
    if value.is_empty() {
        return Err("printed nothing".into());
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_loses_one_trailing_newline_only() {
        assert_eq!(value(b"s3cret\n".to_vec()).unwrap().expose(), "s3cret");
        assert_eq!(value(b"s3cret\r\n".to_vec()).unwrap().expose(), "s3cret");
        assert_eq!(value(b"s3cret\n\n".to_vec()).unwrap().expose(), "s3cret\n");
        assert!(value(b"\n".to_vec()).is_err());
        assert!(value(vec![0xff]).is_err());
    }

    #[test]
    fn path_and_key_fill_the_arguments() {
        let source = CommandSource {
            argv: vec![
                "vault".into(),
                "kv".into(),
                "get".into(),
                "-field={key}".into(),
                "{path}".into(),
            ],
            env: vec![],
            timeout: Duration::from_secs(1),
        };
        assert!(source.takes_key());
        assert_eq!(
            source.args("secret/marketo", Some("client_secret")),
            [
                "vault",
                "kv",
                "get",
                "-field=client_secret",
                "secret/marketo"
            ]
        );
    }
}
