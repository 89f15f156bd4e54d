//! The pull-request rendering: a summary line, a table of steps, call-outs, and the command.

use std::fmt::Write as _;

use super::{PlanView, performer_word, readiness_word, reversibility_word, verification_word};

/// Plans with more steps than this fold each rotation's table into a `<details>` section, as
/// Atlantis folds a long Terraform plan: the summary and the call-outs (manual and
/// irreversible steps) stay in view.
const FOLD_AFTER: usize = 12;

/// Escapes what would break a table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders a plan as GitHub-flavoured Markdown.
pub(crate) fn markdown(view: &PlanView<'_>) -> String {
    let mut out = String::new();
    let wording = view.wording();
    let _ = writeln!(out, "### relinker plan `{}`\n", view.plan.name);
    if let Some(caveat) = wording.caveat {
        let _ = writeln!(out, "> [!IMPORTANT]\n> {}.\n", cell(caveat));
    }
    if let Some(description) = &view.plan.description {
        let _ = writeln!(out, "{}\n", cell(description));
    }
    let _ = writeln!(out, "**{}** against `{}`\n", view.summary(), view.instance);
    let _ = writeln!(out, "Promise: {}.\n", cell(wording.promise));
    if !view.compiled.conflicts.is_empty() {
        let _ = writeln!(
            out,
            "> [!CAUTION]\n> **This plan cannot run.** Resolve these first:"
        );
        for conflict in &view.compiled.conflicts {
            let _ = writeln!(out, "> - {}", cell(&conflict.to_string()));
        }
        out.push('\n');
    }
    let fold = view.compiled.steps.len() > FOLD_AFTER;
    for index in 0..view.plan.rotation_count() {
        rotation(&mut out, view, index, fold);
    }
    let manual: Vec<_> = view.manual_steps().collect();
    if !manual.is_empty() {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> **Manual steps.** A person does these {}; the run waits for each and knows it as the *verified* column says:",
            wording.where_people_act
        );
        for step in manual {
            let _ = writeln!(out, "> - `{}`: {}", step.id, cell(&step.action.describe()));
        }
        out.push('\n');
    }
    let irreversible: Vec<_> = view.irreversible_steps().collect();
    if !irreversible.is_empty() {
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **Irreversible steps**, run last, after every verification:"
        );
        for step in irreversible {
            let _ = writeln!(out, "> - `{}`: {}", step.id, cell(&step.action.describe()));
        }
        out.push('\n');
    }
    if !view.compiled.warnings.is_empty() {
        let _ = writeln!(out, "**Warnings**\n");
        for warning in &view.compiled.warnings {
            let _ = writeln!(out, "- {}", cell(warning));
        }
        out.push('\n');
    }
    if let Some(command) = view.apply_command() {
        let _ = writeln!(out, "Apply with:\n\n```sh\n{command}\n```");
    }
    out
}

/// One rotation: its heading and its table of steps, folded when `fold`.
fn rotation(out: &mut String, view: &PlanView<'_>, index: usize, fold: bool) {
    let _ = writeln!(
        out,
        "#### rotations[{index}]: {}\n",
        view.rotation_heading(index)
    );
    if fold {
        let count = view.rotation_steps(index).count();
        let _ = writeln!(out, "<details><summary>{count} steps</summary>\n");
    }
    let _ = writeln!(out, "| # | step | what | by | verified | undo | state |");
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (number, step) in view.rotation_steps(index).enumerate() {
        let mut what = cell(&step.action.describe());
        if let Some(details) = view.step_details(step) {
            let _ = write!(what, "<br>{}", cell(&details));
        }
        let by = if performer_word(step) == "manual" {
            "**manual**"
        } else {
            "api"
        };
        let undo = if reversibility_word(step) == "irreversible" {
            "**irreversible**"
        } else {
            reversibility_word(step)
        };
        let verified = match verification_word(step) {
            "attested" => "**attested, not verified**",
            word => word,
        };
        let _ = writeln!(
            out,
            "| {} | `{}` | {what} | {by} | {verified} | {undo} | {} |",
            number + 1,
            step.id,
            readiness_word(step)
        );
    }
    out.push('\n');
    if fold {
        let _ = writeln!(out, "</details>\n");
    }
}

/// A plan file that could not be planned, as its place in a pull-request comment: a plan that
/// fails must show up there, not drop out of it.
pub(crate) fn not_planned(file: &str, message: &str, exit_code: u8) -> String {
    // A fence longer than any run of backticks in the message, so nothing in it closes the block.
    let longest = message.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!(
        "### relinker plan `{}`: not planned\n\n> [!CAUTION]\n> relinker could not plan this file (exit {exit_code}); it changed nothing:\n\n{fence}text\n{}\n{fence}\n",
        cell(file).replace('`', "'"),
        message.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::not_planned;

    #[test]
    fn a_message_with_backticks_cannot_close_its_block() {
        let block = not_planned("plans/x.yaml", "field `a` has ``` inside", 2);
        assert!(
            block.contains("````text\nfield `a` has ``` inside\n````\n"),
            "{block}"
        );
        assert!(block.starts_with("### relinker plan `plans/x.yaml`: not planned"));
    }
}
