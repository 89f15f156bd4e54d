//! Crashes at every request under the readings where a run's own work is hardest to see:
//! `api-only-invitations=pending` and `token-scope-after-relink=minted`, with a person (not the
//! sandbox operator) doing the manual steps through the control API between commands, as they
//! would in the UI. Whatever request the process dies at, `resume` converges to the planned
//! end state, the temporary user is invited once and deleted at the end.

use std::time::Duration;

use relinker::sandbox::marketo::SandboxConfig;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use crate::executor::{assert_renamed, kill_hard};
use crate::harness::{ACME, POLICY, RENAME, TestSandbox, Workspace, World, assert_no_secrets};

const TEMP: &str = "relinker-temp@acme.example";
const JANE: &str = "jane.doe@acme.example";

/// How a command ended: its exit code and output, or killed at the armed request.
enum Ended {
    Exited(Option<i32>, String),
    Crashed,
}

/// Runs `args` unattended; while a fault is `armed`, kills the process with -9 once the fault
/// holds a request.
async fn run_or_crash(
    sandbox: &TestSandbox,
    work: &Workspace,
    args: &[&str],
    armed: bool,
) -> Ended {
    let mut child = work.relinker(args).spawn_captured();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut text = String::new();
            for stream in [
                child
                    .stdout
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                child
                    .stderr
                    .take()
                    .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            ]
            .into_iter()
            .flatten()
            {
                let mut stream = stream;
                let _ = stream.read_to_string(&mut text).await;
            }
            return Ended::Exited(status.code(), text);
        }
        let hung = armed
            && sandbox.requests().await["requests"]
                .as_array()
                .is_some_and(|all| all.iter().any(|r| r["fault"] == "hang-after"));
        if hung {
            kill_hard(&mut child).await;
            sandbox.clear_faults().await;
            return Ended::Crashed;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A person does, in the UI, every step the run waits for.
async fn person_acts(sandbox: &TestSandbox, status: &Value) {
    for step in status["steps"].as_array().into_iter().flatten() {
        let asked = step["state"] == "waiting_for_person" || step["state"] == "in_doubt";
        let Some(id) = step["id"].as_str().filter(|_| asked) else {
            continue;
        };
        if id == "r0-create-temporary-user" {
            // Accepting an invitation already accepted is refused: nothing to do then.
            let _ = sandbox
                .http
                .post(sandbox.url(&format!("/_sandbox/invitations/{TEMP}/accept")))
                .send()
                .await;
        }
        for service in ["salesforce-sync", "reporting-export"] {
            if id == format!("r0-link-{service}-to-temporary-user") {
                sandbox.person_links(service, TEMP).await;
            } else if id == format!("r0-link-{service}-back") {
                sandbox.person_links(service, JANE).await;
            }
        }
    }
}

/// Applies the rename and resumes it until it is done, a person acting between commands and
/// time passing on the instance (tokens expire); a crash at the armed request is followed by a
/// resume. Returns every output, and whether the process was killed at the armed request.
async fn drive(sandbox: &TestSandbox, work: &Workspace, run_id: &str) -> (Vec<String>, bool) {
    let apply = [
        "apply",
        "plan.yaml",
        "--yes",
        "--gate-wait",
        "0",
        "--run-id",
        run_id,
    ];
    let resume = ["resume", run_id, "--gate-wait", "0"];
    let mut args: &[&str] = &apply;
    let mut outputs = Vec::new();
    // The fault holds one request, once.
    let mut armed = true;
    for _ in 0..16 {
        match run_or_crash(sandbox, work, args, armed).await {
            Ended::Crashed => {
                armed = false;
                args = &resume;
            }
            Ended::Exited(Some(0), text) => {
                outputs.push(text);
                return (outputs, !armed);
            }
            Ended::Exited(Some(4), text) => {
                outputs.push(text);
                person_acts(sandbox, &work.status(run_id).await).await;
                // The longest the platform may hide a relink: one token lifetime.
                sandbox
                    .control(
                        Method::POST,
                        "/_sandbox/clock",
                        Some(&json!({ "advance_secs": 3600 })),
                    )
                    .await;
                args = &resume;
            }
            // Killed before the run was recorded (while reading live state): apply again.
            Ended::Exited(Some(2), text)
                if text.contains(&format!("no run `{run_id}`"))
                    || text.contains("state directory `state` does not exist") =>
            {
                args = &apply;
            }
            Ended::Exited(code, text) => panic!("{run_id}: exit {code:?}:\n{text}"),
        }
    }
    panic!("{run_id}: never finished:\n{}", outputs.join("\n---\n"));
}

async fn crash_at_every_request_with_a_person(reading: &str) {
    let sandbox_for = || async {
        let config = SandboxConfig {
            behaviours: vec![reading.parse().unwrap()],
            ..SandboxConfig::default()
        };
        TestSandbox::with(ACME, config).await
    };
    // The Marketo requests a clean run makes, a person acting.
    let total = {
        let sandbox = sandbox_for().await;
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        drive(&sandbox, &work, "clean").await;
        sandbox.requests().await["total"].as_u64().unwrap()
    };
    assert!(total > 20, "{reading}: {total}");
    eprintln!("{reading}: crashing at each of {total} requests");
    for k in 0..total {
        let sandbox = sandbox_for().await;
        let users = World::of(&sandbox).await.users().len();
        let work = Workspace::new(&sandbox, RENAME, POLICY);
        sandbox
            .add_fault(
                json!({"path": "/", "action": {"kind": "hang-after"}, "after": k, "times": 1}),
            )
            .await;
        let run_id = format!("crash-{k}");
        let (outputs, crashed) = drive(&sandbox, &work, &run_id).await;
        assert!(crashed, "{reading}: request {k} never hung");
        let world = World::of(&sandbox).await;
        assert_renamed(&world, users);
        let invites = sandbox.invites_taken().await;
        assert!(
            invites <= 1,
            "{reading}, crash at {k}: invited {invites} times"
        );
        let mut texts: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let state = work.state_files();
        texts.push(&state);
        assert_no_secrets(&texts);
    }
}

#[tokio::test]
async fn under_pending_invitations_a_crash_at_any_request_converges_with_a_person() {
    crash_at_every_request_with_a_person("api-only-invitations=pending").await;
}

#[tokio::test]
async fn under_minted_tokens_a_crash_at_any_request_converges_with_a_person() {
    crash_at_every_request_with_a_person("token-scope-after-relink=minted").await;
}
