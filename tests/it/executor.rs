//! `relinker apply`, `resume`, `rollback`, `status` on the real binary against a sandbox on
//! 127.0.0.1:0: each intent end to end, crashes at every request, lost answers, rollback after
//! failures before the pivot, locks, manual pauses, stale saved plans, concurrency, and no
//! secret in any journal or output. The recovery guarantees have their own module.

use std::time::Duration;

use serde_json::json;
use tokio::process::Child;

use crate::harness::{
    POLICY, RELINK, RENAME, REPLACE, TestSandbox, Workspace, World, assert_no_secrets,
};
use crate::pg::TestPostgres;

/// The end state of the rename: Jane's user has the team address and both services again.
#[track_caller]
pub fn assert_renamed(world: &World, original_users: usize) {
    let jane = world
        .user("jane.doe@acme.example")
        .expect("jane's user is kept");
    assert_eq!(jane["emailAddress"], "api.salesforce@acme.example");
    assert_eq!(jane["firstName"], "Salesforce");
    assert_eq!(
        jane["roles"].as_array().map(Vec::len),
        Some(2),
        "roles unchanged"
    );
    assert!(
        world.user("relinker-temp@acme.example").is_none(),
        "the temporary user is gone"
    );
    assert_eq!(
        world.users().len(),
        original_users,
        "no duplicate or orphaned user"
    );
    for service in ["salesforce-sync", "reporting-export"] {
        assert_eq!(world.linked(service), "jane.doe@acme.example");
    }
}

/// Waits until the sandbox has logged a request with this fault.
pub async fn wait_for_fault(sandbox: &TestSandbox, fault: &str) -> bool {
    for _ in 0..400 {
        let report = sandbox.requests().await;
        if report["requests"]
            .as_array()
            .is_some_and(|all| all.iter().any(|r| r["fault"] == fault))
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

pub async fn kill_hard(child: &mut Child) {
    let pid = child.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill -9");
    assert!(status.success());
    let _ = child.wait().await;
}

#[tokio::test]
async fn each_intent_runs_end_to_end_and_keeps_its_promise() {
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();

    let rename = Workspace::new(&sandbox, RENAME, POLICY);
    // At TRACE level, so the logs are checked for secrets too.
    let ran = rename.apply(&["-vvv"]).run().await;
    ran.code(0)
        .says("`salesforce-sync`, `reporting-export` authenticate with unchanged credentials (fingerprints match)")
        // After a rename the userid is still the departed person's address: the proof names
        // the new mailbox too.
        .says("as `jane.doe@acme.example` (email `api.salesforce@acme.example`);");
    assert!(
        ran.stderr.contains("marketo call"),
        "TRACE logs were written"
    );
    assert!(
        ran.stdout.starts_with("run acme-rotation-"),
        "the run id comes first"
    );
    assert_renamed(&World::of(&sandbox).await, users);
    assert_no_secrets(&[&ran.text(), &rename.state_files()]);

    let replace = Workspace::new(&sandbox, REPLACE, POLICY);
    replace.apply(&[]).run().await.code(0);
    let world = World::of(&sandbox).await;
    assert!(
        world.user("bob@acme.example").is_none(),
        "bob's user is retired"
    );
    assert_eq!(
        world.user("api.crm@acme.example").unwrap()["roles"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(world.linked("crm-connector"), "api.crm@acme.example");

    let relink = Workspace::new(&sandbox, RELINK, POLICY);
    relink.apply(&[]).run().await.code(0);
    assert_eq!(
        World::of(&sandbox).await.linked("webinar-bridge"),
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
}

#[tokio::test]
async fn without_a_terminal_only_yes_approves() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // As `relinker apply plan.yaml | tee log` from a script: stdin is no terminal.
    work.relinker(&["apply", "plan.yaml", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(2)
        .says("plan `acme-rotation` was not applied: there is no terminal to ask for approval; pass --yes");
    assert_eq!(sandbox.requests().await["state_changing"], 0);
    assert!(!work.path().join("state").exists(), "no run is recorded");
    work.apply(&[]).run().await.code(0);
}

#[tokio::test]
async fn waiting_without_a_terminal_says_what_it_sees_once_not_every_look() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "5s"])
        .run()
        .await;
    ran.code(4);
    let seen = "still waiting: r0-link-salesforce-sync-to-temporary-user: `salesforce-sync` is linked to `jane.doe@acme.example`";
    assert_eq!(
        ran.stdout.matches(seen).count(),
        1,
        "looked every 2 s for 5 s, said it once: {}",
        ran.stdout
    );
    assert!(
        ran.stdout.contains("r0-link-reporting-export-to-temporary-user: `reporting-export` is linked to `jane.doe@acme.example`"),
        "{}",
        ran.stdout
    );
}

#[tokio::test]
async fn dry_run_changes_nothing() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&["--dry-run"])
        .run()
        .await
        .code(0)
        .says("dry run: nothing was changed");
    assert_eq!(sandbox.requests().await["state_changing"], 0);
    assert!(!work.path().join("state").exists(), "no run is recorded");
}

#[tokio::test]
async fn a_crash_at_any_request_resumes_to_the_planned_end_state() {
    crash_at_every_request(None).await;
}

/// Crashes after the K-th request, for every K: the request is applied, its answer never
/// comes, and the process is killed with -9 (no cleanup, locks released with the process).
/// `resume` then converges to the planned end state. With a database for state, every resume
/// runs from another working directory, as another runner would.
pub async fn crash_at_every_request(store: Option<&TestPostgres>) {
    let url = store.map(TestPostgres::url);
    // Count the Marketo requests a clean rename makes.
    let total = {
        let sandbox = TestSandbox::start().await;
        let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(url.as_deref());
        work.apply(&["--run-id", "clean"]).run().await.code(0);
        sandbox.requests().await["total"].as_u64().unwrap()
    };
    assert!(total > 20, "{total}");
    eprintln!("crashing at each of {total} requests");
    for k in 0..total {
        let sandbox = TestSandbox::start().await;
        let users = World::of(&sandbox).await.users().len();
        let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(url.as_deref());
        let elsewhere = Workspace::new(&sandbox, RENAME, POLICY).with_state(url.as_deref());
        let runner = if store.is_some() { &elsewhere } else { &work };
        let run_id = format!("crash-{k}");
        sandbox
            .add_fault(
                json!({"path": "/", "action": {"kind": "hang-after"}, "after": k, "times": 1}),
            )
            .await;
        let mut child = work.apply(&["--run-id", &run_id]).spawn();
        assert!(
            wait_for_fault(&sandbox, "hang-after").await,
            "request {k} never hung"
        );
        kill_hard(&mut child).await;
        sandbox.clear_faults().await;
        let resumed = runner
            .relinker(&["resume", &run_id, "--sandbox-operator", "--gate-wait", "0"])
            .run()
            .await;
        let never_recorded = resumed.text().contains(&format!("no run `{run_id}`"))
            || resumed
                .text()
                .contains("state directory `state` does not exist");
        if resumed.code == Some(2) && never_recorded {
            // Killed before the run was recorded (while reading live state): apply again.
            work.apply(&["--run-id", &run_id]).run().await.code(0);
        } else {
            resumed.code(0);
        }
        assert_renamed(&World::of(&sandbox).await, users);
        let invites = sandbox.invites_taken().await;
        assert!(
            invites <= 1,
            "crash at {k}: the temporary user was invited {invites} times"
        );
        let state = match store {
            Some(pg) => pg.dump().await,
            None => work.state_files(),
        };
        assert_no_secrets(&[&resumed.text(), &state]);
    }
}

#[tokio::test]
async fn lost_answers_to_invite_update_and_delete_converge() {
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    for path in [
        "/userservice/*/invite.json",
        "/userservice/*/update.json",
        "/userservice/*/delete.json",
    ] {
        sandbox.add_fault(json!({"method": "POST", "path": path, "action": {"kind": "drop-after"}, "times": 1})).await;
    }
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&[]).run().await.code(0).says("answer lost");
    assert_renamed(&World::of(&sandbox).await, users);
    let mut sent = Vec::new();
    for suffix in ["/invite.json", "/update.json", "/delete.json"] {
        sent.push(sandbox.logged("POST", suffix).await.len());
    }
    assert_eq!(sent, [1, 1, 1], "nothing that took effect was sent twice");
}

#[tokio::test]
async fn a_permanent_failure_before_the_pivot_rolls_back_to_the_original_state() {
    // `sync` is the salesforce-sync service's client id: its identity calls are one at
    // planning, then one before and one after the person acts at each of its two link phases.
    let sync = "5f0e4c1a-1111-4111-8111-000000005f5f";
    for (fault, step) in [
        (
            json!({"method": "POST", "path": "/userservice/*/invite.json", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1}),
            "r0-create-temporary-user",
        ),
        (
            json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1}),
            "r0-update-user",
        ),
        (
            json!({"method": "GET", "path": "/userservice/management/v1/users/jane.doe@acme.example/roles.json", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1}),
            "r0-verify",
        ),
        // A manual step fails when the identity endpoint answers an error that no retry
        // changes just after the person relinked it: the person's change is the run's, and
        // rollback undoes it too. (Refused credentials stop the run instead: see
        // `recovery::a_refused_service_credential_stops_the_run_without_failing_or_rolling_it_back`.)
        (
            json!({"path": "/identity", "client_id": sync, "after": 2, "times": 1, "action": {"kind": "error", "status": 404, "code": "1001", "message": "Invalid value"}}),
            "r0-link-salesforce-sync-to-temporary-user",
        ),
        (
            json!({"path": "/identity", "client_id": sync, "after": 4, "times": 1, "action": {"kind": "error", "status": 404, "code": "1001", "message": "Invalid value"}}),
            "r0-link-salesforce-sync-back",
        ),
    ] {
        let sandbox = TestSandbox::start().await;
        let before = World::of(&sandbox).await.essentials();
        // 603 and other 4xx answers are never retried: failing the request once fails the
        // step, and rollback then runs against a healthy API.
        sandbox.add_fault(fault).await;
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        let ran = work.apply(&[]).run().await;
        ran.code(1)
            .says(&format!("failed at `{step}`"))
            .says("everything the run changed was rolled back");
        if step.contains("link") {
            ran.says(&format!("↺ {step}: undone"));
        }
        assert_eq!(
            World::of(&sandbox).await.essentials(),
            before,
            "{step}: the original state is restored"
        );
        assert_eq!(work.status(&ran.run_id()).await["status"], "rolled back");
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
    let before = World::of(&sandbox).await.essentials();
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&[])
        .run()
        .await
        .code(1)
        .says("failed at `r0-update-user`")
        .says("undo-r0-add-roles-temporary-user");
    let after = World::of(&sandbox).await;
    let temp = after
        .user("relinker-temp@acme.example")
        .expect("a user the run did not create is kept");
    assert_eq!(
        temp["roles"].as_array().map(Vec::len),
        Some(1),
        "only what it had before: {temp}"
    );
    assert_eq!(after.essentials(), before, "the original state is restored");
}

#[tokio::test]
async fn a_rollback_that_cannot_finish_says_so_and_finishes_later() {
    let sandbox = TestSandbox::start().await;
    let before = World::of(&sandbox).await.essentials();
    // The update is refused, so the run rolls back; every delete is refused too, so undoing
    // the temporary user cannot finish.
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 403, "code": "603"}, "times": 1})).await;
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 403, "code": "603"}})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work.apply(&[]).run().await;
    let id = ran.run_id();
    ran.code(1)
        .says("rollback incomplete: undoing `r0-create-temporary-user` failed")
        .says("docs/runbook.md")
        .says(&format!("relinker rollback {id}"));
    assert_eq!(work.status(&id).await["status"], "rollback incomplete");
    // Once the API accepts deletes again, `rollback` finishes the job.
    sandbox.clear_faults().await;
    work.relinker(&["rollback", &id, "--dry-run"])
        .run()
        .await
        .code(0)
        .says("r0-create-temporary-user: delete user `relinker-temp@acme.example`");
    work.relinker(&["rollback", &id, "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

#[tokio::test]
async fn a_second_process_on_the_same_user_exits_3_and_leaves_nothing_behind() {
    second_runner_on_the_same_user(None).await;
}

/// A second process on a run's user is refused (exit 3, naming the run), leaves nothing
/// behind, and sees the first run active; once the first is killed, its locks are gone and
/// the run resumes. With a database for state, the second runner works in another directory.
pub async fn second_runner_on_the_same_user(store: Option<&TestPostgres>) {
    let url = store.map(TestPostgres::url);
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(url.as_deref());
    let elsewhere = Workspace::new(&sandbox, RENAME, POLICY).with_state(url.as_deref());
    let other = if store.is_some() { &elsewhere } else { &work };
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "hang"}, "times": 1})).await;
    let mut first = work.apply(&["--run-id", "first"]).spawn();
    // Wait until the first run holds its locks and is stuck mid-run.
    assert!(wait_for_fault(&sandbox, "hang").await);
    other
        .apply(&["--run-id", "second"])
        .run()
        .await
        .code(3)
        .says("user `jane.doe@acme.example` is locked by another process (run `first`)");
    assert_eq!(
        other.run_ids().await,
        ["first"],
        "the refused apply left no run behind"
    );
    other
        .relinker(&["resume", "first", "--gate-wait", "0"])
        .run()
        .await
        .code(3)
        .says("run `first` is locked by another process");
    other
        .relinker(&["rollback", "first", "--gate-wait", "0"])
        .run()
        .await
        .code(3);
    other
        .relinker(&["abandon", "first", "--reason", "x"])
        .run()
        .await
        .code(3);
    let status = other.relinker(&["status"]).run().await;
    status.code(0).says("first").never_says("second");
    assert_eq!(other.status("first").await["active"], true);
    kill_hard(&mut first).await;
    // The lock died with the process: the run can be resumed now.
    sandbox.clear_faults().await;
    other
        .relinker(&["resume", "first", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0);
}

#[tokio::test]
async fn a_run_pauses_at_a_manual_step_and_resumes_once_it_is_done() {
    pause_then_resume_once_done(None).await;
}

/// The unattended flow: `--gate-wait 0` pauses at a manual step (exit 4), a person acts in the
/// UI (the sandbox's control API), then `resume`. With a database for state, each later
/// command runs from another working directory, as a scheduled job would.
pub async fn pause_then_resume_once_done(store: Option<&TestPostgres>) {
    let url = store.map(TestPostgres::url);
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY).with_state(url.as_deref());
    let elsewhere = Workspace::new(&sandbox, RELINK, POLICY).with_state(url.as_deref());
    let later = if store.is_some() { &elsewhere } else { &work };
    let ran = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    let id = ran.run_id();
    ran.code(4)
        .says("Admin > Integration > LaunchPoint")
        .says(&format!("relinker resume {id}"));
    assert_eq!(later.status(&id).await["status"], "paused");

    // Nobody has done it yet: still paused.
    later
        .relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4);
    sandbox
        .person_links("webinar-bridge", "api.webinar@acme.example")
        .await;
    later
        .relinker(&["resume", "--all", "--gate-wait", "0"])
        .run()
        .await
        .code(0);
    let status = later.status(&id).await;
    assert_eq!(status["status"], "done");
}

#[tokio::test]
async fn a_stale_saved_plan_is_refused() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.relinker(&["plan", "plan.yaml", "--out", "saved.json"])
        .run()
        .await
        .code(0);

    // Live state moves on: someone adds a user.
    sandbox
        .invite_api_user(
            "newcomer@acme.example",
            json!([{"accessRoleId": 110, "workspaceId": 1}]),
        )
        .await;
    let apply_saved = || {
        work.relinker(&[
            "apply",
            "saved.json",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
        ])
    };
    apply_saved()
        .run()
        .await
        .code(2)
        .says("live state changed since the plan was saved")
        .says("addresses now in use: `newcomer@acme.example`");

    // Re-planned, then the plan file is edited.
    work.relinker(&["plan", "plan.yaml", "--out", "saved.json"])
        .run()
        .await
        .code(0);
    let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
    std::fs::write(
        work.path().join("plan.yaml"),
        plan.replace("first_name: Salesforce", "first_name: SFDC"),
    )
    .unwrap();
    apply_saved()
        .run()
        .await
        .code(2)
        .says("the plan file `plan.yaml` changed since the plan was saved (sha256:")
        .never_says("sha256 sha256");
    let changed = sandbox.requests().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["changed_state"] == true)
        .count();
    assert_eq!(changed, 1, "only the test's own invite changed anything");
}

#[tokio::test]
async fn independent_rotations_run_concurrently() {
    let sandbox = TestSandbox::start().await;
    // Slow down the rename: the replace must not wait for it.
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/management/v1/users/jane.doe@acme.example/update.json", "action": {"kind": "latency", "ms": 1000}})).await;
    let work = Workspace::new(&sandbox, &[RENAME, REPLACE, RELINK].join("\n"), POLICY);
    work.apply(&[]).run().await.code(0);
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
    let world = World::of(&sandbox).await;
    assert_eq!(world.linked("webinar-bridge"), "api.webinar@acme.example");
    assert_eq!(world.linked("salesforce-sync"), "jane.doe@acme.example");
}

#[tokio::test]
async fn a_torn_journal_line_after_a_crash_is_reported_and_survived() {
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "hang-after"}, "times": 1})).await;
    let mut child = work.apply(&["--run-id", "torn"]).spawn();
    assert!(wait_for_fault(&sandbox, "hang-after").await);
    kill_hard(&mut child).await;
    // What a crash in the middle of a write leaves behind.
    let journal = work.path().join("state/runs/torn/journal.jsonl");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&journal)
        .unwrap();
    std::io::Write::write_all(&mut file, b"{\"kind\":\"done\",\"step\":\"r0-upd").unwrap();
    drop(file);
    work.relinker(&["resume", "torn", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says("last line was torn by a crash")
        .says("r0-update-user: done (confirmed after an interruption)");
    assert_renamed(&World::of(&sandbox).await, users);
}

#[tokio::test]
async fn prune_removes_old_finished_runs_and_never_an_unfinished_one() {
    prune_keeps_unfinished_runs(None).await;
}

/// `prune` removes old finished runs, never an unfinished one, and a dry run removes nothing.
pub async fn prune_keeps_unfinished_runs(store: Option<&TestPostgres>) {
    let url = store.map(TestPostgres::url);
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(url.as_deref());
    let relink = crate::harness::plan_text(&sandbox.handle.base_url(), RELINK, POLICY)
        .replace("name: acme-rotation", "name: acme-relink");
    std::fs::write(work.path().join("relink.yaml"), relink).unwrap();
    // One run waits for a person (unfinished), one is done.
    let paused = work
        .relinker(&["apply", "relink.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    paused.code(4);
    let done = work.apply(&[]).run().await;
    done.code(0);
    let (paused, done) = (paused.run_id(), done.run_id());
    let mut both = vec![paused.clone(), done.clone()];
    both.sort();

    work.relinker(&["prune", "--older-than", "90d"])
        .run()
        .await
        .code(0)
        .says("removed 0 finished run(s) older than 90d; kept 1 unfinished run(s)");
    work.relinker(&["prune", "--older-than", "0s", "--dry-run"])
        .run()
        .await
        .code(0)
        .says(&format!("would remove run {done} (done)"));
    assert_eq!(work.run_ids().await, both, "a dry run removes nothing");
    work.relinker(&["prune", "--older-than", "0s"])
        .run()
        .await
        .code(0)
        .says(&format!("removed run {done} (done)"))
        .says("kept 1 unfinished run(s), which are never pruned");
    assert_eq!(work.run_ids().await, std::slice::from_ref(&paused));
    if store.is_none() {
        let runs = work.path().join("state/runs");
        assert!(!runs.join(&done).exists());
        assert!(runs.join(&paused).is_dir());
    }
    work.relinker(&["status", &paused]).run().await.code(0);
    work.relinker(&["prune", "--older-than", "soon"])
        .run()
        .await
        .code(2)
        .says("--older-than: `soon` is not a duration");
}
