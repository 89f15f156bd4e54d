//! What a scheduled job (a CronJob running `relinker resume --all` every hour) needs: a run
//! another runner works on is left to it, a rehearsal that stopped short never blocks or fails
//! anything real, and the exit code of many runs says the worst that happened.

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace};

#[tokio::test]
async fn resume_all_leaves_a_run_another_runner_holds_to_it() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // A person's terminal holds this run while it waits at a gate.
    let mut holder = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--gate-wait",
            "5m",
            "--run-id",
            "held",
        ])
        .spawn();
    let mut waiting = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let status = work
            .relinker(&["status", "held", "--format", "json"])
            .run()
            .await;
        if status.stdout.contains("\"active\": true") && status.stdout.contains("\"in_doubt\"") {
            waiting = true;
            break;
        }
    }
    assert!(waiting, "the run never reached its gate");
    work.relinker(&["resume", "--all", "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says("run held: held by another runner; left for it");
    // Asked for by name, it is another matter: exit 3, naming the lock.
    work.relinker(&["resume", "held", "--gate-wait", "0"])
        .run()
        .await
        .code(3);
    crate::executor::kill_hard(&mut holder).await;
}

#[tokio::test]
async fn a_rehearsal_that_stopped_short_never_blocks_or_fails_a_schedule() {
    let work = Workspace::with_files(
        &std::fs::read_to_string("plans/examples/rename-api-user.yaml").unwrap(),
        &[],
    );
    std::fs::create_dir_all(work.path().join("plans/fixtures")).unwrap();
    std::fs::copy(
        "plans/fixtures/acme.yaml",
        work.path().join("plans/fixtures/acme.yaml"),
    )
    .unwrap();
    let plan = std::fs::read_to_string(work.path().join("plan.yaml"))
        .unwrap()
        .replace("../fixtures/acme.yaml", "plans/fixtures/acme.yaml");
    std::fs::write(work.path().join("plan.yaml"), plan).unwrap();
    let rehearsal = work
        .relinker(&["apply", "plan.yaml", "--sandbox", "--run-id", "rehearsal"])
        .run()
        .await;
    rehearsal.code(0);
    // As if killed halfway: the journal ends after its first records (a prefix of its chain).
    let journal = work.path().join("state/runs/rehearsal/journal.jsonl");
    let text = std::fs::read_to_string(&journal).unwrap();
    let half: Vec<&str> = text.lines().take(4).collect();
    std::fs::write(&journal, format!("{}\n", half.join("\n"))).unwrap();

    let status = work.status("rehearsal").await;
    assert_eq!(status["status"], "rehearsal ended", "{status}");
    assert_eq!(status["rehearsal"], true);
    work.relinker(&["resume", "--all", "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .never_says("rehearsal");

    // Its users are free for a real run on a standalone instance.
    let sandbox = TestSandbox::start().await;
    let real = crate::harness::plan_text(&sandbox.handle.base_url(), RENAME, POLICY)
        .replace("name: acme-rotation", "name: rename-jane-api-user");
    std::fs::write(work.path().join("real.yaml"), real).unwrap();
    std::fs::write(work.path().join("crm.secret"), "sandbox-secret-crm-Lw45\n").unwrap();
    work.relinker(&["apply", "real.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .never_says("claimed by run `rehearsal`");

    // And it is prunable, unfinished as it is.
    work.relinker(&["prune", "--older-than", "0s"])
        .run()
        .await
        .code(0);
    assert!(
        !work.path().join("state/runs/rehearsal").exists(),
        "the rehearsal was pruned"
    );
}

/// Several runs end with the worst of them, in the order a scheduler must hear it: a failure
/// is never hidden behind a run that waits for a person.
#[tokio::test]
async fn the_worst_of_several_runs_is_the_exit_code() {
    let sandbox = TestSandbox::start().await;
    // A rename whose update Marketo keeps refusing, left as it is (`on_failure: pause`).
    let failing = Workspace::new(&sandbox, RENAME, "  on_failure: pause\n  max_deletions: 2");
    sandbox
        .add_fault(serde_json::json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 400, "code": "1001", "message": "Invalid value"}}))
        .await;
    failing
        .apply(&["--run-id", "failing"])
        .run()
        .await
        .code(1)
        .says("failed at `r0-update-user`");
    // A relink in the same state directory, paused at its manual step.
    std::fs::write(
        failing.path().join("relink.yaml"),
        crate::harness::plan_text(&sandbox.handle.base_url(), crate::harness::RELINK, POLICY),
    )
    .unwrap();
    failing
        .relinker(&[
            "apply",
            "relink.yaml",
            "--yes",
            "--gate-wait",
            "0",
            "--run-id",
            "waiting",
        ])
        .run()
        .await
        .code(4);
    failing
        .relinker(&["resume", "--all", "--gate-wait", "0"])
        .run()
        .await
        .code(1)
        .says("failed at `r0-update-user`")
        .says("r0-link-webinar-bridge");
}
