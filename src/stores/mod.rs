//! Secret stores: where teams keep secrets, as the runner configuration declares them. A plan
//! names a secret by store and key (`${store:prod-aws/marketo/admin#client_secret}`), never by
//! how it is fetched; the runner configuration says what each store is (AWS Secrets Manager, or
//! a program such as `op read`, `vault kv get`, `kubectl get secret`) and which of its paths a
//! plan may read.
//!
//! This module owns the reference's grammar ([`StoreRef`]), the declared sources
//! ([`StoreSource`]), and reading: each secret is read at most once per command and kept in
//! memory only, as a [`Secret`] ([`Stores`]). A store that cannot be read is an error naming the
//! reference, never a value. The sources are the runner's, and one runner configuration governs
//! a command, so they are installed once for the process ([`install`]) where every secret
//! reference is resolved, whichever command resolves it.

mod aws;
mod aws_config;
mod command;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::secret::Secret;

pub use aws::AwsSource;
pub use command::CommandSource;

/// A secret in a store: `${store:SOURCE/PATH}` or `${store:SOURCE/PATH#KEY}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreRef {
    /// The store, by the name the runner configuration gives it.
    pub source: String,
    /// The secret in the store: a Secrets Manager name or ARN, what a program reads.
    pub path: String,
    /// A field of the secret: a key of the JSON object the secret holds, or what a program
    /// whose `argv` takes `{key}` reads.
    pub key: Option<String>,
}

impl StoreRef {
    /// Parses what follows `store:` in a reference; `None` unless it is `SOURCE/PATH[#KEY]`
    /// with a source name of letters, digits, `-` and `_`, a path of the characters secret
    /// names use (letters, digits, spaces and `/_+=.@:,-`, never starting with `-` nor holding
    /// a `..` step: it may become a program's argument) and a key of letters, digits and
    /// `_.-`.
    pub fn parse(text: &str) -> Option<Self> {
        let (source, rest) = text.trim().split_once('/')?;
        let (path, key) = match rest.split_once('#') {
            Some((path, key)) => (path, Some(key)),
            None => (rest, None),
        };
        let source_ok = !source.is_empty()
            && source
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let path_ok = !path.is_empty()
            && !path.starts_with('-')
            && path.trim() == path
            && !path.split('/').any(|step| step == "..")
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " /_+=.@:,-".contains(c));
        let key_ok = key.is_none_or(|key| {
            !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        });
        (source_ok && path_ok && key_ok).then(|| Self {
            source: source.to_owned(),
            path: path.to_owned(),
            key: key.map(str::to_owned),
        })
    }
}

impl fmt::Display for StoreRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${{store:{}/{}", self.source, self.path)?;
        if let Some(key) = &self.key {
            write!(f, "#{key}")?;
        }
        f.write_str("}")
    }
}

/// A store the runner configuration declares.
#[derive(Debug, Clone)]
pub struct StoreSource {
    /// Its name, as references give it.
    pub name: String,
    /// What it is.
    pub kind: SourceKind,
}

/// What a store is, and how it is read.
#[derive(Debug, Clone)]
pub enum SourceKind {
    /// AWS Secrets Manager (`GetSecretValue`).
    AwsSecretsManager(AwsSource),
    /// A program whose standard output is the secret.
    Command(CommandSource),
}

impl SourceKind {
    /// The kind's name, as the runner configuration writes it.
    pub fn name(&self) -> &'static str {
        match self {
            SourceKind::AwsSecretsManager(_) => "aws-secrets-manager",
            SourceKind::Command(_) => "command",
        }
    }
}

/// Why a secret in a store cannot be read. Each names the reference; none holds a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No runner configuration declares stores for this command.
    #[error(
        "`{reference}` cannot be read: secret stores are declared by a runner configuration (--runner-config or RELINKER_RUNNER_CONFIG), and this command has none (only the commands that take --runner-config read one)"
    )]
    NoStores {
        /// The reference.
        reference: String,
    },
    /// The runner configuration declares no store of that name.
    #[error("`{reference}` cannot be read: the runner configuration declares no store `{store}`")]
    UnknownStore {
        /// The reference.
        reference: String,
        /// The store it names.
        store: String,
    },
    /// The store did not give the secret: it refused, does not have it, did not answer, or
    /// the program failed.
    #[error("`{reference}` cannot be read: {reason}")]
    Unreadable {
        /// The reference.
        reference: String,
        /// Why, in words that hold no secret.
        reason: String,
    },
}

/// The stores a command reads, and what it has read of them (in memory only).
#[derive(Debug)]
pub struct Stores {
    sources: Vec<StoreSource>,
    /// Values read, by store and path: a secret read for one key serves its other keys.
    /// Only values are kept: a store that failed is asked again when a run looks again (a
    /// person may be creating the secret while a run waits).
    read: Mutex<HashMap<(String, String), Secret>>,
    /// Held while a store is asked, so that plans applied together that need one secret ask
    /// for it once (a std mutex: the asking blocks this thread anyway, off the runtime).
    asking: Mutex<()>,
}

impl Stores {
    /// Stores to read from.
    pub fn new(sources: Vec<StoreSource>) -> Self {
        Self {
            sources,
            read: Mutex::new(HashMap::new()),
            asking: Mutex::new(()),
        }
    }

    /// The secret `reference` names, read from its store unless this command already has.
    /// Blocks the calling thread while the store answers (callers are synchronous, and it
    /// happens once a secret); on a multi-threaded runtime its other tasks move on meanwhile.
    pub fn read(&self, reference: &StoreRef) -> Result<Secret, StoreError> {
        let unreadable = |reason: String| StoreError::Unreadable {
            reference: reference.to_string(),
            reason,
        };
        let Some(source) = self.sources.iter().find(|s| s.name == reference.source) else {
            return Err(StoreError::UnknownStore {
                reference: reference.to_string(),
                store: reference.source.clone(),
            });
        };
        let keyed_by_program = matches!(&source.kind, SourceKind::Command(c) if c.takes_key());
        let cache_key = (
            reference.source.clone(),
            if keyed_by_program {
                format!(
                    "{}#{}",
                    reference.path,
                    reference.key.as_deref().unwrap_or("")
                )
            } else {
                reference.path.clone()
            },
        );
        let cached = crate::sync::lock(&self.read).get(&cache_key).cloned();
        let value = if let Some(value) = cached {
            value
        } else {
            let value = crate::sync::off_the_runtime(|| {
                let _asking = crate::sync::lock(&self.asking);
                // Another thread may have read it while this one waited.
                if let Some(value) = crate::sync::lock(&self.read).get(&cache_key).cloned() {
                    return Ok(value);
                }
                match &source.kind {
                    SourceKind::AwsSecretsManager(aws) => {
                        on_own_runtime(aws.get_secret_value(&reference.path))
                    }
                    SourceKind::Command(command) => {
                        on_own_runtime(command.read(&reference.path, reference.key.as_deref()))
                    }
                }
            })
            .map_err(unreadable)?;
            crate::sync::lock(&self.read).insert(cache_key, value.clone());
            value
        };
        match &reference.key {
            Some(key) if !keyed_by_program => field(&value, key).map_err(unreadable),
            _ => Ok(value),
        }
    }
}

/// The string at `key` of the JSON object `value` holds. Neither the value nor what it holds
/// at other keys is ever named: only whether it is an object and has the key.
fn field(value: &Secret, key: &str) -> Result<Secret, String> {
    let Ok(serde_json::Value::Object(mut object)) =
        serde_json::from_str::<serde_json::Value>(value.expose())
    else {
        return Err(format!(
            "the secret is not a JSON object, so it has no key `{key}`"
        ));
    };
    match object.remove(key) {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Ok(Secret::new(text)),
        Some(serde_json::Value::String(_)) => Err(format!("key `{key}` of the secret is empty")),
        Some(_) => Err(format!("key `{key}` of the secret is not a string")),
        None => Err(format!("the secret has no key `{key}`")),
    }
}

/// Runs `work` to its end on a runtime of its own, on a thread of its own: callers are
/// synchronous, and may or may not be inside a runtime (which cannot be blocked on from
/// within).
fn on_own_runtime<T: Send>(
    work: impl std::future::Future<Output = Result<T, String>> + Send,
) -> Result<T, String> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| format!("cannot start a runtime to read it: {e}"))?
                    .block_on(work)
            })
            .join()
            .unwrap_or_else(|_| Err("reading it stopped unexpectedly".into()))
    })
}

/// The stores of this process's runner configuration.
static INSTALLED: OnceLock<Stores> = OnceLock::new();

/// Declares the runner configuration's stores for the rest of the command. The first call
/// wins: a command reads one runner configuration, however often it loads it.
pub fn install(sources: Vec<StoreSource>) {
    let _ = INSTALLED.set(Stores::new(sources));
}

/// The secret `reference` names, through the stores [`install`] declared.
pub fn read(reference: &StoreRef) -> Result<Secret, StoreError> {
    match INSTALLED.get() {
        Some(stores) => stores.read(reference),
        None => Err(StoreError::NoStores {
            reference: reference.to_string(),
        }),
    }
}

/// How long a store may take to answer, unless its declaration says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_store_references() {
        for (text, source, path, key) in [
            (
                "prod-aws/marketo/admin#client_secret",
                "prod-aws",
                "marketo/admin",
                Some("client_secret"),
            ),
            (
                "op/Infra/Marketo admin/password",
                "op",
                "Infra/Marketo admin/password",
                None,
            ),
            (
                "aws/arn:aws:secretsmanager:eu-west-1:123456789012:secret:m-AbCdEf",
                "aws",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:m-AbCdEf",
                None,
            ),
        ] {
            let parsed = StoreRef::parse(text).unwrap();
            assert_eq!(
                (
                    parsed.source.as_str(),
                    parsed.path.as_str(),
                    parsed.key.as_deref()
                ),
                (source, path, key),
                "{text}"
            );
            assert_eq!(parsed.to_string(), format!("${{store:{text}}}"));
        }
        for bad in [
            "prod-aws",
            "prod-aws/",
            "/path",
            "pro d/x",
            "aws/-address=https://elsewhere",
            "aws/a/../b",
            "aws/x#",
            "aws/x#a b",
            "aws/x;rm",
            "aws/x$(id)",
        ] {
            assert_eq!(StoreRef::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_key_reads_a_string_of_a_json_object_and_no_message_holds_the_value() {
        let value = Secret::new(r#"{"client_secret":"s3cret-x","n":1,"e":""}"#);
        assert_eq!(field(&value, "client_secret").unwrap().expose(), "s3cret-x");
        for key in ["n", "e", "missing"] {
            let error = field(&value, key).unwrap_err();
            assert!(!error.contains("s3cret"), "{error}");
        }
        let plain = Secret::new("s3cret-plain");
        let error = field(&plain, "k").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn without_installed_stores_a_reference_cannot_be_read() {
        // Installing is the CLI's; the library's tests never install, so none is here.
        let reference = StoreRef::parse("prod/x").unwrap();
        assert!(matches!(read(&reference), Err(StoreError::NoStores { .. })));
    }
}
