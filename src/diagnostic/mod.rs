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
        let message = strip_position(&error.without_snippet().to_string()).to_owned();
        // The parser's duplicate-key text advises the developer; say it for the user.
        let message = match message.strip_prefix("duplicate mapping key: ") {
            Some(rest) => format!(
                "`{}` is given twice",
                rest.split(',').next().unwrap_or(rest).trim()
            ),
            None => message,
        };
        Self {
            line: location.line(),
            column: location.column(),
            field: String::new(),
            message,
            hint: None,
        }
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
        with_snippet: false,
    }
}
