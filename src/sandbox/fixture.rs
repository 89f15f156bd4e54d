//! What every platform's fixture shares: reading the file, parsing YAML with every problem
//! pinned to its line, telling which platform a fixture seeds (its `provider:` key; Marketo
//! when absent), and the `secrets:` map of stand-ins a `--sandbox` run resolves a plan's secret
//! references to. A fixture holds sandbox credentials in clear: they exist only inside the
//! emulator and in the files that seed it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics, yaml_options};
use crate::plan::SecretRef;
use crate::secret::Secret;

/// Why a fixture could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file cannot be used: unreadable, not a regular file, over 1 MiB, not UTF-8.
    #[error("{0}")]
    Read(#[from] crate::input::InputError),
    /// The file was read and is wrong; every problem is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

/// Reads a fixture file.
pub fn read(path: &Path) -> Result<String, FixtureError> {
    Ok(crate::input::read_text(path, crate::input::Kind::Fixture)?)
}

/// Parses fixture YAML into its raw shape.
pub(crate) fn parse_yaml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, FixtureError> {
    serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
        FixtureError::Invalid(Diagnostics::new(origin, vec![Diagnostic::from_yaml(&e)]))
    })
}

/// Parses fixture YAML into its raw shape and validates it, reporting every problem at once.
pub(crate) fn parse_with<Raw: DeserializeOwned, Fixture>(
    text: &str,
    origin: &str,
    validate: impl FnOnce(Raw, &mut Vec<Diagnostic>) -> Fixture,
) -> Result<Fixture, FixtureError> {
    let blank = text
        .lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'));
    if blank {
        return Err(FixtureError::Invalid(Diagnostics::new(
            origin,
            vec![Diagnostic {
                line: 0,
                column: 0,
                field: String::new(),
                message: "the fixture is empty: it would serve an instance with nothing in it"
                    .into(),
                hint: Some("docs/sandbox.md lists a fixture's fields".into()),
            }],
        )));
    }
    let raw: Raw = parse_yaml(text, origin)?;
    let mut problems = Vec::new();
    let fixture = validate(raw, &mut problems);
    if problems.is_empty() {
        Ok(fixture)
    } else {
        Err(FixtureError::Invalid(Diagnostics::new(origin, problems)))
    }
}

#[derive(Debug, Deserialize)]
struct Sniffed {
    #[serde(default)]
    provider: Option<Spanned<String>>,
}

/// The platform a fixture seeds, as its `provider:` key names it: `marketo` when absent.
pub fn provider_of(text: &str, origin: &str) -> Result<String, FixtureError> {
    let sniffed: Sniffed = parse_yaml(text, origin)?;
    Ok(sniffed
        .provider
        .map_or_else(|| "marketo".to_owned(), |p| p.value.trim().to_owned()))
}

/// Stand-ins for a plan's secret references, by the reference's text, as a fixture's
/// `secrets:` gives them.
pub(crate) fn stand_ins(
    raw: Option<Spanned<BTreeMap<String, String>>>,
    problems: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Secret> {
    let mut values = BTreeMap::new();
    let Some(raw) = raw else {
        return values;
    };
    for (reference, value) in raw.value {
        match SecretRef::parse(&reference) {
            Some(parsed) => {
                values.insert(parsed.to_string(), Secret::new(value));
            }
            None => problems.push(
                Diagnostic::at(
                    raw.referenced,
                    format!("secrets.{reference}"),
                    format!("`{reference}` is not a secret reference"),
                )
                .with_hint("keys are the references a plan uses: `${env:NAME}` or `${file:PATH}`"),
            ),
        }
    }
    values
}
