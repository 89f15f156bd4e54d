//! What every platform's fixture shares: reading the file, parsing it with every problem pinned
//! to its line, telling which platform a fixture seeds (its `provider:` key; Marketo when
//! absent), and the `secrets:` map of stand-ins a `--sandbox` run resolves a plan's secret
//! references to. A fixture holds sandbox credentials in clear: they exist only inside the
//! emulator and in the files that seed it.
//!
//! A fixture is YAML, or JSON when its text opens an object with a quoted key (`{"`): one
//! notation per file, told from its first characters, not its name (a fixture also arrives as a
//! control API body). JSON is read by serde_json, an order of magnitude faster than the YAML
//! parser, which is what makes a copy of a large instance load in a fraction of a second
//! (docs/performance.md). Both notations fill the same raw types and are validated alike.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
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

/// The notation a fixture is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notation {
    /// YAML, as people write fixtures and `--from-live` writes them by default.
    Yaml,
    /// JSON, as `--from-live --out FILE.json` writes a copy.
    Json,
}

/// The notation of `text`: JSON when it opens an object whose first key is quoted, or an empty
/// object (`{"`, `{}`, blanks allowed), as every JSON fixture does; YAML otherwise. A YAML flow
/// mapping opening with a quoted key is read as JSON, and if it is not JSON the message says why
/// it was read so.
pub(crate) fn notation(text: &str) -> Notation {
    let json_blank = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let opened = text
        .trim_start_matches(json_blank)
        .strip_prefix('{')
        .map(|rest| rest.trim_start_matches(json_blank));
    match opened {
        Some(rest) if rest.starts_with(['"', '}']) => Notation::Json,
        _ => Notation::Yaml,
    }
}

/// Parses a JSON fixture into its raw shape. serde_json stops at the first problem, with its
/// line and column; the field it is in is found by reading the text again, which only a refused
/// file pays for.
pub(crate) fn parse_json<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, FixtureError> {
    serde_json::from_str(text).map_err(|error| {
        let mut reader = serde_json::Deserializer::from_str(text);
        let field = match serde_path_to_error::deserialize::<_, T>(&mut reader) {
            Err(again) => field(again.path()),
            // What follows the document is refused after it was read: no field holds it.
            Ok(_) => String::new(),
        };
        let mut diagnostic = Diagnostic::from_json(&error, &field);
        if error.is_syntax() {
            diagnostic = diagnostic.with_hint(
                "the fixture is read as JSON because it opens with `{\"`; docs/sandbox.md, \"Fixtures\"",
            );
        }
        FixtureError::Invalid(Diagnostics::new(origin, vec![diagnostic]))
    })
}

/// A path as diagnostics name fields: `users[3].roles[0].role`. Segments serde_path_to_error
/// cannot name (inside a value buffered to try several shapes) are left out.
fn field(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut field = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => {
                let _ = write!(field, "[{index}]");
            }
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    field
}

/// Parses fixture YAML into its raw shape, within a parser budget that admits any fixture up
/// to [`FIXTURE_LIMIT`] (a copy of a large instance has millions of nodes).
pub(crate) fn parse_yaml<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, FixtureError> {
    serde_saphyr::from_str_with_options(text, yaml_options_within(FIXTURE_LIMIT)).map_err(|e| {
        FixtureError::Invalid(Diagnostics::new(origin, vec![Diagnostic::from_yaml(&e)]))
    })
}

/// Parses a fixture (YAML or JSON, as [`notation`] tells) into its raw shape and validates it,
/// reporting every problem at once.
pub(crate) fn parse_with<Raw: DeserializeOwned, Fixture>(
    text: &str,
    origin: &str,
    validate: impl Fn(Raw, &mut Vec<Diagnostic>) -> Fixture,
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
    let notation = notation(text);
    let raw: Raw = match notation {
        Notation::Yaml => parse_yaml(text, origin)?,
        Notation::Json => parse_json(text, origin)?,
    };
    let mut problems = Vec::new();
    let fixture = validate(raw, &mut problems);
    if problems.is_empty() {
        return Ok(fixture);
    }
    if notation == Notation::Json {
        // serde_json keeps no positions, and validation pins each problem to where its value
        // is. JSON is YAML, so the YAML parser reads the same values with their positions; only
        // a refused file pays for the second reading. Should the YAML reading disagree, the
        // problems stay as found, each naming its field without a position.
        if let Ok(raw) = parse_yaml::<Raw>(text, origin) {
            let mut placed = Vec::new();
            validate(raw, &mut placed);
            if placed.len() == problems.len() {
                problems = placed;
            }
        }
    }
    Err(FixtureError::Invalid(Diagnostics::new(origin, problems)))
}

#[derive(Debug, Deserialize)]
struct Sniffed {
    #[serde(default)]
    provider: Option<Spanned<String>>,
}

/// The platform a fixture seeds, as its `provider:` key names it: `marketo` when absent.
///
/// A fixture in block style, as relinker writes them and the docs show them, names it on a line
/// of its own, `provider: NAME`, and a JSON copy relinker writes names it first,
/// `{"provider": "NAME"`: either is read without parsing the file, which for a copy of a large
/// instance in YAML takes as long as the parse that follows. Any other file is parsed here.
/// Every platform's parser checks `provider:` again, so a line misread here cannot seed another
/// platform's sandbox.
pub fn provider_of(text: &str, origin: &str) -> Result<String, FixtureError> {
    let sniffed: Sniffed = match notation(text) {
        Notation::Yaml => {
            if let Some(named) = provider_line(text) {
                return Ok(named.to_owned());
            }
            parse_yaml(text, origin)?
        }
        Notation::Json => {
            if let Some(named) = provider_key(text) {
                return Ok(named.to_owned());
            }
            parse_json(text, origin)?
        }
    };
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

/// The name a JSON fixture's first key gives when it is `"provider"` (as in every JSON copy
/// relinker writes) and the name a plain word: read without parsing, as [`provider_line`] is.
fn provider_key(text: &str) -> Option<&str> {
    let json_blank = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r');
    let rest = text.trim_start_matches(json_blank).strip_prefix('{')?;
    let rest = rest
        .trim_start_matches(json_blank)
        .strip_prefix("\"provider\"")?;
    let rest = rest.trim_start_matches(json_blank).strip_prefix(':')?;
    let rest = rest.trim_start_matches(json_blank).strip_prefix('"')?;
    let value = &rest[..rest.find('"')?];
    let word = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    word.then_some(value)
}

/// A fixture's map of text to text (`behaviours:`, `secrets:`), refusing a key given twice in
/// either notation: the YAML parser refuses it itself, serde_json would keep the last silently.
#[derive(Debug, Default)]
pub(crate) struct Entries(pub(crate) BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Unique;
        impl<'de> Visitor<'de> for Unique {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = BTreeMap::new();
                while let Some((key, value)) = map.next_entry::<String, String>()? {
                    if entries.contains_key(&key) {
                        return Err(de::Error::custom(format!("`{key}` is given twice")));
                    }
                    entries.insert(key, value);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Unique)
    }
}

/// Stand-ins for a plan's secret references, by the reference's text, as a fixture's
/// `secrets:` gives them.
pub(crate) fn stand_ins(
    raw: Option<Spanned<Entries>>,
    problems: &mut Vec<Diagnostic>,
) -> BTreeMap<String, Secret> {
    let mut values = BTreeMap::new();
    let Some(raw) = raw else {
        return values;
    };
    for (reference, value) in raw.value.0 {
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
                .with_hint("keys are the references a plan uses: `${env:NAME}`, `${file:PATH}` or `${store:STORE/PATH#KEY}`"),
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
        // JSON: the first key read without parsing, any other place parsed.
        sniffs(
            "{\n  \"provider\": \"dotdigital\",\n  \"region\": \"r1\"}",
            "dotdigital",
        );
        sniffs("{\"api_users\": [], \"provider\": \"movius\"}", "movius");
        sniffs("{\"users\": []}", "marketo");
        assert!(provider_key("{\"provider\": \"not a word\"}").is_none());
    }

    #[track_caller]
    fn reads_as(text: &str, expected: Notation) {
        assert_eq!(notation(text), expected, "{text:?}");
    }

    #[test]
    fn json_is_told_by_its_opening_quoted_key() {
        reads_as("{\"users\": []}", Notation::Json);
        reads_as(" \r\n\t{ \n \"users\": []}", Notation::Json);
        reads_as("{}", Notation::Json);
        reads_as("{ }\n", Notation::Json);
        // YAML flow style with a plain key, block style, comments first: YAML.
        reads_as("{provider: movius, api_users: []}", Notation::Yaml);
        reads_as("users: []\n", Notation::Yaml);
        reads_as("# a copy\n{\"users\": []}", Notation::Yaml);
        reads_as("", Notation::Yaml);
    }

    #[test]
    fn a_json_syntax_error_is_placed_and_says_why_json() {
        let error = provider_of("{\"users\": [}\n", "f.json").unwrap_err();
        let report = error.to_string();
        assert!(
            report.starts_with("f.json:1:12: `users`: expected value"),
            "{report}"
        );
        assert!(
            report.contains("hint: the fixture is read as JSON"),
            "{report}"
        );
    }
}
