//! `relinker schema`: the JSON Schema of the plan format, for editors.

use std::io::Write;

use super::exit::{Failure, OrExit, Outcome};

/// Prints the schema.
pub fn run() -> Result<Outcome, Failure> {
    let text = serde_json::to_string_pretty(&crate::plan::schema()).or_failed()?;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    Ok(Outcome::Success)
}
