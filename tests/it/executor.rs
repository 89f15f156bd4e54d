//! `relinker apply`, `resume`, `rollback`, `status` on the real binary against a sandbox on
//! 127.0.0.1:0: each intent end to end, crashes at every request, lost answers, rollback after
//! failures, locks, manual pauses, stale saved plans, and no secret in any journal or output.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::harness::{ENV, POLICY, RELINK, RENAME, REPLACE, TestSandbox, plan_text};

/// A working directory with a plan in it and a state directory beside.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(sandbox: &TestSandbox, rotations: &str, policy: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("plan.yaml"),
            plan_text(&sandbox.handle.base_url(), rotations, policy),
        )
        .unwrap();
        std::fs::write(dir.path().join("crm.secret"), "sandbox-secret-crm-Lw45\n").unwrap();
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_relinker"));
        command
            .args(args)
            .env("RELINKER_STATE_DIR", "state")
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in ENV {
            command.env(name, value);
        }
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.expect("run relinker")
    }

    async fn apply(&self, extra: &[&str]) -> Output {
        self.run(
            &[
                &[
                    "apply",
                    "plan.yaml",
                    "--yes",
                    "--sandbox-operator",
                    "--gate-wait",
                    "0",
                ],
                extra,
            ]
            .concat(),
        )
        .await
    }

    /// Every file under the state directory, concatenated.
    fn state_files(&self) -> String {
        fn walk(dir: &Path, out: &mut String) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path: PathBuf = entry.path();
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
                }
            }
        }
        let mut out = String::new();
        walk(&self.path().join("state"), &mut out);
        out
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn run_id(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    first
        .strip_prefix("run ")
        .unwrap_or_default()
        .split(' ')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// No secret or token in any output or state file.
fn assert_no_secrets(texts: &[&str]) {
    for text in texts {
        for (_, secret) in ENV {
            assert!(!text.contains(secret), "a secret leaked");
        }
        assert!(!text.contains(":int\""), "a token leaked");
    }
}

fn user<'a>(state: &'a Value, userid: &str) -> Option<&'a Value> {
    state["users"].as_array().unwrap().iter().find(|u| {
        u["userid"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(userid))
    })
}

fn linked(state: &Value, service: &str) -> String {
    let found = state["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == service)
        .unwrap();
    found["linkedUser"].as_str().unwrap().to_owned()
}

/// The end state of the rename: Jane's user has the team address and both services again.
fn assert_renamed(state: &Value, original_users: usize) {
    let jane = user(state, "jane.doe@acme.example").expect("jane's user is kept");
    assert_eq!(jane["emailAddress"], "api.salesforce@acme.example");
    assert_eq!(jane["firstName"], "Salesforce");
    assert_eq!(
        jane["roles"].as_array().unwrap().len(),
        2,
        "roles unchanged"
    );
    assert!(
        user(state, "relinker-temp@acme.example").is_none(),
        "the temporary user is gone"
    );
    assert_eq!(
        state["users"].as_array().unwrap().len(),
        original_users,
        "no duplicate or orphaned user"
    );
    for service in ["salesforce-sync", "reporting-export"] {
        assert_eq!(linked(state, service), "jane.doe@acme.example");
    }
}

/// The state before any run, for rollback comparisons (without volatile fields).
fn essentials(state: &Value) -> Value {
    json!({
        "users": state["users"].as_array().unwrap().iter().map(|u| json!([u["userid"], u["emailAddress"], u["firstName"], u["lastName"], u["roles"]])).collect::<Vec<_>>(),
        "services": state["services"],
    })
}

#[tokio::test]
async fn each_intent_runs_end_to_end_and_keeps_its_promise() {
    let sandbox = TestSandbox::start().await;
    let before = sandbox.state().await;
    let users = before["users"].as_array().unwrap().len();

    let rename = Workspace::new(&sandbox, RENAME, POLICY);
    // At TRACE level, so the logs are checked for secrets too.
    let output = rename.apply(&["-vvv"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let out = text(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("marketo call"),
        "TRACE logs were written: {out}"
    );
    assert!(
        out.starts_with("run acme-rotation-"),
        "the run id comes first: {out}"
    );
    assert!(
        out.contains("`salesforce-sync`, `reporting-export` authenticate with unchanged credentials (sha256 fingerprints match)"),
        "{out}"
    );
    assert_renamed(&sandbox.state().await, users);
    assert_no_secrets(&[&out, &rename.state_files()]);

    let replace = Workspace::new(&sandbox, REPLACE, POLICY);
    let output = replace.apply(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let state = sandbox.state().await;
    assert!(
        user(&state, "bob@acme.example").is_none(),
        "bob's user is retired"
    );
    assert_eq!(
        user(&state, "api.crm@acme.example").unwrap()["roles"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(linked(&state, "crm-connector"), "api.crm@acme.example");

    let relink = Workspace::new(&sandbox, RELINK, POLICY);
    let output = relink.apply(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(
        linked(&sandbox.state().await, "webinar-bridge"),
        "api.webinar@acme.example"
    );

    // The service credentials never changed: each still mints a token.
    for (id, secret) in [
        (
            "5f0e4c1a-1111-4111-8111-000000005f5f",
            "sandbox-secret-sfdc-K8v3",
        ),
        (
            "9a8b7c6d-3333-4333-8333-000000009a9a",
            "sandbox-secret-crm-Lw45",
        ),
    ] {
        assert!(sandbox.token(id, secret).await["access_token"].is_string());
    }
    // A second apply of a finished plan has nothing to do and changes nothing.
    let requests_before = sandbox.requests().await["state_changing"].clone();
    let output = relink.apply(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert_eq!(sandbox.requests().await["state_changing"], requests_before);
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let output = work.apply(&["--dry-run"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("dry run: nothing was changed"));
    assert_eq!(sandbox.requests().await["state_changing"], 0);
    assert!(!work.path().join("state").exists(), "no run is recorded");
}

/// Waits until the sandbox has logged a hung request.
async fn wait_for_hang(sandbox: &TestSandbox) -> bool {
    for _ in 0..200 {
        let report = sandbox.requests().await;
        if report["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["fault"] == "hang-after")
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

async fn kill_hard(child: &mut Child) {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill -9");
    assert!(status.success());
    let _ = child.wait().await;
}

#[tokio::test]
async fn a_crash_at_any_request_resumes_to_the_planned_end_state() {
    // Count the Marketo requests a clean rename makes.
    let total = {
        let sandbox = TestSandbox::start().await;
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        sandbox
            .control(Method::DELETE, "/_sandbox/requests", None)
            .await;
        let output = work.apply(&[]).await;
        assert_eq!(output.status.code(), Some(0), "{}", text(&output));
        sandbox.requests().await["total"].as_u64().unwrap()
    };
    assert!(total > 20, "{total}");
    eprintln!("crashing at each of {total} requests");
    // Crash after the K-th request, for every K: the request is applied, its answer never comes,
    // and the process is killed with -9 (no cleanup, locks released by the OS).
    for k in 0..total {
        let sandbox = TestSandbox::start().await;
        let users = sandbox.state().await["users"].as_array().unwrap().len();
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        sandbox
            .add_fault(
                json!({"path": "/", "action": {"kind": "hang-after"}, "after": k, "times": 1}),
            )
            .await;
        let mut child = work
            .command(&[
                "apply",
                "plan.yaml",
                "--yes",
                "--sandbox-operator",
                "--gate-wait",
                "0",
                "--run-id",
                "crash",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(wait_for_hang(&sandbox).await, "request {k} never hung");
        kill_hard(&mut child).await;
        sandbox
            .control(Method::DELETE, "/_sandbox/faults", None)
            .await;
        let resumed = work
            .run(&["resume", "crash", "--sandbox-operator", "--gate-wait", "0"])
            .await;
        let out = text(&resumed);
        if resumed.status.code() == Some(2) && out.contains("no run `crash`") {
            // Killed before the run was recorded (while reading live state): apply again.
            let again = work.apply(&["--run-id", "crash"]).await;
            assert_eq!(
                again.status.code(),
                Some(0),
                "crash at {k}, re-apply: {}",
                text(&again)
            );
        } else {
            assert_eq!(
                resumed.status.code(),
                Some(0),
                "crash at request {k}: {out}"
            );
        }
        let state = sandbox.state().await;
        assert_renamed(&state, users);
        let invites = sandbox.requests().await["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| {
                r["path"].as_str().unwrap().ends_with("/invite.json")
                    && r["method"] == "POST"
                    && r["status"] == 200
            })
            .count();
        assert!(
            invites <= 1,
            "crash at {k}: the temporary user was invited {invites} times"
        );
        assert_no_secrets(&[&out, &work.state_files()]);
    }
}

#[tokio::test]
async fn lost_answers_to_invite_update_and_delete_converge() {
    let sandbox = TestSandbox::start().await;
    let users = sandbox.state().await["users"].as_array().unwrap().len();
    for path in [
        "/userservice/*/invite.json",
        "/userservice/*/update.json",
        "/userservice/*/delete.json",
    ] {
        sandbox.add_fault(json!({"method": "POST", "path": path, "action": {"kind": "drop-after"}, "times": 1})).await;
    }
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let output = work.apply(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("answer lost"), "{}", text(&output));
    assert_renamed(&sandbox.state().await, users);
    let report = sandbox.requests().await;
    let posts = |suffix: &str| {
        report["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"].as_str().unwrap().ends_with(suffix))
            .count()
    };
    assert_eq!(
        (
            posts("/invite.json"),
            posts("/update.json"),
            posts("/delete.json")
        ),
        (1, 1, 1),
        "nothing was sent twice"
    );
}

#[tokio::test]
async fn a_permanent_failure_rolls_back_to_the_original_state() {
    for (path, step) in [
        ("/userservice/*/invite.json", "r0-create-temporary-user"),
        ("/userservice/*/update.json", "r0-update-user"),
        (
            "/userservice/management/v1/users/jane.doe@acme.example/roles.json",
            "r0-verify",
        ),
        ("/userservice/*/delete.json", "r0-delete-temporary-user"),
        // A manual step fails when the service's credentials are refused just after the person
        // relinked it. The fault skips the identity calls before that one: two admin tokens
        // (planning, running), the plan's two link reads, then per link step a check before the
        // person acts, one after, and the step's verification.
        (
            "/identity/oauth/token#5",
            "r0-link-salesforce-sync-to-temporary-user",
        ),
        ("/identity/oauth/token#11", "r0-link-salesforce-sync-back"),
    ] {
        let sandbox = TestSandbox::start().await;
        let before = essentials(&sandbox.state().await);
        let method = if path.ends_with("roles.json") {
            "GET"
        } else {
            "POST"
        };
        // 603 and refused credentials are never retried: failing the request once fails the
        // step, and rollback then runs against a healthy API.
        let fault = match path.split_once('#') {
            Some((identity, skip)) => {
                json!({"path": identity, "after": skip.parse::<u32>().unwrap(), "action": {"kind": "error", "status": 401, "code": "invalid_client", "message": "Bad client credentials"}, "times": 1})
            }
            None => {
                json!({"method": method, "path": path, "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1})
            }
        };
        sandbox.add_fault(fault).await;
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        let output = work.apply(&[]).await;
        let out = text(&output);
        assert_eq!(output.status.code(), Some(1), "{step}: {out}");
        assert!(
            out.contains(&format!("failed at `{step}`")),
            "{step}: {out}"
        );
        assert!(
            out.contains("everything the run changed was rolled back"),
            "{step}: {out}"
        );
        if path.contains('#') {
            // The failing step's own change was made by the person: rollback must undo it too.
            assert!(
                out.contains(&format!("undo-{step}")) && out.contains(&format!("↺ {step}: undone")),
                "{step}: {out}"
            );
        }
        sandbox
            .control(Method::DELETE, "/_sandbox/faults", None)
            .await;
        assert_eq!(
            essentials(&sandbox.state().await),
            before,
            "{step}: the original state is restored"
        );
        let status = work
            .run(&["status", &run_id(&output), "--format", "json"])
            .await;
        let status: Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status[0]["status"], "rolled back");
    }
}

#[tokio::test]
async fn rollback_takes_back_roles_it_gave_a_user_it_did_not_create() {
    let sandbox = TestSandbox::start().await;
    // The temporary user exists already with one of Jane's two role/workspace pairs.
    sandbox
        .invite_api_user(
            "relinker-temp@acme.example",
            json!([{"accessRoleId": 110, "workspaceId": 1}]),
        )
        .await;
    let before = essentials(&sandbox.state().await);
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let output = work.apply(&[]).await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(out.contains("failed at `r0-update-user`"), "{out}");
    assert!(
        out.contains("undo-r0-add-roles-temporary-user"),
        "the added pair is taken back: {out}"
    );
    let after = sandbox.state().await;
    let temp =
        user(&after, "relinker-temp@acme.example").expect("a user the run did not create is kept");
    assert_eq!(
        temp["roles"].as_array().unwrap().len(),
        1,
        "only what it had before: {temp}"
    );
    assert_eq!(essentials(&after), before, "the original state is restored");
}

#[tokio::test]
async fn a_rollback_that_cannot_finish_says_so() {
    let sandbox = TestSandbox::start().await;
    // Every delete is refused: the step fails, and so does undoing the temporary user.
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 403, "code": "603"}})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let output = work.apply(&[]).await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(1), "{out}");
    assert!(
        out.contains("rollback incomplete: undoing `r0-create-temporary-user` failed"),
        "{out}"
    );
    assert!(out.contains("docs/runbook.md"), "{out}");
    let id = run_id(&output);
    let status: Value =
        serde_json::from_slice(&work.run(&["status", &id, "--format", "json"]).await.stdout)
            .unwrap();
    assert_eq!(status[0]["status"], "rollback incomplete");
    // Once the API accepts deletes again, `rollback` finishes the job.
    sandbox
        .control(Method::DELETE, "/_sandbox/faults", None)
        .await;
    let dry = work.run(&["rollback", &id, "--dry-run"]).await;
    assert!(
        text(&dry).contains("r0-create-temporary-user: delete user `relinker-temp@acme.example`"),
        "{}",
        text(&dry)
    );
    let rollback = work
        .run(&["rollback", &id, "--sandbox-operator", "--gate-wait", "0"])
        .await;
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback));
    assert!(user(&sandbox.state().await, "relinker-temp@acme.example").is_none());
}

#[tokio::test]
async fn a_second_apply_on_the_same_user_exits_3() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "hang"}, "times": 1})).await;
    let mut first = work
        .command(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
            "--run-id",
            "first",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the first run holds its locks and is stuck mid-run.
    for _ in 0..200 {
        if sandbox.requests().await["requests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["fault"] == "hang")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let second = work.apply(&["--run-id", "second"]).await;
    assert_eq!(second.status.code(), Some(3), "{}", text(&second));
    assert!(
        text(&second)
            .contains("user `jane.doe@acme.example` is locked by another process (run `first`)"),
        "{}",
        text(&second)
    );
    let resume = work.run(&["resume", "first", "--gate-wait", "0"]).await;
    assert_eq!(resume.status.code(), Some(3), "{}", text(&resume));
    kill_hard(&mut first).await;
    // The lock died with the process: the run can be resumed now.
    sandbox
        .control(Method::DELETE, "/_sandbox/faults", None)
        .await;
    let resume = work
        .run(&["resume", "first", "--sandbox-operator", "--gate-wait", "0"])
        .await;
    assert_eq!(resume.status.code(), Some(0), "{}", text(&resume));
}

#[tokio::test]
async fn a_run_pauses_at_a_manual_step_and_resumes_once_it_is_done() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    let output = work
        .run(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .await;
    let out = text(&output);
    assert_eq!(output.status.code(), Some(4), "{out}");
    assert!(
        out.contains("Admin > Integration > LaunchPoint"),
        "instructions are printed: {out}"
    );
    let id = run_id(&output);
    assert!(out.contains(&format!("relinker resume {id}")), "{out}");
    let status: Value =
        serde_json::from_slice(&work.run(&["status", &id, "--format", "json"]).await.stdout)
            .unwrap();
    assert_eq!(status[0]["status"], "paused");

    // Nobody has done it yet: still paused.
    let again = work.run(&["resume", &id, "--gate-wait", "0"]).await;
    assert_eq!(again.status.code(), Some(4), "{}", text(&again));
    // A person does it in the UI.
    sandbox
        .control(
            Method::POST,
            "/_sandbox/services/webinar-bridge/link",
            Some(&json!({"userid": "api.webinar@acme.example"})),
        )
        .await;
    let done = work.run(&["resume", "--all", "--gate-wait", "0"]).await;
    assert_eq!(done.status.code(), Some(0), "{}", text(&done));
    let status = work.run(&["status"]).await;
    assert!(
        String::from_utf8_lossy(&status.stdout).contains(&format!("{id}  done")),
        "{}",
        text(&status)
    );
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let saved = work
        .run(&["plan", "plan.yaml", "--out", "saved.json"])
        .await;
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved));

    // Live state moves on: someone adds a user.
    let token = sandbox.admin_token().await;
    let (status, _) = sandbox
        .post(&token, "/userservice/management/v1/users/invite.json", &json!({
            "emailAddress": "newcomer@acme.example", "firstName": "N", "lastName": "C", "apiOnly": true,
            "userRoleWorkspaces": [{"accessRoleId": 110, "workspaceId": 1}]
        }))
        .await;
    assert_eq!(status, 200);
    let output = work
        .run(&[
            "apply",
            "saved.json",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
        ])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("live state changed since the plan was saved"),
        "{}",
        text(&output)
    );

    // Re-planned, then the plan file is edited.
    assert_eq!(
        work.run(&["plan", "plan.yaml", "--out", "saved.json"])
            .await
            .status
            .code(),
        Some(0)
    );
    let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
    std::fs::write(
        work.path().join("plan.yaml"),
        plan.replace("first_name: Salesforce", "first_name: SFDC"),
    )
    .unwrap();
    let output = work
        .run(&[
            "apply",
            "saved.json",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
        ])
        .await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output));
    assert!(
        text(&output).contains("the plan file `plan.yaml` changed since the plan was saved"),
        "{}",
        text(&output)
    );
    assert_eq!(
        sandbox.requests().await["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["changed_state"] == true)
            .count(),
        1,
        "only the test's own invite changed anything"
    );
}

#[tokio::test]
async fn independent_rotations_run_concurrently() {
    let sandbox = TestSandbox::start().await;
    // Slow down the rename: the replace must not wait for it.
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/management/v1/users/jane.doe@acme.example/update.json", "action": {"kind": "latency", "ms": 1000}})).await;
    let work = Workspace::new(&sandbox, &[RENAME, REPLACE, RELINK].join("\n"), POLICY);
    let output = work.apply(&[]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let report = sandbox.requests().await;
    let position = |method: &str, path: &str| {
        report["requests"]
            .as_array()
            .unwrap()
            .iter()
            .position(|r| r["method"] == method && r["path"] == path)
            .unwrap_or_else(|| panic!("no {method} {path}"))
    };
    let jane_updated = position(
        "POST",
        "/userservice/management/v1/users/jane.doe@acme.example/update.json",
    );
    let bob_deleted = position(
        "POST",
        "/userservice/management/v1/users/bob@acme.example/delete.json",
    );
    assert!(
        bob_deleted < jane_updated,
        "the replace finished while the rename waited ({bob_deleted} vs {jane_updated})"
    );
    let state = sandbox.state().await;
    assert_eq!(linked(&state, "webinar-bridge"), "api.webinar@acme.example");
    assert_eq!(linked(&state, "salesforce-sync"), "jane.doe@acme.example");
}

#[tokio::test]
async fn a_torn_journal_line_after_a_crash_is_reported_and_survived() {
    let sandbox = TestSandbox::start().await;
    let users = sandbox.state().await["users"].as_array().unwrap().len();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "hang-after"}, "times": 1})).await;
    let mut child = work
        .command(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
            "--run-id",
            "torn",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_for_hang(&sandbox).await);
    kill_hard(&mut child).await;
    // What a crash in the middle of a write leaves behind.
    let journal = work.path().join("state/runs/torn/journal.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut file, b"{\"kind\":\"done\",\"step\":\"r0-upd").unwrap();
    drop(file);
    let resumed = work
        .run(&["resume", "torn", "--sandbox-operator", "--gate-wait", "0"])
        .await;
    let out = text(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{out}");
    assert!(out.contains("last line was torn by a crash"), "{out}");
    assert!(
        out.contains("r0-update-user: done (confirmed after an interruption)"),
        "{out}"
    );
    assert_renamed(&sandbox.state().await, users);
}
