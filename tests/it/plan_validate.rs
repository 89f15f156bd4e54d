//! `relinker validate` and `relinker schema` on the real binary: every validation rule, its
//! message, position and exit code.

use std::path::Path;
use std::process::{Command, Output};

const VALID: &str = "version: 1
name: rotate-sync
instance:
  provider: marketo
  base_url: https://123-ABC-456.mktorest.com
  client_id: ${env:MARKETO_CLIENT_ID}
  client_secret: ${env:MARKETO_CLIENT_SECRET}
services:
  - name: sync
    client_id: ${env:SYNC_ID}
    client_secret: ${file:sync.secret}
  - name: crm
    client_id: 9a8b7c6d-plain-client-id
    client_secret: ${env:CRM_SECRET}
rotations:
  - rename:
      user: jane@acme.example
      email: api.sync@acme.example
      temporary_user: temp@acme.example
      services: [sync]
  - replace:
      user: bob@acme.example
      with: api.crm@acme.example
      services: [crm]
      retire: delete
policy:
  on_failure: rollback
  max_deletions: 1
";

fn relinker(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .expect("run relinker")
}

/// Writes `text` as `plan.yaml` in a temp dir and validates it.
fn validate(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.yaml"), text).unwrap();
    let output = relinker(&["validate", "plan.yaml"], dir.path());
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[track_caller]
fn rejects(from: &str, to: &str, expected: &str) {
    assert!(
        VALID.contains(from),
        "test bug: {from:?} is not in the plan"
    );
    let (code, stdout, stderr) = validate(&VALID.replacen(from, to, 1));
    assert_eq!(code, Some(2), "{from} -> {to}: {stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains(expected),
        "{from} -> {to}\nexpected: {expected}\n     got: {stderr}"
    );
}

#[test]
fn the_valid_plan_and_every_example_validate() {
    let (code, stdout, stderr) = validate(VALID);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "ok: plan.yaml (2 rotations)\n");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    let mut names: Vec<String> = std::fs::read_dir(&examples)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "relink-services.yaml",
            "rename-api-user.yaml",
            "replace-api-user.yaml",
            "replace-dotdigital-api-user.yaml",
            "replace-movius-api-user.yaml"
        ]
    );
    let mut args = vec!["validate"];
    args.extend(names.iter().map(String::as_str));
    let output = relinker(&args, &examples);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 5);
}

#[test]
fn shape_errors_name_the_place() {
    rejects(
        "  provider: marketo\n",
        "  provider: marketo\n  region: eu\n",
        "plan.yaml:5:3: `instance.region`: unknown field `region`\n  hint: `instance` takes `base_url`, `client_id`, `client_secret`, `limits`, `name` or `provider`",
    );
    rejects(
        "version: 1",
        "version: one",
        "plan.yaml:1:10: `version`: expected a whole number, found text",
    );
    rejects(
        "  - rename:",
        "  - rewrite:",
        "plan.yaml:16:5: `rotations[0]`: unknown kind `rewrite`\n  hint: write exactly one of `rename`, `replace` or `relink`",
    );
    rejects(
        "policy:\n  on_failure: rollback\n",
        "policy:\n  on_failure: rollback\n  on_failure: pause\n",
        "plan.yaml:28:3: `on_failure` is given twice",
    );
    rejects(
        "  max_deletions: 1",
        "  max_deletions: yes",
        "plan.yaml:28:18: `policy.max_deletions`: expected a whole number, found text",
    );
    rejects(
        "  on_failure: rollback",
        "  on_failure: explode",
        "plan.yaml:27:15: `policy.on_failure`: unknown policy `explode`\n  hint: use `rollback` or `pause`",
    );
    rejects(
        "services:\n  - name: sync",
        "services:\n  - nom: sync",
        "`services[0]`: missing field `name`",
    );
}

#[test]
fn every_shape_problem_in_a_file_is_reported() {
    let broken = VALID
        .replace(
            "  provider: marketo\n",
            "  provider: marketo\n  region: eu\n",
        )
        .replace("  - rename:", "  - rewrite:")
        .replace("  max_deletions: 1", "  max_deletions: many");
    let (code, stdout, stderr) = validate(&broken);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("plan.yaml:"))
        .collect();
    assert_eq!(
        lines,
        [
            "plan.yaml:5:3: `instance.region`: unknown field `region`",
            "plan.yaml:17:5: `rotations[0]`: unknown kind `rewrite`",
            "plan.yaml:29:18: `policy.max_deletions`: expected a whole number, found text",
        ],
        "{stderr}"
    );
}

#[test]
fn every_rule_is_checked() {
    let share = |value: &str| {
        format!(
            "client_secret: ${{env:MARKETO_CLIENT_SECRET}}\n  limits: {{ rate: 100/20s, share: {value} }}"
        )
    };
    for bad in ["0", "1.5", "-0.5", ".nan"] {
        rejects(
            "client_secret: ${env:MARKETO_CLIENT_SECRET}",
            &share(bad),
            "`instance.limits.share`: ",
        );
    }
    let (code, _, stderr) = validate(&VALID.replacen(
        "client_secret: ${env:MARKETO_CLIENT_SECRET}",
        &share("0.5"),
        1,
    ));
    assert_eq!(code, Some(0), "{stderr}");
    rejects(
        "version: 1",
        "version: 2",
        "plan.yaml:1:10: `version`: version 2 is not supported",
    );
    rejects(
        "name: rotate-sync",
        "name: rotate sync",
        "plan.yaml:2:7: `name`: `rotate sync` is not a plan name",
    );
    rejects(
        "provider: marketo",
        "provider: eloqua",
        "plan.yaml:4:13: `instance.provider`: unknown provider `eloqua`",
    );
    rejects(
        "https://123-ABC-456.mktorest.com",
        "http://123-ABC-456.mktorest.com",
        "plan.yaml:5:13: `instance.base_url`: `http://123-ABC-456.mktorest.com` uses http:// to a non-loopback host",
    );
    rejects(
        "user: jane@acme.example",
        "user: jane",
        "plan.yaml:17:13: `rotations[0].rename.user`: `jane` is not an email address",
    );
    rejects(
        "email: api.sync@acme.example",
        "email: api sync@acme",
        "`rotations[0].rename.email`: `api sync@acme` is not an email address",
    );
    rejects(
        "temporary_user: temp@acme.example",
        "temporary_user: Jane@Acme.example",
        "plan.yaml:19:23: `rotations[0].rename.temporary_user`: the temporary user is the user being renamed",
    );
    rejects(
        "services: [sync]",
        "services: [sync, ghost]",
        "plan.yaml:20:24: `rotations[0].rename.services[1]`: service `ghost` is not declared\n  hint: declared services: sync, crm",
    );
    rejects(
        "services: [crm]",
        "services: [crm, sync]",
        "plan.yaml:24:23: `rotations[1].replace.services[1]`: service `sync` is already moved by rotations[0]",
    );
    rejects(
        "with: api.crm@acme.example",
        "with: temp@acme.example",
        "plan.yaml:23:13: `rotations[1].replace.with`: `temp@acme.example` already takes part in rotations[0]",
    );
    rejects(
        "user: bob@acme.example",
        "user: jane@acme.example",
        "plan.yaml:22:13: `rotations[1].replace.user`: `jane@acme.example` already takes part in rotations[0]",
    );
    rejects(
        "services: [sync]",
        "services: []",
        "plan.yaml:20:17: `rotations[0].rename.services`: names no service",
    );
    rejects(
        "retire: delete",
        "retire: shred",
        "`rotations[1].replace.retire`: unknown retirement `shred`",
    );
    rejects(
        "on_failure: rollback",
        "on_failure: ignore",
        "plan.yaml:27:15: `policy.on_failure`: unknown policy `ignore`",
    );
    rejects(
        "max_deletions: 1",
        "max_deletions: 0",
        "plan.yaml:28:18: `policy.max_deletions`: the plan deletes 1 users, more than max_deletions (0)",
    );
    rejects(
        "client_secret: ${env:CRM_SECRET}",
        "client_secret: ${vault:crm}",
        "plan.yaml:14:20: `services[1].client_secret`: `${vault:crm}` is not a secret reference",
    );
    rejects(
        "  - name: crm\n",
        "  - name: sync\n",
        "plan.yaml:12:11: `services[1].name`: service `sync` is declared twice",
    );
}

/// The `sandbox:` section is what `--sandbox` runs read: a live run of plans mounted without
/// their fixtures (the CronJob's layout) is not refused for it, and `validate --sandbox` checks it.
#[test]
fn a_missing_fixture_matters_only_to_sandbox_runs() {
    let dir = tempfile::tempdir().unwrap();
    let text = VALID.replacen("policy:", "sandbox:\n  fixture: missing.yaml\npolicy:", 1);
    std::fs::write(dir.path().join("plan.yaml"), &text).unwrap();
    let live = relinker(&["validate", "plan.yaml"], dir.path());
    assert_eq!(live.status.code(), Some(0), "{live:?}");
    let rehearsal = relinker(&["validate", "--sandbox", "plan.yaml"], dir.path());
    assert_eq!(rehearsal.status.code(), Some(2), "{rehearsal:?}");
    let stderr = String::from_utf8_lossy(&rehearsal.stderr);
    let fixture_line = text
        .lines()
        .position(|l| l.starts_with("  fixture:"))
        .unwrap()
        + 1;
    assert!(
        stderr.contains(&format!(
            "plan.yaml:{fixture_line}:12: `sandbox.fixture`: no fixture at"
        )),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("missing.yaml").count(),
        1,
        "the path once: {stderr}"
    );
    std::fs::write(dir.path().join("missing.yaml"), "provider: marketo\n").unwrap();
    let ready = relinker(&["validate", "--sandbox", "plan.yaml"], dir.path());
    assert_eq!(ready.status.code(), Some(0), "{ready:?}");
}

#[test]
fn a_literal_secret_is_refused_and_never_echoed() {
    let (code, _, stderr) =
        validate(&VALID.replace("${env:MARKETO_CLIENT_SECRET}", "pa55word-LiveSecret-9"));
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains(
            "plan.yaml:7:18: `instance.client_secret`: a secret written literally in the plan"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("hint: plans reference secrets, never hold them"),
        "{stderr}"
    );
    assert!(!stderr.contains("pa55word-LiveSecret-9"), "{stderr}");
}

#[test]
fn every_problem_in_a_file_is_reported() {
    let broken = VALID
        .replace("name: rotate-sync", "name: rotate sync")
        .replace("user: jane@acme.example", "user: jane")
        .replace("retire: delete", "retire: shred");
    let (code, _, stderr) = validate(&broken);
    assert_eq!(code, Some(2));
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("plan.yaml:"))
        .collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(
        lines[0].starts_with("plan.yaml:2:"),
        "sorted by position: {stderr}"
    );
}

#[test]
fn validation_needs_no_secrets_and_a_missing_file_is_exit_2() {
    // VALID references variables and a file that do not exist: validate does not read them.
    let (code, _, _) = validate(VALID);
    assert_eq!(code, Some(0));
    let dir = tempfile::tempdir().unwrap();
    let output = relinker(&["validate", "nope.yaml"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read plan `nope.yaml`"));
}

#[test]
fn schema_is_json_schema_of_the_format() {
    let dir = tempfile::tempdir().unwrap();
    let output = relinker(&["schema"], dir.path());
    assert_eq!(output.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&output.stdout).expect("schema is JSON");
    assert_eq!(schema["title"], "relinker plan");
    // One schema, a variant per provider, told apart by `instance.provider`.
    let resolve = |v: &serde_json::Value| -> serde_json::Value {
        match v["$ref"].as_str() {
            Some(target) => schema
                .pointer(target.trim_start_matches('#'))
                .cloned()
                .unwrap_or_default(),
            None => v.clone(),
        }
    };
    let variants: Vec<serde_json::Value> = schema["anyOf"]
        .as_array()
        .expect("a variant per provider")
        .iter()
        .map(resolve)
        .collect();
    let mut providers = Vec::new();
    for variant in &variants {
        let required: Vec<&str> = variant["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(required, ["version", "name", "instance", "rotations"]);
        assert_eq!(variant["additionalProperties"], false);
        let instance = resolve(&variant["properties"]["instance"]);
        providers.push(instance["properties"]["provider"]["enum"][0].clone());
    }
    assert_eq!(providers, ["marketo", "dotdigital", "movius"]);
    let text = schema.to_string();
    for field in [
        "temporary_user",
        "keep_temporary_user",
        "max_deletions",
        "on_failure",
        "retire",
        "fixture",
        "rotate_password",
        "soak",
        "application",
        "check",
    ] {
        assert!(text.contains(field), "schema lacks {field}");
    }
}

#[test]
fn a_service_placeholder_in_with_gives_each_service_a_valid_distinct_user() {
    // Two services named alike would share one new user: refused, naming the place.
    let two = VALID
        .replace(
            "  - name: crm\n",
            "  - name: CRM Sync\n    client_id: x\n    client_secret: ${env:X}\n  - name: crm-sync\n",
        )
        .replace("with: api.crm@acme.example\n      services: [crm]", "with: api.{service}@acme.example\n      services: [CRM Sync, crm-sync]");
    let (code, _, stderr) = validate(&two);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`rotations[1].replace.with`")
            && stderr.contains("`api.crm-sync@acme.example` is also"),
        "{stderr}"
    );
    // One service, or distinct names: valid.
    let one = VALID.replace(
        "with: api.crm@acme.example",
        "with: api.{service}@acme.example",
    );
    let (code, _, stderr) = validate(&one);
    assert_eq!(code, Some(0), "{stderr}");
}
