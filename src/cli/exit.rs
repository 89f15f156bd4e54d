//! Exit codes, the same for every command (README.md and docs/runbook.md list them).

use std::fmt;
use std::process::ExitCode;

/// How a command ended, as the shell sees it. Ordered by how much whoever reads the code (a
/// scheduler, a CI job) must know of it: a command of several runs ends with the greatest of
/// theirs, so a failure is never hidden behind a pause, nor a pause behind success
/// (docs/scheduled-offboarding.md, "Exit codes for a schedule").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// 0: done (for `plan`: the plan was computed).
    Success,
    /// 5: `plan --detailed-exitcode` found changes to make.
    Changes,
    /// 4: paused at a manual step: a person is needed.
    Paused,
    /// 3: another process holds the lock.
    Locked,
    /// 1: the run failed, or a plan has conflicts.
    Failed,
    /// 2: invalid input: command line, plan, fixture, missing secret, stale saved plan.
    InvalidInput,
    /// 130: interrupted (Ctrl-C, SIGINT), the shell's convention; the run resumes.
    Interrupted,
    /// 143: stopped by SIGTERM (a Kubernetes deadline or eviction, a service manager), the
    /// shell's convention; the run resumes.
    Terminated,
}

impl Outcome {
    /// The numeric code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Success => 0,
            Outcome::Failed => 1,
            Outcome::InvalidInput => 2,
            Outcome::Locked => 3,
            Outcome::Paused => 4,
            Outcome::Changes => 5,
            Outcome::Interrupted => 130,
            Outcome::Terminated => 143,
        }
    }
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(outcome.code())
    }
}

/// An error on its way out of the program, with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub outcome: Outcome,
    /// What went wrong, with context.
    pub error: anyhow::Error,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Errors that already say their cause in their own message would repeat it in a
        // `{:#}` chain ("… not set: … not set"): each cause is added only if it is news.
        let mut text = self.error.to_string();
        for cause in self.error.chain().skip(1) {
            let cause = cause.to_string();
            if !text.contains(&cause) {
                text.push_str(": ");
                text.push_str(&cause);
            }
        }
        f.write_str(&text)
    }
}

/// Attaches an exit code to an error.
pub trait OrExit<T> {
    /// Maps the error to exit code 2.
    fn or_invalid_input(self) -> Result<T, Failure>;
    /// Maps the error to exit code 1.
    fn or_failed(self) -> Result<T, Failure>;
}

impl<T, E: Into<anyhow::Error>> OrExit<T> for Result<T, E> {
    fn or_invalid_input(self) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            outcome: Outcome::InvalidInput,
            error: e.into(),
        })
    }

    fn or_failed(self) -> Result<T, Failure> {
        self.map_err(|e| Failure {
            outcome: Outcome::Failed,
            error: e.into(),
        })
    }
}
