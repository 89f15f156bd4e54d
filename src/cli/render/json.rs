//! The machine rendering; `format_version` changes when a field's meaning does.

use serde_json::{Value, json};

use super::{PlanView, performer_word, readiness_word, reversibility_word, verification_word};

/// Version of the JSON rendering.
pub(crate) const FORMAT_VERSION: u32 = 1;

/// Renders a plan as JSON.
pub(crate) fn json(view: &PlanView<'_>) -> Value {
    let steps: Vec<Value> = view
        .compiled
        .steps
        .iter()
        .map(|step| {
            json!({
                "id": step.id,
                "rotation": step.rotation,
                "mode": performer_word(step),
                "verification": verification_word(step),
                "reversibility": reversibility_word(step),
                "state": readiness_word(step),
                "description": step.action.describe(),
                "action": step.action,
            })
        })
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "plan": { "name": view.plan.name, "description": view.plan.description },
        "instance": view.instance,
        "summary": view.summary(),
        "promise": view.wording().promise,
        "caveat": view.wording().caveat,
        "has_changes": view.compiled.has_changes(),
        "steps": steps,
        "warnings": view.compiled.warnings,
        "conflicts": view.compiled.conflicts,
        "apply_command": view.apply_command(),
    })
}

/// A plan file that could not be planned: the error in place of the plan, so a machine reading
/// one document per plan file sees every file.
pub(crate) fn not_planned(file: &str, message: &str, exit_code: u8) -> serde_json::Value {
    serde_json::json!({
        "format_version": FORMAT_VERSION,
        "plan_file": file,
        "error": { "message": message, "exit_code": exit_code },
    })
}
