//! The terminal rendering: readable in 100 columns. Each step is a heading line of aligned
//! columns, with its description and details wrapped beneath it.

use std::fmt::Write as _;

/// The widest line the rendering writes (a word longer than that, such as a long URL, stays
/// whole).
const COLUMNS: usize = 100;

/// Writes `text` wrapped to [`COLUMNS`], the first line after `first`, the others after `rest`.
fn wrapped(out: &mut String, first: &str, rest: &str, text: &str) {
    let options = textwrap::Options::new(COLUMNS)
        .initial_indent(first)
        .subsequent_indent(rest)
        .break_words(false);
    for line in textwrap::wrap(text, options) {
        let _ = writeln!(out, "{line}");
    }
}

use super::{PlanView, performer_word, readiness_word, reversibility_word, verification_word};

/// Renders a plan for a terminal.
pub(crate) fn text(view: &PlanView<'_>) -> String {
    let mut out = String::new();
    let wording = view.wording();
    let _ = writeln!(out, "Plan `{}` against {}", view.plan.name, view.instance);
    if let Some(caveat) = wording.caveat {
        wrapped(&mut out, "", "  ", &format!("Note: {caveat}."));
    }
    if let Some(description) = &view.plan.description {
        wrapped(&mut out, "", "", description);
    }
    let _ = writeln!(out);
    wrapped(&mut out, "", "", &view.summary());
    wrapped(
        &mut out,
        "",
        "  ",
        &format!("Promise: {}.", wording.promise),
    );
    let width = view
        .compiled
        .steps
        .iter()
        .map(|s| s.id.as_str().len())
        .max()
        .unwrap_or(0);
    for index in 0..view.plan.rotation_count() {
        let _ = writeln!(out);
        let heading = format!("rotations[{index}]: {}", view.rotation_heading(index));
        wrapped(&mut out, "", "  ", &heading);
        for (number, step) in view.rotation_steps(index).enumerate() {
            let heading = format!(
                "  {:>2}. {:<width$}  {:<6} {:<8} {:<12} {}",
                number + 1,
                step.id,
                performer_word(step),
                verification_word(step),
                reversibility_word(step),
                readiness_word(step),
            );
            let _ = writeln!(out, "{}", heading.trim_end());
            let indent = "        ";
            wrapped(&mut out, indent, indent, &step.action.describe());
            if let Some(details) = view.step_details(step) {
                wrapped(&mut out, indent, indent, &details);
            }
        }
    }
    let manual: Vec<_> = view.manual_steps().collect();
    if !manual.is_empty() {
        let _ = writeln!(out);
        wrapped(
            &mut out,
            "",
            "",
            &format!(
                "Manual steps (a person does these {}; relinker waits for each, and knows it as its verification column says):",
                wording.where_people_act
            ),
        );
        for step in manual {
            let text = format!("{}: {}", step.id, step.action.describe());
            wrapped(&mut out, "  - ", "    ", &text);
        }
    }
    let irreversible: Vec<_> = view.irreversible_steps().collect();
    if !irreversible.is_empty() {
        let _ = writeln!(
            out,
            "\nIrreversible steps (run last, after every verification):"
        );
        for step in irreversible {
            let text = format!("{}: {}", step.id, step.action.describe());
            wrapped(&mut out, "  - ", "    ", &text);
        }
    }
    if !view.compiled.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in &view.compiled.warnings {
            wrapped(&mut out, "  - ", "    ", warning);
        }
    }
    if !view.compiled.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "\nConflicts (the plan cannot run until these are resolved):"
        );
        for conflict in &view.compiled.conflicts {
            wrapped(&mut out, "  - ", "    ", &conflict.to_string());
        }
    }
    if let Some(command) = view.apply_command() {
        let _ = writeln!(out, "\nTo apply: {command}");
    }
    out
}
