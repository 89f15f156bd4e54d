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

use crate::diagnostic::{Diagnostic, Diagnostics, yaml_options_within};
use crate::input::FIXTURE_LIMIT;
use crate::plan::SecretRef;
use crate::secret::Secret;

/// Why a fixture could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The file cannot be used: unreadable, not a regular file, over
    /// [`crate::input::FIXTURE_LIMIT`], not UTF-8.
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

/// Parses fixture YAML into its raw shape, within a parser budget that admits any fixture up
/// to [`FIXTURE_LIMIT`] (a copy of a large instance has millions of nodes).
pub(crate) fn parse_yaml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, FixtureError> {
    serde_saphyr::from_str_with_options(text, yaml_options_within(FIXTURE_LIMIT)).map_err(|e| {
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
///
/// A fixture in block style, as relinker writes them and the docs show them, names it on a line
/// of its own, `provider: NAME`: that line is read without parsing the file, which for a copy of
/// a large instance takes as long as the parse that follows. Any other file is parsed here.
/// Every platform's parser checks `provider:` again, so a line misread here cannot seed another
/// platform's sandbox.
pub fn provider_of(text: &str, origin: &str) -> Result<String, FixtureError> {
    if let Some(named) = provider_line(text) {
        return Ok(named.to_owned());
    }
    let sniffed: Sniffed = parse_yaml(text, origin)?;
    Ok(sniffed
        .provider
        .map_or_else(|| "marketo".to_owned(), |p| p.value.trim().to_owned()))
}

/// The name a top-level `provider: NAME` line gives (unquoted or quoted, a comment after it), if
/// the text has such a line and the name is a plain word.
fn provider_line(text: &str) -> Option<&str> {
    let rest = text
        .lines()
        .find_map(|line| line.strip_prefix("provider:"))?;
    let value = rest.split(" #").next().unwrap_or(rest).trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    let word = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    word.then_some(value)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn sniffs(text: &str, expected: &str) {
        assert_eq!(provider_of(text, "f.yaml").unwrap(), expected, "{text:?}");
    }

    #[test]
    fn the_provider_line_is_read_and_anything_else_is_parsed() {
        sniffs("provider: dotdigital\nregion: r1\n", "dotdigital");
        sniffs(
            "# a copy\nprovider: \"marketo\"  # written by relinker\nusers: []\n",
            "marketo",
        );
        sniffs("users: []\nprovider: 'movius'\n", "movius");
        // No line of its own: parsed.
        sniffs("{provider: movius, api_users: []}\n", "movius");
        sniffs("users: []\n", "marketo");
        sniffs("provider: >-\n  dotdigital\n", "dotdigital");
        assert!(provider_line("  provider: movius\n").is_none());
    }
}
