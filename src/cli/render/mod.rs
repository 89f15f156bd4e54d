//! Renderings of a compiled plan: text for a terminal, Markdown for a pull-request comment,
//! JSON for machines. All three read the same [`PlanView`]; none re-derives a step.

mod json;
mod markdown;
mod text;

use std::collections::BTreeMap;

use clap::ValueEnum;

use crate::plan::{Action, Compiled, LiveState, Mode, Plan, Readiness, Reversibility, Step};
use crate::provider::RolePair;

pub(crate) use json::json;
pub(crate) use markdown::markdown;
pub(crate) use text::text;

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
}

impl PlanView<'_> {
    /// `API Integrations @ Default, Analytics User @ World`
    pub(crate) fn roles(&self, pairs: &[RolePair]) -> String {
        let name = |names: &BTreeMap<u64, String>, id: u64| {
            names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
        };
        pairs
            .iter()
            .map(|p| {
                format!(
                    "{} @ {}",
                    name(&self.live.role_names, p.role_id),
                    name(&self.live.workspace_names, p.workspace_id)
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The roles a step gives or checks, if it names any.
    pub(crate) fn step_roles(&self, step: &Step) -> Option<String> {
        match &step.action {
            Action::CreateUser { roles, .. }
            | Action::AddRoles { roles, .. }
            | Action::RemoveRoles { roles, .. }
            | Action::Verify { roles, .. }
                if !roles.is_empty() =>
            {
                Some(self.roles(roles))
            }
            _ => None,
        }
    }

    /// Steps with work to do.
    fn pending(&self) -> impl Iterator<Item = &Step> {
        self.compiled
            .steps
            .iter()
            .filter(|s| s.readiness == Readiness::Pending)
    }

    /// "2 rotations: 1 user to create, 3 service relinks (manual), 1 update, 1 deletion"
    pub(crate) fn summary(&self) -> String {
        let count = |f: &dyn Fn(&Action) -> bool| self.pending().filter(|s| f(&s.action)).count();
        let parts: Vec<String> = [
            (
                count(&|a| matches!(a, Action::CreateUser { .. })),
                "user to create",
                "users to create",
            ),
            (
                count(&|a| matches!(a, Action::AddRoles { .. })),
                "role grant",
                "role grants",
            ),
            (
                count(&|a| matches!(a, Action::LinkService { .. })),
                "service relink (manual)",
                "service relinks (manual)",
            ),
            (
                count(&|a| matches!(a, Action::UpdateUser { .. })),
                "update",
                "updates",
            ),
            (
                count(&|a| matches!(a, Action::ExpireUser { .. })),
                "expiry",
                "expiries",
            ),
            (
                count(&|a| matches!(a, Action::DeleteUser { .. })),
                "deletion",
                "deletions",
            ),
        ]
        .into_iter()
        .filter(|(n, _, _)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
        let rotations = self.plan.rotations.len();
        let noun = if rotations == 1 {
            "rotation"
        } else {
            "rotations"
        };
        if parts.is_empty() {
            format!("{rotations} {noun}: nothing to change")
        } else {
            format!("{rotations} {noun}: {}", parts.join(", "))
        }
    }

    pub(crate) fn manual_steps(&self) -> impl Iterator<Item = &Step> {
        self.pending().filter(|s| s.mode() == Mode::Manual)
    }

    pub(crate) fn irreversible_steps(&self) -> impl Iterator<Item = &Step> {
        self.pending()
            .filter(|s| s.reversibility() == Reversibility::Irreversible)
    }

    /// A rotation's heading: `rename jane.doe@acme.example`.
    pub(crate) fn rotation_heading(&self, index: usize) -> String {
        use crate::plan::Rotation;
        match &self.plan.rotations[index] {
            Rotation::Rename { user, email, .. } => format!("rename `{user}` to email `{email}`"),
            Rotation::Replace {
                user, with, retire, ..
            } => format!(
                "replace `{user}` with `{with}` (retire: {})",
                retire_word(*retire)
            ),
            Rotation::Relink { services, to } => format!(
                "relink {} to `{to}`",
                services
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

fn retire_word(retire: crate::plan::Retire) -> &'static str {
    match retire {
        crate::plan::Retire::Delete => "delete",
        crate::plan::Retire::Expire => "expire",
        crate::plan::Retire::Keep => "keep",
    }
}

pub(crate) fn mode_word(step: &Step) -> &'static str {
    match step.mode() {
        Mode::Api => "api",
        Mode::Manual => "manual",
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
    }
}
