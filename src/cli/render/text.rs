//! The terminal rendering.

use std::fmt::Write as _;

use super::{PlanView, performer_word, readiness_word, reversibility_word, verification_word};

/// Renders a plan for a terminal.
pub(crate) fn text(view: &PlanView<'_>) -> String {
    let mut out = String::new();
    let wording = view.wording();
    let _ = writeln!(out, "Plan `{}` against {}", view.plan.name, view.instance);
    if let Some(caveat) = wording.caveat {
        let _ = writeln!(out, "Note: {caveat}.");
    }
    if let Some(description) = &view.plan.description {
        let _ = writeln!(out, "{description}");
    }
    let _ = writeln!(out, "\n{}", view.summary());
    let _ = writeln!(out, "Promise: {}.", wording.promise);
    let width = view
        .compiled
        .steps
        .iter()
        .map(|s| s.id.as_str().len())
        .max()
        .unwrap_or(0);
    for index in 0..view.plan.rotation_count() {
        let _ = writeln!(
            out,
            "\nrotations[{index}]: {}",
            view.rotation_heading(index)
        );
        for (number, step) in view
            .compiled
            .steps
            .iter()
            .filter(|s| s.rotation == index)
            .enumerate()
        {
            let _ = writeln!(
                out,
                "  {:>2}. {:<width$}  {:<6} {:<8} {:<12} {:<12} {}",
                number + 1,
                step.id,
                performer_word(step),
                verification_word(step),
                reversibility_word(step),
                readiness_word(step),
                step.action.describe()
            );
            if let Some(details) = view.step_details(step) {
                let _ = writeln!(out, "      {:<width$}  {details}", "");
            }
        }
    }
    let manual: Vec<_> = view.manual_steps().collect();
    if !manual.is_empty() {
        let _ = writeln!(
            out,
            "\nManual steps (a person does these {}; relinker waits for each, and knows it as its verification column says):",
            wording.where_people_act
        );
        for step in manual {
            let _ = writeln!(out, "  - {}: {}", step.id, step.action.describe());
        }
    }
    let irreversible: Vec<_> = view.irreversible_steps().collect();
    if !irreversible.is_empty() {
        let _ = writeln!(
            out,
            "\nIrreversible steps (run last, after every verification):"
        );
        for step in irreversible {
            let _ = writeln!(out, "  - {}: {}", step.id, step.action.describe());
        }
    }
    if !view.compiled.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in &view.compiled.warnings {
            let _ = writeln!(out, "  - {warning}");
        }
    }
    if !view.compiled.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "\nConflicts (the plan cannot run until these are resolved):"
        );
        for conflict in &view.compiled.conflicts {
            let _ = writeln!(out, "  - {conflict}");
        }
    }
    if let Some(command) = view.apply_command() {
        let _ = writeln!(out, "\nTo apply: {command}");
    }
    out
}
