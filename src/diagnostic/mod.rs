//! Problems found in an input file, each pinned to a line, a column and a field.
//!
//! Plans and sandbox fixtures are YAML that people write by hand; when one is wrong the message
//! must say where (`file:line:col`), what (the field), why, and what to do about it. This module
//! keeps what a problem is apart from how the CLI shows it, and reports every problem in a file,
//! not just the first.

pub(crate) mod shape;

use std::fmt;

use serde_saphyr::{DuplicateKeyPolicy, Location, Options};

/// One problem in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line; 0 when unknown.
    pub line: u64,
    /// 1-based column; 0 when unknown.
    pub column: u64,
    /// Dotted path of the field (`rotations[0].rename.user`); empty for the document itself.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it, when there is something useful to say.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A problem at a location.
    pub fn at(location: Location, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            line: location.line(),
            column: location.column(),
            field: field.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A YAML syntax or shape error as the parser reported it.
    pub fn from_yaml(error: &serde_saphyr::Error) -> Self {
        let location = error.location().unwrap_or(Location::UNKNOWN);
        let message = match error.without_snippet() {
            // The parser's own words for these address a developer; say them for the user.
            serde_saphyr::Error::Budget { .. } => {
                "the document is larger or more deeply nested than relinker reads".to_owned()
            }
            serde_saphyr::Error::MultipleDocuments { .. } => {
                "the file holds more than one YAML document (`---` starts another); it must hold one".to_owned()
            }
            serde_saphyr::Error::UnsupportedTag { tag, .. }
            | serde_saphyr::Error::TaggedStructFieldName { tag, .. } => {
                format!("YAML tag `{tag}` is not part of this format; remove it")
            }
            other => user_words(strip_position(&other.to_string())),
        };
        Self {
            line: location.line(),
            column: location.column(),
            field: String::new(),
            message,
            hint: None,
        }
    }

    /// A JSON syntax or shape error as serde_json reported it, in `field` (empty for the
    /// document itself).
    pub fn from_json(error: &serde_json::Error, field: &str) -> Self {
        let message = error.to_string();
        // serde_json ends its message with " at line N column M": shown in front instead.
        let message = match message.rfind(" at line ") {
            Some(at) if message[at..].contains(" column ") => &message[..at],
            _ => &message,
        };
        Self {
            line: u64::try_from(error.line()).unwrap_or(0),
            column: u64::try_from(error.column()).unwrap_or(0),
            field: field.to_owned(),
            message: user_words(message),
            hint: None,
        }
    }
}

/// The parser's message in a user's words where it speaks a developer's.
fn user_words(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("duplicate mapping key: ") {
        return format!(
            "`{}` is given twice",
            rest.split(',').next().unwrap_or(rest).trim()
        );
    }
    match message {
        "invalid u32" => "a whole number from 0 to 4294967295 is expected".to_owned(),
        "invalid u64" => "a whole number from 0 to 18446744073709551615 is expected".to_owned(),
        "invalid u16" => "a whole number from 0 to 65535 is expected".to_owned(),
        "invalid u8" => "a whole number from 0 to 255 is expected".to_owned(),
        other => other.to_owned(),
    }
}

/// Drops the parser's own " at line N, column M" suffix: the position is shown in front already.
fn strip_position(message: &str) -> &str {
    match message.rfind(" at line ") {
        Some(at) if message[at..].contains(", column ") => &message[..at],
        _ => message,
    }
}

/// Every problem found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file (or other source) the problems are in, as the user named it.
    pub origin: String,
    /// The problems, in file order.
    pub problems: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Problems in `origin`, sorted by position.
    pub fn new(origin: impl Into<String>, mut problems: Vec<Diagnostic>) -> Self {
        problems.sort_by_key(|p| (p.line, p.column));
        Self {
            origin: origin.into(),
            problems,
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{}", self.origin)?;
            if problem.line > 0 {
                write!(f, ":{}:{}", problem.line, problem.column)?;
            }
            f.write_str(": ")?;
            if !problem.field.is_empty() {
                write!(f, "`{}`: ", problem.field)?;
            }
            f.write_str(&problem.message)?;
            if let Some(hint) = &problem.hint {
                write!(f, "\n  hint: {hint}")?;
            }
        }
        Ok(())
    }
}

/// Parser options for every YAML file relinker reads: `yes`/`on` are not booleans, and a key
/// given twice is an error rather than a silent override.
pub(crate) fn yaml_options() -> Options {
    serde_saphyr::options! {
        strict_booleans: true,
        duplicate_keys: DuplicateKeyPolicy::Error,
        reject_unsupported_tags: true,
        reject_tagged_field_names: true,
        with_snippet: false,
    }
}

/// [`yaml_options`] for a kind of file allowed to be larger than the parser's default budget
/// was made for (250,000 nodes and 1,000,000 events: a node per 4 bytes and an event per byte of
/// a 1 MiB file). The node and event budgets grow at that ratio to `limit` bytes, so a file
/// within its size limit is never refused as too large; the other budgets (aliases, anchors,
/// depth) stay as they are, since they guard against expansion, which a larger file does not
/// need.
pub(crate) fn yaml_options_within(limit: u64) -> Options {
    let mut options = yaml_options();
    let mut budget = options.budget.take().unwrap_or_default();
    let bytes = usize::try_from(limit).unwrap_or(usize::MAX);
    budget.max_nodes = budget.max_nodes.max(bytes / 4);
    budget.max_events = budget.max_events.max(bytes);
    options.budget = Some(budget);
    options
}
