//! The paths an operator takes when something goes wrong, each on the real binary against a
//! sandbox: a person acting in the UI between runs, faults on a step's every request,
//! rollback and its dry run in every state, the pivot, claims of unsettled runs, saved plans
//! applied from elsewhere, bounded waits. Numbers refer to the items of the recovery issue.

use std::path::Path;

use serde_json::{Value, json};

use crate::executor::assert_renamed;
use crate::harness::{
    ACME, POLICY, RELINK, RENAME, REPLACE, Relinker, TestSandbox, Workspace, World, step,
};
use relinker::sandbox::marketo::SandboxConfig;

const SERVICES: [&str; 2] = ["salesforce-sync", "reporting-export"];

fn refuse(path: &str) -> Value {
    json!({"method": "POST", "path": path, "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}, "times": 1})
}

/// Step ids a run printed with `marker` (`↺` for undone).
fn marked(text: &str, marker: &str) -> Vec<String> {
    let mut ids: Vec<String> = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix(marker))
        .filter_map(|rest| rest.trim().split(':').next())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

/// The step ids `rollback --dry-run` lists.
fn listed(text: &str) -> Vec<String> {
    let is_step = |l: &&str| {
        let mut chars = l.trim().chars();
        chars.next() == Some('r') && chars.next().is_some_and(|c| c.is_ascii_digit())
    };
    let mut ids: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .filter(is_step)
        .filter_map(|l| l.trim().split(':').next())
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

/// Waits until the run's journal shows `needle` (the run is at a known point).
async fn journal_says(work: &Workspace, run_id: &str, needle: &str) {
    let path = work
        .path()
        .join(format!("state/runs/{run_id}/journal.jsonl"));
    for _ in 0..800 {
        if std::fs::read_to_string(&path).is_ok_and(|j| j.contains(needle)) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("the journal never said {needle}");
}

/// A rename whose update is refused, then whose rollback cannot delete the temporary user:
/// the run is left `rollback incomplete`, the faults still in force. Answers its run id.
async fn rollback_left_incomplete(sandbox: &TestSandbox, work: &Workspace) -> String {
    sandbox
        .add_fault(refuse("/userservice/*/update.json"))
        .await;
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 403, "code": "603"}})).await;
    let ran = work.apply(&[]).run().await;
    ran.code(1).says("rollback incomplete");
    ran.run_id()
}

// ---- 1. effects a person made are the run's ----

#[tokio::test]
async fn unattended_links_a_person_made_are_undone_by_rollback() {
    let sandbox = TestSandbox::start().await;
    let before = World::of(&sandbox).await.essentials();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // Unattended: no terminal, no operator. Both services of the phase are asked at once.
    let ran = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    let id = ran.run_id();
    ran.code(4)
        .says("waiting for a person to do 2 steps")
        .says("r0-link-salesforce-sync-to-temporary-user")
        .says("r0-link-reporting-export-to-temporary-user");
    // A person relinks both in the UI; the run goes on to the next pause.
    for service in SERVICES {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
    }
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .says("r0-link-salesforce-sync-back");
    // Now undo it all. The links the person made are the run's effects: rollback asks for
    // them to be made back, as manual steps with the same gate rules.
    let dry = work.relinker(&["rollback", &id, "--dry-run"]).run().await;
    dry.code(0);
    assert!(
        listed(&dry.stdout).contains(&"r0-link-salesforce-sync-to-temporary-user".to_owned()),
        "{}",
        dry.stdout
    );
    // The person was asked to link the services back and the run never saw it: a token
    // minted before that ask cannot show whether they did, so the rollback asks, and the
    // person's word (they did not) stands in for what cannot be observed.
    let rollback = work
        .relinker(&["rollback", &id, "--gate-wait", "0"])
        .run()
        .await;
    rollback
        .code(4)
        .says("rollback waits for a person to do 2 steps")
        .says("minted before the relink this run asked for")
        .says(&format!("Once done: relinker rollback {id}"));
    assert_eq!(work.status(&id).await["status"], "rollback paused");
    for back in [
        "r0-link-salesforce-sync-back",
        "r0-link-reporting-export-back",
    ] {
        work.relinker(&["attest", &id, back, "--by", "Dana Ops"])
            .run()
            .await
            .code(0);
    }
    // Then the links the person made, which the run saw: undone as manual steps.
    let rollback = work
        .relinker(&["rollback", &id, "--gate-wait", "0"])
        .run()
        .await;
    rollback
        .code(4)
        .says("rollback waits for a person to do 2 steps")
        .says("r0-link-salesforce-sync-to-temporary-user");
    for service in SERVICES {
        sandbox.person_links(service, "jane.doe@acme.example").await;
    }
    work.relinker(&["rollback", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(World::of(&sandbox).await.essentials(), before);
    assert_eq!(work.status(&id).await["status"], "rolled back");
}

#[tokio::test]
async fn a_person_who_relinks_both_services_at_once_is_undone_too() {
    let sandbox = TestSandbox::start().await;
    let before = World::of(&sandbox).await.essentials();
    sandbox
        .add_fault(refuse("/userservice/*/update.json"))
        .await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // At a terminal-like wait: the run waits while the person works.
    let run = tokio::spawn(
        work.relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--gate-wait",
            "60s",
            "--run-id",
            "both",
        ])
        .run(),
    );
    journal_says(
        &work,
        "both",
        "\"step\":\"r0-link-reporting-export-to-temporary-user\"",
    )
    .await;
    for service in SERVICES {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
    }
    // The update is refused; rollback asks for both links back.
    journal_says(&work, "both", "undo_intent").await;
    journal_says(
        &work,
        "both",
        "r0-link-reporting-export-to-temporary-user\"}\n{\"at\"",
    )
    .await;
    for service in SERVICES {
        sandbox.person_links(service, "jane.doe@acme.example").await;
    }
    let ran = run.await.unwrap();
    ran.code(1)
        .says("failed at `r0-update-user`")
        .says("everything the run changed was rolled back");
    assert_eq!(
        marked(&ran.stdout, "↺"),
        [
            "r0-create-temporary-user",
            "r0-link-reporting-export-to-temporary-user",
            "r0-link-salesforce-sync-to-temporary-user"
        ]
    );
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

// ---- 2. a change that provably did not happen is sent again ----

#[tokio::test]
async fn a_5xx_or_a_dropped_connection_that_changed_nothing_is_retried() {
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/invite.json", "action": {"kind": "error", "status": 503, "code": "611", "message": "System error"}, "times": 1})).await;
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "drop"}, "times": 1})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&[])
        .run()
        .await
        .code(0)
        .says("did not take effect; sending it again");
    assert_renamed(&World::of(&sandbox).await, users);
    assert_eq!(sandbox.logged("POST", "/invite.json").await.len(), 2);
    assert_eq!(sandbox.logged("POST", "/delete.json").await.len(), 2);
}

#[tokio::test]
async fn an_undo_whose_request_changed_nothing_is_retried() {
    let sandbox = TestSandbox::start().await;
    let before = World::of(&sandbox).await.essentials();
    sandbox
        .add_fault(refuse("/userservice/*/update.json"))
        .await;
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 502, "code": "611"}, "times": 1})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&[])
        .run()
        .await
        .code(1)
        .says("everything the run changed was rolled back")
        .never_says("not created by this run");
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

// ---- 3. rollback finishes when nothing is left to undo ----

#[tokio::test]
async fn rollback_completes_once_live_state_already_shows_the_undo() {
    let sandbox = TestSandbox::start().await;
    let before = World::of(&sandbox).await.essentials();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let id = rollback_left_incomplete(&sandbox, &work).await;
    // An admin deletes the temporary user by hand.
    sandbox.clear_faults().await;
    let token = sandbox.admin_token().await;
    let (status, _) = sandbox
        .post_empty(
            &token,
            "/userservice/management/v1/users/relinker-temp@acme.example/delete.json",
        )
        .await;
    assert_eq!(status, 200);
    let deletes = sandbox.logged("POST", "/delete.json").await.len();
    work.relinker(&["rollback", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says("r0-create-temporary-user: nothing to undo");
    assert_eq!(
        sandbox.logged("POST", "/delete.json").await.len(),
        deletes,
        "nothing was sent for a user that is already gone"
    );
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

// ---- 4. the pivot ----

#[tokio::test]
async fn after_the_pivot_a_verified_rotation_only_rolls_forward() {
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 403, "code": "603"}})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work.apply(&[]).run().await;
    let id = ran.run_id();
    ran.code(1)
        .says("failed at `r0-delete-temporary-user`")
        .says("is not rolled back")
        .says(&format!("relinker resume {id}"))
        .never_says("↺");
    let world = World::of(&sandbox).await;
    assert_eq!(world.linked("salesforce-sync"), "jane.doe@acme.example");
    assert!(world.user("relinker-temp@acme.example").is_some());
    let status = work.status(&id).await;
    assert_eq!(status["status"], "failed");
    assert_eq!(status["failure"]["past_pivot"], true);
    // Rollback and its dry run both stop at the pivot and say so.
    work.relinker(&["rollback", &id, "--dry-run"])
        .run()
        .await
        .code(0)
        .says("past its pivot: `r0-verify` passed");
    work.relinker(&["rollback", &id])
        .run()
        .await
        .code(1)
        .says("past its pivot: `r0-verify` passed");
    sandbox.clear_faults().await;
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} done"));
    assert_renamed(&World::of(&sandbox).await, users);
    // A finished run's rollback stops at the pivot too, in both forms, and sends nothing.
    let changes = sandbox.requests().await["state_changing"].clone();
    work.relinker(&["rollback", &id, "--dry-run"])
        .run()
        .await
        .code(0)
        .says("past its pivot");
    work.relinker(&["rollback", &id])
        .run()
        .await
        .code(1)
        .says("past its pivot")
        .says("undoes nothing");
    assert_eq!(sandbox.requests().await["state_changing"], changes);
    assert_eq!(work.status(&id).await["status"], "done");
}

// ---- 5. resume never reverses a decision ----

#[tokio::test]
async fn resume_continues_an_incomplete_rollback_as_a_rollback() {
    let sandbox = TestSandbox::start().await;
    let before = World::of(&sandbox).await.essentials();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let id = rollback_left_incomplete(&sandbox, &work).await;
    sandbox.clear_faults().await;
    let changes_before = sandbox.requests().await["state_changing"].clone();
    work.relinker(&["resume", "--all", "--gate-wait", "0", "--sandbox-operator"])
        .run()
        .await
        .code(0)
        .says("continuing its rollback")
        .says(&format!("run {id} rolled back"))
        .never_says("r0-update-user: update");
    assert_eq!(World::of(&sandbox).await.essentials(), before);
    assert_ne!(sandbox.requests().await["state_changing"], changes_before);
    // A rolled-back run is never moved again.
    let changes = sandbox.requests().await["state_changing"].clone();
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says("rolled back; there is nothing to resume");
    assert_eq!(sandbox.requests().await["state_changing"], changes);
}

// ---- 6. `rollback --dry-run` lists exactly what `rollback` does, in every state ----

#[tokio::test]
async fn the_dry_run_lists_exactly_what_rollback_undoes() {
    // (state, how to get there)
    for case in ["paused", "failed", "rollback incomplete"] {
        let sandbox = TestSandbox::start().await;
        let before = World::of(&sandbox).await.essentials();
        let work = Workspace::new(
            &sandbox,
            &[RENAME, REPLACE].join("\n"),
            "  on_failure: pause\n  max_deletions: 2",
        );
        let ran = match case {
            "paused" => {
                work.relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
                    .run()
                    .await
            }
            "failed" => {
                sandbox
                    .add_fault(refuse("/userservice/*/update.json"))
                    .await;
                work.apply(&[]).run().await
            }
            _ => {
                sandbox
                    .add_fault(refuse("/userservice/*/update.json"))
                    .await;
                let ran = work.apply(&[]).run().await;
                sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 403, "code": "603"}, "times": 1})).await;
                work.relinker(&[
                    "rollback",
                    &ran.run_id(),
                    "--sandbox-operator",
                    "--gate-wait",
                    "0",
                ])
                .run()
                .await
                .code(1);
                ran
            }
        };
        let id = ran.run_id();
        let status = work.status(&id).await;
        assert_eq!(status["status"], case, "{}", ran.text());
        // The rotations run side by side: whether the replace reached its pivot before the
        // rename's failure stopped it depends on timing, and decides what rollback may undo.
        let replace_verified = status["steps"].as_array().is_some_and(|steps| {
            steps.iter().any(|s| {
                s["id"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("r1-verify"))
                    && (s["state"] == "applied" || s["state"] == "already_satisfied")
            })
        });
        let dry = work.relinker(&["rollback", &id, "--dry-run"]).run().await;
        dry.code(0).says(&format!("relinker rollback {id}"));
        let real = work
            .relinker(&["rollback", &id, "--sandbox-operator", "--gate-wait", "0"])
            .run()
            .await;
        real.code(0);
        assert_eq!(
            listed(&dry.stdout),
            marked(&real.stdout, "↺"),
            "{case}: the dry run lists what rollback undid\n--- dry run\n{}\n--- rollback\n{}",
            dry.stdout,
            real.stdout
        );
        let world = World::of(&sandbox).await;
        if case == "paused" {
            assert_eq!(world.essentials(), before, "{case}");
        } else {
            // The rename is undone; the replace is kept once verified, else undone too.
            assert_eq!(world.linked("salesforce-sync"), "jane.doe@acme.example");
            assert!(world.user("relinker-temp@acme.example").is_none(), "{case}");
            let crm = if replace_verified {
                "api.crm@acme.example"
            } else {
                "bob@acme.example"
            };
            assert_eq!(world.linked("crm-connector"), crm, "{case}");
        }
        // Rolled back: both say there is nothing more to do.
        work.relinker(&["rollback", &id, "--dry-run"])
            .run()
            .await
            .code(0)
            .says("already rolled back");
        work.relinker(&["rollback", &id])
            .run()
            .await
            .code(0)
            .says("already rolled back");
    }
}

// ---- 7. status tells the truth ----

#[tokio::test]
async fn status_shows_one_state_times_and_no_stale_notes() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    let ran = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    ran.code(4);
    let id = ran.run_id();
    let status = work.status(&id).await;
    assert_eq!(status["status"], "paused");
    for field in ["started_at", "last_activity_at", "paused_since"] {
        let at = status[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field}: {status}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
            "{field} = {at}"
        );
    }
    assert_eq!(status["waiting"][0]["step"], "r0-link-webinar-bridge");
    assert_eq!(
        status["next"]
            .as_str()
            .map(|n| n.contains(&format!("relinker resume {id}"))),
        Some(true)
    );
    let list = work.relinker(&["status"]).run().await;
    list.code(0)
        .says("STARTED")
        .says("LAST ACTIVITY")
        .says("PAUSED SINCE")
        .says("waiting for a person");
    sandbox
        .person_links("webinar-bridge", "api.webinar@acme.example")
        .await;
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0);
    let status = work.status(&id).await;
    assert_eq!(status["status"], "done");
    assert_eq!(status["waiting"], json!([]), "no stale pause");
    assert_eq!(status["paused_since"], Value::Null);
    assert_eq!(status["failure"], Value::Null);
    assert_eq!(status["next"], Value::Null);
    let journal =
        std::fs::read_to_string(work.path().join(format!("state/runs/{id}/journal.jsonl")))
            .unwrap();
    for line in journal.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        let at = record["at"]
            .as_str()
            .unwrap_or_else(|| panic!("no time: {line}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(at).is_ok() && at.ends_with('Z'),
            "{line}"
        );
    }
    let detail = work.relinker(&["status", &id]).run().await;
    detail
        .code(0)
        .says(&format!("run {id}: done"))
        .says("started")
        .never_says("note:");
}

// ---- 8. a finished plan plans as "no changes" ----

#[tokio::test]
async fn a_finished_plan_plans_and_applies_as_no_changes() {
    let sandbox = TestSandbox::start().await;
    for rotation in [RENAME, REPLACE, RELINK] {
        let work = Workspace::new(&sandbox, rotation, POLICY);
        work.apply(&[]).run().await.code(0);
        work.relinker(&["plan", "plan.yaml", "--detailed-exitcode"])
            .run()
            .await
            .code(0)
            .says("nothing to change");
        let changes = sandbox.requests().await["state_changing"].clone();
        let runs = work.run_dirs();
        work.apply(&[])
            .run()
            .await
            .code(0)
            .says("nothing to change: every rotation already holds");
        assert_eq!(sandbox.requests().await["state_changing"], changes);
        assert_eq!(work.run_dirs(), runs, "no run was started");
    }
}

// ---- 9. saved plans are tamper-evident ----

#[tokio::test]
async fn an_edited_saved_plan_is_refused_before_anything_is_sent() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, REPLACE, POLICY);
    work.relinker(&["plan", "plan.yaml", "--out", "saved.json"])
        .run()
        .await
        .code(0);
    let path = work.path().join("saved.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen(
        "\"op\": \"delete_user\",\n          \"user\": \"bob@acme.example\"",
        "\"op\": \"delete_user\",\n          \"user\": \"carol@acme.example\"",
        1,
    );
    assert_ne!(edited, text, "test bug: the delete step was not found");
    std::fs::write(&path, edited).unwrap();
    work.relinker(&[
        "apply",
        "saved.json",
        "--yes",
        "--sandbox-operator",
        "--gate-wait",
        "0",
    ])
    .run()
    .await
    .code(2)
    .says("step `r0-delete-old-user`")
    .says("carol@acme.example")
    .says("nothing was sent");
    assert_eq!(sandbox.requests().await["state_changing"], 0);
    assert!(
        World::of(&sandbox)
            .await
            .user("carol@acme.example")
            .is_some()
    );
}

// ---- 10. saved plans work from any directory ----

#[tokio::test]
async fn a_saved_plan_applies_from_any_directory() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    let ops = work.path().join("ops");
    std::fs::create_dir(&ops).unwrap();
    std::fs::rename(work.path().join("plan.yaml"), ops.join("x.yaml")).unwrap();
    std::fs::rename(work.path().join("crm.secret"), ops.join("crm.secret")).unwrap();
    work.relinker(&["plan", "ops/x.yaml", "--out", "ops/x.saved.json"])
        .run()
        .await
        .code(0);
    // From the folder the saved plan is in, and from the repository root.
    Relinker::new(&["apply", "x.saved.json", "--dry-run"])
        .current_dir(&ops)
        .run()
        .await
        .code(0);
    work.relinker(&[
        "apply",
        "ops/x.saved.json",
        "--yes",
        "--sandbox-operator",
        "--gate-wait",
        "0",
    ])
    .run()
    .await
    .code(0);
    assert_eq!(
        World::of(&sandbox).await.linked("webinar-bridge"),
        "api.webinar@acme.example"
    );
}

// ---- 11, 12. one owner of a run; unsettled runs keep their claims ----

/// `plan.yaml` applied unattended as run `id`, paused at its first manual step.
async fn paused_run(work: &Workspace, id: &str) {
    work.relinker(&[
        "apply",
        "plan.yaml",
        "--yes",
        "--gate-wait",
        "0",
        "--run-id",
        id,
    ])
    .run()
    .await
    .code(4);
}

/// A service's credential Marketo refuses (a wrong value behind the plan's reference) says
/// nothing about the step the run waits on: the run stops where it is, nothing is marked
/// failed or rolled back, and once the value is right again `resume` goes on (walk
/// `marketo-minted` seed 7, where such a refusal rolled the run back on stale evidence).
#[tokio::test]
async fn a_refused_service_credential_stops_the_run_without_failing_or_rolling_it_back() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    paused_run(&work, "first").await;
    work.relinker(&["resume", "first", "--gate-wait", "1s"])
        .env("T_WEB_SECRET", "sandbox-secret-wrong-0000")
        .run()
        .await
        .code(1)
        .says("refused the credentials of service `webinar-bridge`")
        .says("nothing was marked failed or rolled back")
        .says("relinker resume first")
        .never_says("rolling back")
        .never_says("sandbox-secret-wrong-0000");
    let status = work.status("first").await;
    assert_eq!(status["status"], "paused", "{status}");
    assert_eq!(
        step(&status, "r0-link-webinar-bridge")["state"],
        "waiting_for_person"
    );
    sandbox
        .person_links("webinar-bridge", "api.webinar@acme.example")
        .await;
    work.relinker(&["resume", "first", "--gate-wait", "5s"])
        .run()
        .await
        .code(0)
        .says("done");
}

/// A person did what a paused run asked; the plan applied again finds nothing to change, but
/// the paused run still holds its users and may yet be rolled back: that is said, not "nothing
/// to change" (walk `marketo-minted` seed 17, where a rollback then undid what was seen).
#[tokio::test]
async fn nothing_to_change_is_not_said_while_an_unsettled_run_holds_the_users() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    paused_run(&work, "first").await;
    sandbox
        .person_links("webinar-bridge", "api.webinar@acme.example")
        .await;
    work.relinker(&["apply", "plan.yaml", "--yes", "--run-id", "second"])
        .run()
        .await
        .code(3)
        .says("is claimed by run `first`, which is paused")
        .never_says("nothing to change: every rotation already holds");
    assert_eq!(work.run_dirs(), ["first"], "no second run was started");
}

#[tokio::test]
async fn an_unsettled_run_keeps_its_claim_until_a_person_abandons_it() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    paused_run(&work, "first").await;
    // Another plan touching the same user, in another file.
    std::fs::copy(
        work.path().join("plan.yaml"),
        work.path().join("again.yaml"),
    )
    .unwrap();
    work.relinker(&[
        "apply",
        "again.yaml",
        "--yes",
        "--gate-wait",
        "0",
        "--run-id",
        "second",
    ])
    .run()
    .await
    .code(3)
    .says("is claimed by run `first`, which is paused")
    .says("relinker abandon first");
    assert_eq!(
        work.run_dirs(),
        ["first"],
        "nothing is left of the refused apply"
    );
    work.relinker(&[
        "abandon",
        "first",
        "--reason",
        "done by hand in the UI",
        "--by",
        "maria",
    ])
    .run()
    .await
    .code(0)
    .says("abandoned by maria");
    let status = work.status("first").await;
    assert_eq!(status["status"], "abandoned");
    assert_eq!(status["abandoned"]["reason"], "done by hand in the UI");
    work.relinker(&["resume", "first"])
        .run()
        .await
        .code(0)
        .says("abandoned; there is nothing to resume");
    // The next plan reads the link from a token minted after the abandoned run's ask.
    sandbox.time_passes(3600).await;
    work.relinker(&[
        "apply",
        "again.yaml",
        "--yes",
        "--sandbox-operator",
        "--gate-wait",
        "0",
        "--run-id",
        "second",
    ])
    .run()
    .await
    .code(0);
}

// ---- 13, 14. run ids and state directories are checked where they enter ----

#[tokio::test]
async fn run_ids_and_state_directories_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    for args in [
        vec!["resume", "../x"],
        vec!["rollback", "/etc"],
        vec!["status", "../../x"],
        vec!["abandon", "a/b", "--reason", "x"],
        vec!["rollback", ".hidden", "--dry-run"],
    ] {
        Relinker::new(&args)
            .current_dir(dir.path())
            .env("RELINKER_STATE_DIR", &state)
            .run()
            .await
            .code(2)
            .says("is not a run id");
    }
    // A state directory that is a file, or missing where runs are expected.
    std::fs::write(dir.path().join("file"), "").unwrap();
    for (state_dir, args, problem) in [
        ("file", vec!["status"], "is not a directory"),
        ("file", vec!["resume", "--all"], "is not a directory"),
        ("missing", vec!["status"], "does not exist"),
        ("missing", vec!["resume", "--all"], "does not exist"),
    ] {
        Relinker::new(&args)
            .current_dir(dir.path())
            .env("RELINKER_STATE_DIR", state_dir)
            .run()
            .await
            .code(2)
            .says(&format!("state directory `{state_dir}` {problem}"));
    }
}

/// Every path under `path` with its permission bits.
#[cfg(unix)]
fn modes(path: &Path, out: &mut Vec<(std::path::PathBuf, u32)>) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    out.push((path.to_path_buf(), mode));
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap().flatten() {
            modes(&entry.path(), out);
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn state_is_private_to_its_owner() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    work.apply(&[]).run().await.code(0);
    let mut found = Vec::new();
    modes(&work.path().join("state"), &mut found);
    assert!(found.len() > 5, "{found:?}");
    for (path, mode) in found {
        let expected = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(mode, expected, "{}", path.display());
    }
}

// ---- 15. bounded waiting ----

/// A server that answers every request with 503 for half a second and then stops listening:
/// a platform that answered this command before and went away, as in a restart.
fn answers_then_goes_away() -> std::net::SocketAddr {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let until = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while std::time::Instant::now() < until {
            let Ok((mut stream, _)) = listener.accept() else {
                std::thread::sleep(std::time::Duration::from_millis(5));
                continue;
            };
            stream.set_nonblocking(false).unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let _ = stream.write_all(
                b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
        }
        // The listener is dropped: from now on, connections are refused.
    });
    address
}

fn plan_at(dir: &Path, base_url: &str, sandbox_section: bool) {
    let mut text = crate::harness::plan_text(base_url, RELINK, POLICY);
    if sandbox_section {
        text.push_str("sandbox:\n  fixture: acme.yaml\n");
    }
    std::fs::write(dir.join("plan.yaml"), text).unwrap();
    std::fs::write(dir.join("crm.secret"), "x").unwrap();
}

#[tokio::test]
async fn an_instance_that_answered_and_went_away_is_given_up_on_in_bounded_time_saying_why() {
    let gone = answers_then_goes_away();
    let dir = tempfile::tempdir().unwrap();
    plan_at(dir.path(), &format!("http://{gone}"), false);
    let ran = tokio::time::timeout(
        std::time::Duration::from_mins(2),
        Relinker::new(&["plan", "plan.yaml", "--give-up-after", "2s"])
            .current_dir(dir.path())
            .run(),
    )
    .await
    .expect("relinker gave up on its own");
    ran.code(1)
        .says("before trying GET /userservice/management/v1/users/")
        .says("could not connect")
        .says("giving up on");
}

/// Retries are for a platform that answered before: a host nothing listens on is named at
/// once, with the plan field its address comes from, and `--sandbox` when the plan has one.
#[tokio::test]
async fn a_host_that_never_answers_fails_at_once_naming_it_and_the_field() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    plan_at(dir.path(), &format!("http://{closed}"), true);
    // The default give-up (60 s) is not waited out: the test's bound is well below it.
    let ran = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        Relinker::new(&["plan", "plan.yaml"])
            .current_dir(dir.path())
            .run(),
    )
    .await
    .expect("relinker did not retry a host that never answered");
    ran.code(1)
        .says(&format!(
            "cannot read live state: Marketo at `http://{closed}` does not answer: nothing listens there (connection refused)"
        ))
        .says("`instance.base_url`")
        .says("did you mean `--sandbox`")
        .never_says("waiting");
    plan_at(dir.path(), &format!("http://{closed}"), false);
    Relinker::new(&["plan", "plan.yaml"])
        .current_dir(dir.path())
        .run()
        .await
        .code(1)
        .says("does not answer")
        .never_says("--sandbox");
}

/// The instance is down when the hourly resume comes: it says so at once, and the run stays
/// as it was, for the next resume (nothing rolled back, nothing marked failed).
#[tokio::test]
async fn a_resume_while_the_instance_is_down_keeps_the_run_resumable() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    let run_id = work
        .relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .run_id();
    let before = work.status(&run_id).await;
    drop(sandbox);
    work.relinker(&["resume", "--all", "--gate-wait", "0"])
        .run()
        .await
        .code(1)
        .says("does not answer: nothing listens there")
        .says("nothing was marked failed or rolled back")
        .says(&format!("`relinker resume {run_id}` goes on from there"));
    let after = work.status(&run_id).await;
    assert_eq!(after["status"], before["status"], "{after:#}");
    for (was, is) in before["steps"]
        .as_array()
        .unwrap()
        .iter()
        .zip(after["steps"].as_array().unwrap())
    {
        assert_eq!(was["state"], is["state"], "{after:#}");
    }
}

/// A platform that only ever says "not now" (a server error on every attempt, or a change
/// whose answer is lost each time) until the retry budget is spent has refused nothing: the
/// run stops where it is instead of rolling back into the same outage, and goes on once the
/// platform is well.
#[tokio::test]
async fn a_platform_that_only_says_not_now_stops_the_run_and_rolls_nothing_back() {
    for action in [
        json!({"kind": "error", "status": 503, "code": "611", "message": "System error"}),
        json!({"kind": "drop"}),
    ] {
        let sandbox = TestSandbox::start().await;
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        sandbox
            .add_fault(
                json!({"method": "POST", "path": "/userservice/*/invite.json", "action": action}),
            )
            .await;
        let stopped = work
            .relinker(&[
                "apply",
                "plan.yaml",
                "--yes",
                "--gate-wait",
                "0",
                "--give-up-after",
                "2s",
            ])
            .run()
            .await;
        stopped
            .code(1)
            .says("stopped at step `r0-create-temporary-user`")
            .says("nothing was marked failed or rolled back")
            .never_says("rolling back");
        let id = stopped.run_id();
        let status = work.status(&id).await;
        assert_eq!(status["status"], "interrupted", "{action}: {status:#}");
        assert!(status["failure"].is_null(), "{status:#}");
        // The platform is well again: the run goes on to its first person.
        sandbox
            .control(reqwest::Method::DELETE, "/_sandbox/faults", None)
            .await;
        work.relinker(&["resume", &id, "--gate-wait", "0"])
            .run()
            .await
            .code(4);
        assert!(
            World::of(&sandbox)
                .await
                .user("relinker-temp@acme.example")
                .is_some(),
            "{action}: the temporary user was made once the platform answered"
        );
    }
}

#[tokio::test]
async fn retries_never_nest_and_a_rate_limited_call_waits_a_whole_window() {
    let sandbox = TestSandbox::with(
        ACME,
        SandboxConfig {
            rate_limit: "100/1s".parse().unwrap(),
            ..SandboxConfig::default()
        },
    )
    .await;
    // Every identity call fails: each attempt of the read mints once, and nothing else retries.
    sandbox
        .add_fault(
            json!({"path": "/identity", "action": {"kind": "error", "status": 503, "code": "608"}}),
        )
        .await;
    let dir = tempfile::tempdir().unwrap();
    let plan = crate::harness::plan_text(&sandbox.handle.base_url(), RELINK, POLICY).replace(
        "client_secret: ${env:T_ADMIN_SECRET}",
        "client_secret: ${env:T_ADMIN_SECRET}\n  limits: { rate: 100/1s }",
    );
    std::fs::write(dir.path().join("plan.yaml"), plan).unwrap();
    std::fs::write(dir.path().join("crm.secret"), "x").unwrap();
    let ran = Relinker::new(&["plan", "plan.yaml", "--give-up-after", "2s"])
        .current_dir(dir.path())
        .run()
        .await;
    ran.code(1);
    let waits = ran.stderr.matches("before trying").count();
    let attempts = sandbox.logged("GET", "/identity/oauth/token").await.len();
    assert!(waits >= 1, "{}", ran.stderr);
    // The plan's reads run concurrently, each with its own budget: every attempt is one
    // identity call, and each wait is announced once.
    assert!(
        attempts <= waits + 8,
        "{attempts} identity calls for {waits} waits: retries nested\n{}",
        ran.stderr
    );

    // A 606 waits out the rate window, even when the budget is shorter than the window.
    sandbox.clear_faults().await;
    sandbox.add_fault(json!({"path": "/userservice/management/v1/users/allusers.json", "action": {"kind": "error", "status": 429, "code": "606"}, "times": 1})).await;
    let ran = Relinker::new(&["plan", "plan.yaml", "--give-up-after", "100ms"])
        .current_dir(dir.path())
        .run()
        .await;
    ran.code(0).says(
        "waiting 1.1 s before trying GET /userservice/management/v1/users/allusers.json again",
    );
    let listing = sandbox.logged("GET", "/users/allusers.json").await;
    let at = |r: &Value| r["at_ms"].as_u64().unwrap();
    assert_eq!(listing.len(), 2, "{listing:?}");
    assert!(
        at(&listing[1]) - at(&listing[0]) >= 1000,
        "the retry came {} ms after the 606",
        at(&listing[1]) - at(&listing[0])
    );
}

// ---- one case-folding rule ----

#[tokio::test]
async fn a_plan_may_spell_a_user_in_another_case() {
    let fixture = ACME.replace("jane.doe@acme.example", "jörg@acme.example");
    let sandbox = TestSandbox::with(&fixture, SandboxConfig::default()).await;
    let work = Workspace::new(
        &sandbox,
        &RENAME.replace("jane.doe@acme.example", "JÖRG@acme.example"),
        POLICY,
    );
    work.apply(&[]).run().await.code(0).never_says("conflict");
    let world = World::of(&sandbox).await;
    assert_eq!(world.linked("salesforce-sync"), "jörg@acme.example");
    assert_eq!(
        world.user("jörg@acme.example").unwrap()["emailAddress"],
        "api.salesforce@acme.example"
    );
}

#[tokio::test]
async fn ctrl_c_stops_a_run_safely_and_says_how_to_go_on() {
    // Ctrl-C at a terminal, and the SIGTERM a Kubernetes deadline or eviction sends.
    for (signal, code, said) in [
        ("INT", 130, "interrupted"),
        ("TERM", 143, "stopped by SIGTERM"),
    ] {
        let sandbox = TestSandbox::start().await;
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        let run = format!("stop-{}", signal.to_lowercase());
        // Waiting for a person at a gate, when the signal comes.
        let child = work
            .relinker(&[
                "apply",
                "plan.yaml",
                "--yes",
                "--gate-wait",
                "5m",
                "--run-id",
                &run,
            ])
            .spawn_captured();
        journal_says(
            &work,
            &run,
            "\"intent\",\"step\":\"r0-link-reporting-export-to-temporary-user\"",
        )
        .await;
        let pid = child.id().expect("pid").to_string();
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill");
        assert!(status.success());
        let output = child.wait_with_output().await.expect("exit");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "run {run} {said}; nothing is lost: `relinker resume {run}` goes on"
            )),
            "{stderr}"
        );
        // It goes on from where it stopped.
        work.relinker(&["resume", &run, "--sandbox-operator", "--gate-wait", "0"])
            .run()
            .await
            .code(0)
            .says(&format!("run {run} done"));
    }
}
