//! Renderings of a compiled plan: text for a terminal, Markdown for a pull-request comment,
//! JSON for machines. All three read the same [`PlanView`]; none re-derives a step.

mod json;
mod markdown;
mod text;

use clap::ValueEnum;

use crate::plan::Plan;
use crate::provider::{
    Compiled, LiveState, Performer, Readiness, Reversibility, Step, Verification,
};

pub(crate) use json::json;
pub(crate) use markdown::markdown;
pub(crate) use text::text;

/// A plan file that could not be planned, in `format`; `None` for text, whose reader sees the
/// error where every command prints it (stderr).
pub(crate) fn not_planned(
    format: Format,
    file: &str,
    message: &str,
    exit_code: u8,
) -> Option<String> {
    match format {
        Format::Text => None,
        Format::Markdown => Some(markdown::not_planned(file, message, exit_code)),
        Format::Json => Some(format!(
            "{:#}\n",
            json::not_planned(file, message, exit_code)
        )),
    }
}

/// Output format of `plan`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For a terminal.
    #[default]
    Text,
    /// For a pull-request comment.
    Markdown,
    /// For machines, with a `format_version`.
    Json,
}

/// Everything a rendering shows.
pub(crate) struct PlanView<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) compiled: &'a Compiled,
    pub(crate) live: &'a LiveState,
    /// The instance as it will be addressed.
    pub(crate) instance: &'a str,
    /// What follows the plan.
    pub(crate) footer: Footer,
}

/// What a rendering ends with.
pub(crate) enum Footer {
    /// The command that applies this plan, as a reviewer would run it.
    Apply(String),
    /// Nothing: `apply` shows the plan it is about to run.
    None,
}

impl PlanView<'_> {
    /// The command that applies this plan, when the rendering names one.
    pub(crate) fn apply_command(&self) -> Option<&str> {
        match &self.footer {
            Footer::Apply(command) if self.compiled.conflicts.is_empty() => Some(command),
            _ => None,
        }
    }

    /// What a reviewer wants to know of a step beyond its description (role names, say).
    pub(crate) fn step_details(&self, step: &Step) -> Option<String> {
        self.live.details(&step.action)
    }

    /// The steps of rotation `index`, in order.
    pub(crate) fn rotation_steps(&self, index: usize) -> impl Iterator<Item = &Step> {
        self.compiled
            .steps
            .iter()
            .filter(move |s| s.rotation == index)
    }

    /// Steps with work to do.
    fn pending(&self) -> impl Iterator<Item = &Step> {
        self.compiled
            .steps
            .iter()
            .filter(|s| s.readiness.has_work())
    }

    /// "2 rotations: 1 user to create, 3 service relinks (manual), 1 update, 1 deletion"
    pub(crate) fn summary(&self) -> String {
        let mut counts: Vec<((&str, &str, bool), usize)> = Vec::new();
        for step in self.pending() {
            if step.reversibility() == Reversibility::ReadOnly {
                continue;
            }
            let (one, many) = step.action.tally();
            let key = (one, many, step.performer() == Performer::Person);
            match counts.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counts.push((key, 1)),
            }
        }
        let parts: Vec<String> = counts
            .into_iter()
            .map(|((one, many, manual), n)| {
                let noun = if n == 1 { one } else { many };
                let by = if manual { " (manual)" } else { "" };
                format!("{n} {noun}{by}")
            })
            .collect();
        let rotations = self.plan.rotation_count();
        let noun = if rotations == 1 {
            "rotation"
        } else {
            "rotations"
        };
        let conflicts = self.compiled.conflicts.len();
        if conflicts > 0 {
            // A plan that cannot run has nothing to change only because it stops first.
            let what = if conflicts == 1 {
                "a conflict stops it".to_owned()
            } else {
                format!("{conflicts} conflicts stop it")
            };
            if parts.is_empty() {
                format!("{rotations} {noun}: {what}")
            } else {
                format!("{rotations} {noun}: {}; {what}", parts.join(", "))
            }
        } else if parts.is_empty() {
            format!("{rotations} {noun}: nothing to change")
        } else {
            format!("{rotations} {noun}: {}", parts.join(", "))
        }
    }

    pub(crate) fn manual_steps(&self) -> impl Iterator<Item = &Step> {
        self.pending()
            .filter(|s| s.performer() == Performer::Person)
    }

    pub(crate) fn irreversible_steps(&self) -> impl Iterator<Item = &Step> {
        self.pending()
            .filter(|s| s.reversibility() == Reversibility::Irreversible)
    }

    /// How the plan's platform is spoken of.
    pub(crate) fn wording(&self) -> crate::provider::Wording {
        crate::provider::wording(self.plan.provider())
    }

    /// A rotation's heading: `rename `jane.doe@acme.example` to email …`.
    pub(crate) fn rotation_heading(&self, index: usize) -> String {
        self.plan.rotation_heading(index)
    }
}

/// Who performs a step, in a word.
pub(crate) fn performer_word(step: &Step) -> &'static str {
    match step.performer() {
        Performer::Api => "api",
        Performer::Person => "manual",
    }
}

/// How a step's effect becomes known, in a word.
pub(crate) fn verification_word(step: &Step) -> &'static str {
    match step.verification() {
        Verification::Observed => "observed",
        Verification::CheckedByCommand => "command",
        Verification::Attested => "attested",
    }
}

pub(crate) fn reversibility_word(step: &Step) -> &'static str {
    match step.reversibility() {
        Reversibility::Reversible => "reversible",
        Reversibility::Irreversible => "irreversible",
        Reversibility::ReadOnly => "read-only",
    }
}

pub(crate) fn readiness_word(step: &Step) -> &'static str {
    match step.readiness {
        Readiness::Pending => "to do",
        Readiness::AlreadySatisfied => "already done",
        Readiness::Unknown => "to check",
    }
}
