//! Secret references: `${env:NAME}`, `${file:PATH}` and `${store:SOURCE/PATH#KEY}` (a store the
//! runner configuration declares, [`crate::stores`]). Plans name where a secret lives; they
//! never hold one.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::secret::Secret;

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// An environment variable.
    Env(String),
    /// A file (relative paths are relative to the plan file); one trailing newline is dropped.
    File(PathBuf),
    /// A secret in a store the runner configuration declares.
    Store(crate::stores::StoreRef),
}

/// A value that may be written literally (a client id) or referenced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// Written in the plan.
    Literal(String),
    /// Referenced.
    Reference(SecretRef),
}

/// A username and a password, as a service authenticates with them. The password is only
/// ever referenced; the username may be written (it is no secret) or referenced (it may not be
/// known until a person creates the user).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Login {
    /// The username.
    pub username: Credential,
    /// The password.
    pub password: SecretRef,
}

/// A username and password with their values read.
#[derive(Debug, Clone)]
pub struct ResolvedLogin {
    /// The username (no secret).
    pub username: String,
    /// The password.
    pub password: Secret,
}

impl ResolvedLogin {
    /// The fingerprint of username and password: names a credential without revealing it
    /// (see [`crate::secret`] for why it is slow and salted).
    pub fn fingerprint(
        &self,
        fingerprinter: &crate::secret::Fingerprinter,
    ) -> crate::secret::CredentialFingerprint {
        fingerprinter.fingerprint(&[self.username.as_bytes(), self.password.expose().as_bytes()])
    }
}

/// Why a secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The variable is not set (or empty).
    #[error("environment variable `{name}` is not set (referenced as `${{env:{name}}}`)")]
    MissingEnv {
        /// The variable.
        name: String,
    },
    /// The file cannot be used: unreadable, not a regular file, over 64 KiB, not UTF-8.
    #[error("{0}")]
    UnreadableFile(crate::input::InputError),
    /// The file is empty.
    #[error("secret file `{}` is empty", path.display())]
    EmptyFile {
        /// The file.
        path: PathBuf,
    },
    /// A store did not give the secret (or none is declared).
    #[error("{0}")]
    Store(crate::stores::StoreError),
    /// A `--sandbox` run has no stand-in for the reference.
    #[error("the sandbox fixture has no stand-in for `{reference}` (add it under `secrets:`)")]
    NotInFixture {
        /// The reference.
        reference: String,
    },
}

/// Secret references that could not be read, each once with the plan fields that name it.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct MissingSecrets {
    /// Each unreadable reference once, with every field that uses it, in plan order.
    pub missing: Vec<(Vec<String>, SecretError)>,
}

impl fmt::Display for MissingSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let quoted = |fields: &[String]| {
            fields
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let [(fields, error)] = self.missing.as_slice() else {
            write!(
                f,
                "{} secrets the plan references cannot be read:",
                self.missing.len()
            )?;
            for (fields, error) in &self.missing {
                write!(f, "\n  - {}: {error}", quoted(fields))?;
            }
            return Ok(());
        };
        write!(f, "{}: {error}", quoted(fields))
    }
}

/// Reads every reference it is asked for before anything is reported, so a person who forgot
/// three variables learns about all three at once, each named once with the fields behind it.
#[derive(Debug)]
pub struct SecretReader<'a> {
    secrets: &'a Secrets,
    missing: Vec<(Vec<String>, SecretError)>,
}

impl<'a> SecretReader<'a> {
    /// A reader resolving through `secrets`.
    pub fn new(secrets: &'a Secrets) -> Self {
        Self {
            secrets,
            missing: Vec::new(),
        }
    }

    /// The value of `credential`, or `None` when it cannot be read (and is remembered).
    pub fn read(&mut self, field: String, credential: &Credential) -> Option<Secret> {
        match self.secrets.credential(credential) {
            Ok(secret) => Some(secret),
            Err(error) => {
                match self.missing.iter_mut().find(|(_, e)| *e == error) {
                    Some((fields, _)) => fields.push(field),
                    None => self.missing.push((vec![field], error)),
                }
                None
            }
        }
    }

    /// The values of a login, or `None` when either cannot be read (and is remembered).
    pub fn read_login(&mut self, field: &str, login: &Login) -> Option<ResolvedLogin> {
        let username = self.read(format!("{field}.username"), &login.username);
        let password = self.read(
            format!("{field}.password"),
            &Credential::Reference(login.password.clone()),
        );
        Some(ResolvedLogin {
            username: username?.expose().to_owned(),
            password: password?,
        })
    }

    /// Every reference that could not be read, if any.
    pub fn finish(self) -> Result<(), MissingSecrets> {
        if self.missing.is_empty() {
            Ok(())
        } else {
            Err(MissingSecrets {
                missing: self.missing,
            })
        }
    }
}

/// Where a plan's secret references resolve.
#[derive(Debug, Clone)]
pub enum Secrets {
    /// Environment variables, and files relative to the plan's folder: a real run.
    Live {
        /// The plan's folder.
        base_dir: PathBuf,
    },
    /// A sandbox fixture's stand-ins, by the reference's text: a `--sandbox` run.
    Sandbox {
        /// Stand-in values.
        values: std::collections::BTreeMap<String, Secret>,
    },
}

impl Secrets {
    /// The value a reference stands for.
    pub fn secret(&self, reference: &SecretRef) -> Result<Secret, SecretError> {
        match self {
            Secrets::Live { base_dir } => reference.resolve(base_dir),
            Secrets::Sandbox { values } => {
                values.get(&reference.to_string()).cloned().ok_or_else(|| {
                    SecretError::NotInFixture {
                        reference: reference.to_string(),
                    }
                })
            }
        }
    }

    /// The values of a username and password.
    pub fn login(&self, login: &Login) -> Result<ResolvedLogin, SecretError> {
        Ok(ResolvedLogin {
            username: self.credential(&login.username)?.expose().to_owned(),
            password: self.secret(&login.password)?,
        })
    }

    /// The value of a credential: the literal, or what its reference stands for.
    pub fn credential(&self, credential: &Credential) -> Result<Secret, SecretError> {
        match credential {
            Credential::Literal(value) => Ok(Secret::new(value.clone())),
            Credential::Reference(reference) => self.secret(reference),
        }
    }
}

impl SecretRef {
    /// Parses `${env:NAME}`, `${file:PATH}` or `${store:SOURCE/PATH#KEY}`; `None` for
    /// anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let inner = text.trim().strip_prefix("${")?.strip_suffix('}')?;
        let (scheme, rest) = inner.split_once(':')?;
        let rest = rest.trim();
        match scheme {
            "env"
                if !rest.is_empty()
                    && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Some(SecretRef::Env(rest.to_owned()))
            }
            "file" if !rest.is_empty() => Some(SecretRef::File(PathBuf::from(rest))),
            "store" => crate::stores::StoreRef::parse(rest).map(SecretRef::Store),
            _ => None,
        }
    }

    /// Whether `text` tries to be a reference (starts with `${`), well-formed or not.
    pub fn looks_like_reference(text: &str) -> bool {
        text.trim_start().starts_with("${")
    }

    /// Reads the secret; relative file paths are resolved against `base`; a store's secret is
    /// read once per command ([`crate::stores::read`]).
    pub fn resolve(&self, base: &Path) -> Result<Secret, SecretError> {
        match self {
            SecretRef::Env(name) => match std::env::var(name) {
                Ok(value) if !value.is_empty() => Ok(Secret::new(value)),
                _ => Err(SecretError::MissingEnv { name: name.clone() }),
            },
            SecretRef::File(path) => {
                let full = base.join(path);
                let text = crate::input::read_text(&full, crate::input::Kind::Secret)
                    .map_err(SecretError::UnreadableFile)?;
                let value = text
                    .strip_suffix('\n')
                    .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
                if value.is_empty() {
                    return Err(SecretError::EmptyFile { path: full });
                }
                Ok(Secret::new(value))
            }
            SecretRef::Store(reference) => {
                crate::stores::read(reference).map_err(SecretError::Store)
            }
        }
    }
}

impl Credential {
    /// The value: the literal, or the resolved reference.
    pub fn resolve(&self, base: &Path) -> Result<Secret, SecretError> {
        match self {
            Credential::Literal(value) => Ok(Secret::new(value.clone())),
            Credential::Reference(reference) => reference.resolve(base),
        }
    }
}

impl Serialize for SecretRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        SecretRef::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not a secret reference")))
    }
}

/// Journals and saved plans hold a credential as the plan wrote it: a literal (never a secret:
/// only client ids and usernames may be literal) or a reference.
impl Serialize for Credential {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Credential::Literal(text) => serializer.serialize_str(text),
            Credential::Reference(reference) => serializer.collect_str(reference),
        }
    }
}

impl<'de> Deserialize<'de> for Credential {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Ok(match SecretRef::parse(&text) {
            Some(reference) => Credential::Reference(reference),
            None => Credential::Literal(text),
        })
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(name) => write!(f, "${{env:{name}}}"),
            SecretRef::File(path) => write!(f, "${{file:{}}}", path.display()),
            SecretRef::Store(reference) => reference.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        assert_eq!(
            SecretRef::parse("${env:MARKETO_SECRET}"),
            Some(SecretRef::Env("MARKETO_SECRET".into()))
        );
        assert_eq!(
            SecretRef::parse(" ${file:secrets/sfdc.txt} "),
            Some(SecretRef::File("secrets/sfdc.txt".into()))
        );
        for bad in [
            "hunter2",
            "${env:}",
            "${env:A-B}",
            "${vault:x}",
            "$env:X",
            "${env:X",
            "{env:X}",
        ] {
            assert_eq!(SecretRef::parse(bad), None, "{bad}");
        }
        assert_eq!(
            SecretRef::parse("${store:prod-aws/marketo/admin#client_secret}")
                .map(|r| r.to_string()),
            Some("${store:prod-aws/marketo/admin#client_secret}".into())
        );
        assert_eq!(SecretRef::parse("${store:prod-aws}"), None);
        assert!(SecretRef::looks_like_reference("${vault:x}"));
        assert!(!SecretRef::looks_like_reference("hunter2"));
    }

    #[test]
    fn resolves_files_relative_to_the_plan() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "s3cret\n").unwrap();
        std::fs::write(dir.path().join("empty.txt"), "\n").unwrap();
        let secret = SecretRef::File("s.txt".into()).resolve(dir.path()).unwrap();
        assert_eq!(secret.expose(), "s3cret");
        assert!(matches!(
            SecretRef::File("empty.txt".into()).resolve(dir.path()),
            Err(SecretError::EmptyFile { .. })
        ));
        assert!(matches!(
            SecretRef::File("nope.txt".into()).resolve(dir.path()),
            Err(SecretError::UnreadableFile(_))
        ));
        assert!(matches!(
            SecretRef::File("/dev/zero".into()).resolve(dir.path()),
            Err(SecretError::UnreadableFile(crate::input::InputError {
                problem: crate::input::Problem::NotRegular(_),
                ..
            }))
        ));
        let missing = SecretRef::Env("RELINKER_TEST_SURELY_UNSET_VARIABLE".into())
            .resolve(dir.path())
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            "environment variable `RELINKER_TEST_SURELY_UNSET_VARIABLE` is not set (referenced as `${env:RELINKER_TEST_SURELY_UNSET_VARIABLE}`)"
        );
    }
}
