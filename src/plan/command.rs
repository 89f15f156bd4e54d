//! Check commands: a program a plan names to check, where no API can, that a credential
//! authenticates (an integration's own health check, say). The credential reaches the program
//! only in its environment (`RELINKER_USERNAME`, `RELINKER_PASSWORD`), never in its arguments,
//! which every process on the machine can read.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A program and its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCommand {
    /// The program: a path (relative to the plan file's folder when it contains `/`), a name
    /// looked up in `PATH`, or `relinker` for this very program.
    pub program: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

impl fmt::Display for CheckCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for arg in &self.args {
            write!(f, " {arg}")?;
        }
        Ok(())
    }
}
