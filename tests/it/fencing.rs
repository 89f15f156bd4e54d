//! Fencing: a runner that lost its run (its database session died, or its lock file was
//! replaced) while a request hung stops before it sends anything more, even after another
//! runner resumed and finished the run; it exits 1 naming `relinker resume`.

use std::time::Duration;

use serde_json::json;

use crate::executor::{assert_renamed, wait_for_fault};
use crate::harness::{POLICY, RELINK, RENAME, TestSandbox, USERS, Workspace, World};
use crate::pg::TestPostgres;

/// How the first runner loses its session.
#[derive(Debug, Clone, Copy)]
enum Loss {
    /// The database restarts: every connection dies with it.
    Restart,
    /// Only the connection holding the run's advisory locks is terminated; the runner's
    /// other connection lives on.
    Terminate,
}

/// The invitation of the temporary user hangs; meanwhile the first runner's session dies, a
/// second runner resumes the run and finishes it (deleting the temporary user at the end);
/// then the hang ends. The first runner must not invite the user again: one invitation from
/// each runner, no extra user, and exit 1 naming `relinker resume`.
async fn lost_while_a_request_hangs(pg: &mut TestPostgres, loss: Loss) {
    let url = pg.url();
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(Some(&url));
    let elsewhere = Workspace::new(&sandbox, RENAME, POLICY).with_state(Some(&url));
    sandbox
        .add_fault(json!({"method": "POST", "path": format!("{USERS}/invite.json"), "action": {"kind": "hang"}, "times": 1}))
        .await;
    let first = work.apply(&["--run-id", "fenced"]).spawn_captured();
    assert!(wait_for_fault(&sandbox, "hang").await);
    match loss {
        Loss::Restart => {
            pg.stop();
            pg.restart().await;
        }
        Loss::Terminate => {
            let held = "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted";
            let terminated = pg
                .query(&format!(
                    "SELECT pg_terminate_backend(pid) FROM ({held}) AS holders"
                ))
                .await;
            assert!(!terminated.is_empty(), "the first runner held no lock");
            let mut waited = 0;
            while !pg.query(held).await.is_empty() {
                waited += 1;
                assert!(waited < 200, "the terminated session kept its locks");
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }
    }
    elsewhere
        .relinker(&["resume", "fenced", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0);
    assert_renamed(&World::of(&sandbox).await, users);

    sandbox.release_hangs().await;
    let out = first.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        sandbox.logged("POST", "/invite.json").await.len(),
        2,
        "one invitation from each runner, none more: {stderr}"
    );
    assert_renamed(&World::of(&sandbox).await, users);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lost the lock on run `fenced`"), "{stderr}");
    assert!(stderr.contains("relinker resume fenced"), "{stderr}");
    assert_eq!(elsewhere.status("fenced").await["status"], "done");
}

#[tokio::test]
async fn on_postgres_a_runner_whose_database_restarted_mid_request_stops_before_sending_again() {
    let Some(mut pg) = TestPostgres::start().await else {
        return;
    };
    lost_while_a_request_hangs(&mut pg, Loss::Restart).await;
}

#[tokio::test]
async fn on_postgres_a_runner_whose_lock_connection_was_terminated_stops_before_sending_again() {
    let Some(mut pg) = TestPostgres::start().await else {
        return;
    };
    lost_while_a_request_hangs(&mut pg, Loss::Terminate).await;
}

/// The local store: the run's lock file is replaced (as a clean-up of "stale" locks would)
/// while the invitation hangs. Once the hang ends, the runner sends nothing more and appends
/// nothing more; `resume` then finishes the run with one more invitation.
#[tokio::test]
async fn a_runner_whose_lock_file_was_replaced_stops_before_sending_again() {
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    sandbox
        .add_fault(json!({"method": "POST", "path": format!("{USERS}/invite.json"), "action": {"kind": "hang"}, "times": 1}))
        .await;
    let first = work.apply(&["--run-id", "fenced"]).spawn_captured();
    assert!(wait_for_fault(&sandbox, "hang").await);
    let lock = work.path().join("state/locks/run-fenced.lock");
    let journal = work.path().join("state/runs/fenced/journal.jsonl");
    let before = std::fs::read_to_string(&journal).unwrap();
    let fresh = work.path().join("state/locks/.fresh");
    std::fs::write(&fresh, "").unwrap();
    std::fs::rename(&fresh, &lock).unwrap();

    sandbox.release_hangs().await;
    let out = first.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        sandbox.logged("POST", "/invite.json").await.len(),
        1,
        "nothing was sent again: {stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(&journal).unwrap(),
        before,
        "nothing was appended after the lock was lost"
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lost the lock on run `fenced`"), "{stderr}");
    assert!(stderr.contains("relinker resume fenced"), "{stderr}");

    work.relinker(&["resume", "fenced", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0);
    assert_renamed(&World::of(&sandbox).await, users);
    assert_eq!(sandbox.logged("POST", "/invite.json").await.len(), 2);
}

/// Two rotations: one loses the run's lock while its request hangs, the other waits at a
/// manual gate (for ten minutes, no one playing the person). The runner stops at once, gate
/// and all, rather than when the other rotation next tries to record something.
#[tokio::test]
async fn a_lost_lock_stops_every_rotation_at_once() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, &format!("{RENAME}\n{RELINK}"), POLICY);
    sandbox
        .add_fault(json!({"method": "POST", "path": format!("{USERS}/invite.json"), "action": {"kind": "hang"}, "times": 1}))
        .await;
    let first = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--gate-wait",
            "10m",
            "--run-id",
            "fenced",
        ])
        .spawn_captured();
    assert!(wait_for_fault(&sandbox, "hang").await);
    let lock = work.path().join("state/locks/run-fenced.lock");
    std::fs::remove_file(&lock).unwrap();
    sandbox.release_hangs().await;
    let out = tokio::time::timeout(Duration::from_secs(30), first.wait_with_output())
        .await
        .expect("the runner stopped without waiting out the other rotation's gate")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("was removed"), "{stderr}");
    assert!(stderr.contains("relinker resume fenced"), "{stderr}");
    assert_eq!(sandbox.logged("POST", "/invite.json").await.len(), 1);
}
