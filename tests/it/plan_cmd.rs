//! `relinker plan` on the real binary against a sandbox on 127.0.0.1:0: the three renderings
//! (snapshots), read-only behaviour, every conflict, secrets, saved plans and exit codes.

use std::path::Path;
use std::process::Output;

use tokio::process::Command;

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::{ENV, POLICY, RELINK, RENAME, REPLACE, TestSandbox, Workspace, plan_text};
use relinker::sandbox::marketo::SandboxConfig;

/// A plan that must fail with a conflict mentioning `expected`.
struct Conflict {
    rotations: String,
    policy: &'static str,
    env: Vec<(&'static str, &'static str)>,
    expected: &'static str,
}

impl Conflict {
    fn new(rotations: &str, expected: &'static str) -> Self {
        Self {
            rotations: rotations.to_owned(),
            policy: POLICY,
            env: ENV.to_vec(),
            expected,
        }
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Writes the plan into a temp dir and runs `relinker plan plan.yaml ARGS` there. The child is
/// awaited, not waited for: the in-process sandbox it talks to runs on this test's runtime.
async fn plan(
    sandbox: &TestSandbox,
    rotations: &str,
    policy: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Run, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("plan.yaml"),
        plan_text(&sandbox.handle.base_url(), rotations, policy),
    )
    .unwrap();
    std::fs::write(dir.path().join("crm.secret"), "sandbox-secret-crm-Lw45\n").unwrap();
    let output = run_in(dir.path(), &[&["plan", "plan.yaml"], args].concat(), env).await;
    let base = sandbox.handle.base_url();
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).replace(&base, "http://sandbox"),
        stderr: String::from_utf8_lossy(&output.stderr).replace(&base, "http://sandbox"),
    };
    (run, dir)
}

async fn run_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().await.expect("run relinker")
}

fn no_secret_in(texts: &[&str]) {
    for text in texts {
        for (_, secret) in ENV {
            assert!(!text.contains(secret), "a secret leaked: {text}");
        }
        assert!(!text.contains(":int"), "a token leaked: {text}");
    }
}

async fn assert_read_only(sandbox: &TestSandbox) {
    let report = sandbox.requests().await;
    assert_eq!(report["state_changing"], 0, "plan changed state: {report}");
    let posts: Vec<&Value> = report["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert!(posts.is_empty(), "plan sent POSTs: {posts:?}");
    assert!(report["total"].as_u64().unwrap() > 0, "plan read nothing");
}

#[tokio::test]
async fn renders_text_markdown_and_json_reading_only() {
    let sandbox = TestSandbox::start().await;
    let rotations = [RENAME, REPLACE, RELINK].join("\n");
    let mut outputs = Vec::new();
    for format in ["text", "markdown", "json"] {
        let (run, _dir) = plan(&sandbox, &rotations, POLICY, &["--format", format], &ENV).await;
        assert_eq!(run.code, Some(0), "{format}: {}", run.stderr);
        insta::assert_snapshot!(format!("plan_{format}"), run.stdout);
        if format == "text" {
            fits_in_100_columns(&run.stdout);
        }
        outputs.push(run.stdout);
    }
    let json: Value = serde_json::from_str(&outputs[2]).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(
        json["summary"],
        "3 rotations: 2 users to create, 6 service relinks (manual), 1 update, 2 deletions"
    );
    assert!(outputs[1].contains("| # | step | what | by | verified | undo | state |"));
    no_secret_in(&outputs.iter().map(String::as_str).collect::<Vec<_>>());
    assert_read_only(&sandbox).await;
}

#[tokio::test]
async fn each_conflict_fails_the_plan_with_exit_1() {
    let sandbox = TestSandbox::start().await;
    // A service linked elsewhere than the plan expects.
    sandbox
        .control(
            Method::POST,
            "/_sandbox/services/reporting-export/link",
            Some(&json!({"userid": "carol@acme.example"})),
        )
        .await;
    let (run, _dir) = plan(&sandbox, RENAME, POLICY, &[], &ENV).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(crate::harness::flat(&run.stdout).contains("service `reporting-export` is linked to `carol@acme.example`, not `jane.doe@acme.example`"), "{}", run.stdout);
    assert!(
        !run.stdout.contains("To apply"),
        "no apply command for a conflicting plan"
    );

    let wrong_web_secret: Vec<(&str, &str)> = ENV
        .iter()
        .map(|&(k, v)| {
            if k == "T_WEB_SECRET" {
                (k, "wrong")
            } else {
                (k, v)
            }
        })
        .collect();
    let cases = [
        Conflict::new(
            "  - relink:\n      services: [webinar-bridge]\n      to: ghost@acme.example",
            "user `ghost@acme.example` does not exist",
        ),
        Conflict::new(
            "  - replace:\n      user: new.hire@acme.example\n      with: api.x@acme.example\n      services: [crm-connector]",
            "`new.hire@acme.example` is a pending invitation",
        ),
        Conflict::new(
            "  - replace:\n      user: dan.lee@acme.example\n      with: api.x@acme.example\n      services: [crm-connector]",
            "user `dan.lee@acme.example` is not an API-only user",
        ),
        Conflict {
            env: wrong_web_secret,
            ..Conflict::new(
                RELINK,
                "the credentials of service `webinar-bridge` do not work",
            )
        },
        Conflict::new(
            "  - rename:\n      user: bob@acme.example\n      email: carol@acme.example\n      temporary_user: t@acme.example\n      services: [crm-connector]",
            "email `carol@acme.example` is already used by `carol@acme.example`",
        ),
        Conflict::new(
            "  - replace:\n      user: relinker-admin@acme.example\n      with: api.x@acme.example\n      services: [crm-connector]",
            "relinker's own admin service",
        ),
        // Validation allows one `retire: delete`; live state adds the temporary user this run creates.
        Conflict {
            policy: "  max_deletions: 1",
            ..Conflict::new(
                &format!("{RENAME}\n{REPLACE}"),
                "would delete 2 users, more than `policy.max_deletions` (1)",
            )
        },
    ];
    for case in cases {
        let (run, _dir) = plan(&sandbox, &case.rotations, case.policy, &[], &case.env).await;
        assert_eq!(
            run.code,
            Some(1),
            "{}: {}{}",
            case.expected,
            run.stdout,
            run.stderr
        );
        assert!(
            run.stdout.contains(case.expected),
            "expected {:?} in\n{}",
            case.expected,
            run.stdout
        );
    }
    assert_read_only(&sandbox).await;
}

#[tokio::test]
async fn detailed_exitcode_and_already_done_steps() {
    let sandbox = TestSandbox::start().await;
    let (run, _dir) = plan(&sandbox, RELINK, POLICY, &["--detailed-exitcode"], &ENV).await;
    assert_eq!(run.code, Some(5), "changes to make: {}", run.stderr);
    sandbox
        .control(
            Method::POST,
            "/_sandbox/services/webinar-bridge/link",
            Some(&json!({"userid": "api.webinar@acme.example"})),
        )
        .await;
    let (run, _dir) = plan(&sandbox, RELINK, POLICY, &["--detailed-exitcode"], &ENV).await;
    assert_eq!(run.code, Some(0), "nothing to do: {}", run.stdout);
    assert!(
        run.stdout.contains("1 rotation: nothing to change"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("already done"), "{}", run.stdout);
    let (run, _dir) = plan(&sandbox, RELINK, POLICY, &[], &ENV).await;
    assert_eq!(run.code, Some(0));
}

#[tokio::test]
async fn a_missing_secret_is_exit_2_before_any_call() {
    let sandbox = TestSandbox::start().await;
    let env: Vec<(&str, &str)> = ENV
        .iter()
        .copied()
        .filter(|(k, _)| *k != "T_SFDC_SECRET")
        .collect();
    let (run, _dir) = plan(&sandbox, RENAME, POLICY, &[], &env).await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "`services[0].client_secret`: environment variable `T_SFDC_SECRET` is not set"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.requests().await["total"], 0, "no API call was made");
}

#[tokio::test]
async fn out_saves_a_pinned_plan_without_secrets() {
    let sandbox = TestSandbox::start().await;
    let (run, dir) = plan(
        &sandbox,
        RENAME,
        POLICY,
        &["--out", "saved.json", "--format", "json"],
        &ENV,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let text = std::fs::read_to_string(dir.path().join("saved.json")).unwrap();
    no_secret_in(&[&text]);
    let saved: Value = serde_json::from_str(&text).unwrap();
    let plan_bytes = std::fs::read(dir.path().join("plan.yaml")).unwrap();
    assert_eq!(
        saved["plan_sha256"],
        relinker::secret::Fingerprint::of(&plan_bytes).as_str()
    );
    assert_eq!(saved["format_version"], 2);
    assert_eq!(
        saved["plan_file"], "plan.yaml",
        "relative to the saved plan"
    );
    assert!(
        saved["live"]["snapshot"]["users"]["jane.doe@acme.example"].is_object(),
        "the live state it was computed from: {}",
        saved["live"]
    );
    assert_eq!(saved["compiled"]["steps"].as_array().unwrap().len(), 8);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["apply_command"], "relinker apply saved.json");

    // A conflicting plan is not saved.
    sandbox
        .control(
            Method::POST,
            "/_sandbox/services/salesforce-sync/link",
            Some(&json!({"userid": "carol@acme.example"})),
        )
        .await;
    let (run, dir) = plan(&sandbox, RENAME, POLICY, &["--out", "saved.json"], &ENV).await;
    assert_eq!(run.code, Some(1));
    assert!(!dir.path().join("saved.json").exists());
}

#[tokio::test]
async fn every_example_plans_against_its_sandbox_fixture() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    for name in [
        "rename-api-user.yaml",
        "replace-api-user.yaml",
        "relink-services.yaml",
    ] {
        let output = run_in(
            &examples,
            &["plan", name, "--sandbox", "--detailed-exitcode"],
            &[],
        )
        .await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(5),
            "{name}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            stdout.contains(&format!("To apply: relinker apply {name} --sandbox")),
            "{stdout}"
        );
    }
}

#[tokio::test]
async fn the_readme_command_runs_without_a_terminal_on_the_embedded_sandbox() {
    // `apply … --sandbox` needs no `--yes` without a terminal: nothing real changes. The state
    // goes to a temporary folder, not into the repository.
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    let state = tempfile::tempdir().unwrap();
    crate::harness::Relinker::new(&["apply", "rename-api-user.yaml", "--sandbox"])
        .current_dir(&examples)
        .env("RELINKER_STATE_DIR", state.path())
        .run()
        .await
        .code(0)
        .says(" done.");
}

/// Invites an API-only user, then forgets the request log, so that read-only assertions see
/// only what the plan under test sent.
async fn existing_api_user(sandbox: &TestSandbox, userid: &str, pairs: Value) {
    sandbox.invite_api_user(userid, pairs).await;
    sandbox
        .control(Method::DELETE, "/_sandbox/requests", None)
        .await;
}

#[tokio::test]
async fn an_existing_temporary_user_gets_only_what_it_lacks() {
    let sandbox = TestSandbox::start().await;
    // Jane holds API Integrations/Default and Analytics User/World; this user has the first,
    // lacks the second, and holds Standard User/Default besides.
    existing_api_user(
        &sandbox,
        "relinker-temp@acme.example",
        json!([{"accessRoleId": 110, "workspaceId": 1}, {"accessRoleId": 2, "workspaceId": 1}]),
    )
    .await;
    let (run, _dir) = plan(&sandbox, RENAME, POLICY, &["--format", "json"], &ENV).await;
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    let steps = json["steps"].as_array().unwrap();
    let add = steps
        .iter()
        .find(|s| s["action"]["op"] == "add_roles")
        .unwrap_or_else(|| panic!("no add_roles step in {steps:?}"));
    assert_eq!(add["action"]["user"], "relinker-temp@acme.example");
    assert_eq!(
        add["action"]["roles"],
        json!([{"role_id": 101, "workspace_id": 1008}]),
        "only the missing pair is added"
    );
    assert!(
        steps
            .iter()
            .all(|s| s["action"]["op"] != "create_user" && s["action"]["op"] != "delete_user"),
        "a user the run does not create is neither created nor deleted: {steps:?}"
    );
    let warnings = json["warnings"].to_string();
    assert!(
        warnings.contains("`relinker-temp@acme.example` already holds 1 role/workspace pair(s)"),
        "{warnings}"
    );
    let (text, _dir) = plan(&sandbox, RENAME, POLICY, &[], &ENV).await;
    assert!(
        text.stdout
            .contains("add 1 role/workspace pair(s) to `relinker-temp@acme.example`"),
        "{}",
        text.stdout
    );
    assert_read_only(&sandbox).await;
}

#[tokio::test]
async fn a_new_user_with_more_roles_than_the_original_is_a_conflict() {
    let sandbox = TestSandbox::start().await;
    // Bob holds API Integrations/US only; the new user would hand the CRM connector Marketing
    // User in Default too.
    existing_api_user(
        &sandbox,
        "api.crm@acme.example",
        json!([{"accessRoleId": 110, "workspaceId": 1010}, {"accessRoleId": 102, "workspaceId": 1}]),
    )
    .await;
    let (run, _dir) = plan(&sandbox, REPLACE, POLICY, &[], &ENV).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        crate::harness::flat(&run.stdout).contains(
            "`api.crm@acme.example` already holds 1 role/workspace pair(s) the original user does not"
        ),
        "{}",
        run.stdout
    );
    assert_read_only(&sandbox).await;
}

/// The example plans of dotdigital and Movius, planned on their embedded sandboxes: the text
/// and Markdown a reviewer reads say who performs each step and how it is known.
#[tokio::test]
async fn dotdigital_and_movius_plans_render_who_acts_and_how_each_step_is_known() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    let dir = tempfile::tempdir().unwrap();
    for (name, file) in [
        ("dotdigital", "replace-dotdigital-api-user.yaml"),
        ("movius", "replace-movius-api-user.yaml"),
    ] {
        let plan = examples.join(file);
        let plan = plan.to_str().unwrap();
        for format in ["text", "markdown"] {
            let output = run_in(
                dir.path(),
                &["plan", plan, "--sandbox", "--format", format],
                &[],
            )
            .await;
            assert_eq!(output.status.code(), Some(0), "{output:?}");
            let shown = String::from_utf8_lossy(&output.stdout);
            // The embedded sandbox's port and the examples' folder vary from run to run.
            let shown = regex_lite_replace(&shown, "http://127.0.0.1:", "http://sandbox")
                .replace(plan, &format!("plans/examples/{file}"));
            if format == "text" {
                fits_in_100_columns(&shown);
            }
            insta::assert_snapshot!(format!("{name}_plan_{format}"), shown);
        }
    }
}

/// Replaces `prefix` and the port number after it.
fn regex_lite_replace(text: &str, prefix: &str, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        out.push_str(&rest[..at]);
        out.push_str(with);
        rest = rest[at + prefix.len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

/// A user the plan deletes that something else still calls as: a service relinker has no
/// credentials for runs as it. The plan says so, from the usage statistics, and stays
/// read-only; when the plan's own services explain the calls, it says nothing.
#[tokio::test]
async fn a_retired_user_still_in_use_by_an_unknown_integration_is_a_warning() {
    let warning = "`bob@acme.example` made 340 calls in the last 7 days, yet no service of this plan runs as it";
    let usage = "usage:\n  - { userid: bob@acme.example, days_ago: 1, calls: 340 }\n";

    let explained = TestSandbox::with(
        &format!("{}{usage}", crate::harness::ACME),
        relinker::sandbox::marketo::SandboxConfig::default(),
    )
    .await;
    let (run, _dir) = plan(&explained, REPLACE, POLICY, &[], &ENV).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stdout.contains(warning), "{}", run.stdout);

    // A person already moved crm-connector; an integration nobody told relinker about still
    // runs as bob.
    let legacy = "  - { name: legacy-crm, client_id: legacy-id, client_secret: legacy-secret, user: bob@acme.example }\n";
    let sandbox = TestSandbox::with(
        &format!("{}{legacy}{usage}", crate::harness::ACME),
        relinker::sandbox::marketo::SandboxConfig::default(),
    )
    .await;
    sandbox
        .invite_api_user(
            "api.crm@acme.example",
            json!([{"accessRoleId": 110, "workspaceId": 1010}]),
        )
        .await;
    sandbox
        .person_links("crm-connector", "api.crm@acme.example")
        .await;
    sandbox
        .control(Method::DELETE, "/_sandbox/requests", None)
        .await;
    for format in ["text", "json"] {
        let (run, _dir) = plan(&sandbox, REPLACE, POLICY, &["--format", format], &ENV).await;
        assert_eq!(run.code, Some(0), "{format}: {}", run.stderr);
        assert!(run.stdout.contains(warning), "{format}: {}", run.stdout);
    }
    assert_read_only(&sandbox).await;
}

/// Every line of a text plan fits a 100-column terminal.
fn fits_in_100_columns(text: &str) {
    for line in text.lines() {
        assert!(
            line.chars().count() <= 100,
            "{} columns: {line}",
            line.chars().count()
        );
    }
}

/// Least privilege: a reviewer is told when the admin service's user can do anything, where a
/// role with Access Users and Access User Management Api is all relinker needs.
#[tokio::test]
async fn plan_warns_when_the_admin_service_runs_as_an_admin() {
    let fixture = crate::harness::ACME.replace(
        "roles: [{ role: API User Management, workspace: AllZones }]",
        "roles: [{ role: Admin, workspace: AllZones }]",
    );
    let sandbox = TestSandbox::with(&fixture, SandboxConfig::default()).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let caution = "relinker's admin service runs as `relinker-admin@acme.example`, which holds the Admin role (every permission)";
    work.relinker(&["plan", "plan.yaml"])
        .run()
        .await
        .code(0)
        .says(caution);
    work.relinker(&["plan", "plan.yaml", "--format", "markdown"])
        .run()
        .await
        .code(0)
        .says(caution);
    // Least privilege, no word of it.
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.relinker(&["plan", "plan.yaml"])
        .run()
        .await
        .code(0)
        .never_says("holds the Admin role");
}

#[tokio::test]
async fn show_renders_a_saved_plan_as_reviewed_contacting_nothing() {
    let sandbox = TestSandbox::start().await;
    let rotations = [RENAME, RELINK].join("\n");
    let mut planned = Vec::new();
    let (first, dir) = plan(
        &sandbox,
        &rotations,
        POLICY,
        &["--out", "saved.json", "--format", "markdown"],
        &ENV,
    )
    .await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    planned.push(first.stdout);
    for format in ["text", "json"] {
        let output = run_in(
            dir.path(),
            &[
                "plan",
                "plan.yaml",
                "--out",
                "saved.json",
                "--format",
                format,
            ],
            &ENV,
        )
        .await;
        assert_eq!(output.status.code(), Some(0));
        planned.push(
            String::from_utf8_lossy(&output.stdout)
                .replace(&sandbox.handle.base_url(), "http://sandbox"),
        );
    }
    let base = sandbox.handle.base_url();
    let calls = sandbox.requests().await["total"].clone();

    // From another directory, with no secret in the environment: the file alone.
    let elsewhere = tempfile::tempdir().unwrap();
    let saved = dir.path().join("saved.json");
    let saved = saved.to_str().unwrap();
    for (format, reviewed) in ["markdown", "text", "json"].iter().zip(&planned) {
        let output = run_in(elsewhere.path(), &["show", saved, "--format", format], &[]).await;
        assert_eq!(output.status.code(), Some(0), "{format}: {output:?}");
        let shown = String::from_utf8_lossy(&output.stdout)
            .replace(&base, "http://sandbox")
            .replace(
                &format!("relinker apply {saved}"),
                "relinker apply saved.json",
            );
        assert_eq!(
            &shown, reviewed,
            "{format}: show differs from what plan printed"
        );
    }
    assert_eq!(
        sandbox.requests().await["total"],
        calls,
        "show contacted the platform"
    );

    // A saved plan whose plan text was edited by hand shows nothing.
    let text = std::fs::read_to_string(dir.path().join("saved.json")).unwrap();
    std::fs::write(
        dir.path().join("saved.json"),
        text.replace("first_name: Salesforce", "first_name: Mallory"),
    )
    .unwrap();
    let output = run_in(elsewhere.path(), &["show", saved], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("its `plan_text` is not the plan file it pins"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty(), "it showed the edited plan");
}

#[tokio::test]
async fn a_plan_that_cannot_be_planned_keeps_its_place_in_markdown_and_json() {
    let sandbox = TestSandbox::start().await;
    let env: Vec<(&str, &str)> = ENV
        .iter()
        .copied()
        .filter(|(k, _)| *k != "T_SFDC_SECRET")
        .collect();
    let (run, _dir) = plan(&sandbox, RENAME, POLICY, &["--format", "markdown"], &env).await;
    assert_eq!(run.code, Some(2));
    assert!(
        run.stdout
            .starts_with("### relinker plan `plan.yaml`: not planned\n\n> [!CAUTION]\n> relinker could not plan this file (exit 2)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "`services[0].client_secret`: environment variable `T_SFDC_SECRET` is not set"
        ),
        "{}",
        run.stdout
    );
    let (run, _dir) = plan(&sandbox, RENAME, POLICY, &["--format", "json"], &env).await;
    assert_eq!(run.code, Some(2));
    let json: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["plan_file"], "plan.yaml");
    assert_eq!(json["error"]["exit_code"], 2);
    assert!(
        json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`T_SFDC_SECRET` is not set")
    );
    // Text keeps stdout for plans: the error is where every command prints it.
    let (run, _dir) = plan(&sandbox, RENAME, POLICY, &[], &env).await;
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    no_secret_in(&[&run.stderr]);
}
