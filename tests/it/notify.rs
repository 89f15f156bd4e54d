//! `--notify`: a webhook hears when a run pauses for a person, fails, rolls back or finishes,
//! in a body a Slack incoming webhook accepts, with no secret in it. A receiver that is down
//! never fails the run.

use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};

use crate::harness::{ENV, POLICY, RENAME, TestSandbox, Workspace};

/// A local webhook receiver on 127.0.0.1:0 that keeps every body; stopped when dropped.
pub(crate) struct Receiver {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub(crate) async fn start(status: StatusCode) -> Self {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route(
                "/hooks/T000/B000/secret-token",
                post(
                    |State((bodies, status)): State<(Arc<Mutex<Vec<Value>>>, StatusCode)>,
                     Json(body): Json<Value>| async move {
                        bodies.lock().unwrap().push(body);
                        status
                    },
                ),
            )
            .with_state((bodies.clone(), status));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/T000/B000/secret-token",
            listener.local_addr().unwrap()
        );
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, bodies, task }
    }

    pub(crate) fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// No secret of the plan, nor the webhook's URL, in what went out or was printed.
fn no_secrets(text: &str) {
    for (_, secret) in ENV {
        assert!(!text.contains(secret), "a secret leaked: {text}");
    }
    assert!(
        !text.contains("secret-token"),
        "the webhook URL leaked: {text}"
    );
}

#[tokio::test]
async fn the_unattended_flow_notifies_each_pause_and_the_end() {
    let sandbox = TestSandbox::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let notify = ["--notify", "${env:HOOK}"];
    let ran = work
        .relinker(
            &[
                &["apply", "plan.yaml", "--yes", "--gate-wait", "0"][..],
                &notify,
            ]
            .concat(),
        )
        .env("HOOK", &receiver.url)
        .run()
        .await;
    ran.code(4);
    let id = ran.run_id();
    let paused = receiver.bodies();
    assert_eq!(paused.len(), 1, "{paused:?}");
    let fields = &paused[0]["relinker"];
    assert_eq!(fields["event"], "paused");
    assert_eq!(fields["exit_code"], 4);
    assert_eq!(fields["plan"], "acme-rotation");
    assert_eq!(fields["next"], format!("relinker resume {id}"));
    let steps: Vec<&str> = fields["pending"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "r0-link-salesforce-sync-to-temporary-user",
            "r0-link-reporting-export-to-temporary-user"
        ]
    );
    let text = paused[0]["text"].as_str().unwrap();
    assert!(text.contains("waits for a person to do 2 steps"), "{text}");
    assert!(text.contains(&format!("relinker resume {id}")), "{text}");

    // A person does both in the UI; each resume tells how it ended.
    for service in ["salesforce-sync", "reporting-export"] {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
    }
    let resume = |work: &Workspace| {
        work.relinker(&[&["resume", id.as_str(), "--gate-wait", "0"][..], &notify].concat())
            .env("HOOK", &receiver.url)
    };
    resume(&work).run().await.code(4);
    for service in ["salesforce-sync", "reporting-export"] {
        sandbox.person_links(service, "jane.doe@acme.example").await;
    }
    let done = resume(&work).run().await;
    done.code(0);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(bodies[1]["relinker"]["event"], "paused");
    assert_eq!(bodies[2]["relinker"]["event"], "finished");
    assert_eq!(bodies[2]["relinker"]["exit_code"], 0);
    assert!(bodies[2]["relinker"].get("next").is_none());
    no_secrets(&serde_json::to_string(&bodies).unwrap());
    no_secrets(&done.text());
}

/// The hourly `resume --all` of a run nobody has moved says nothing new: one notice, not one
/// an hour. What it waits for changing is news, and so is the reminder once it is due.
#[tokio::test]
async fn a_pause_is_told_once_until_what_it_waits_for_changes_or_the_reminder_is_due() {
    let sandbox = TestSandbox::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let job = |extra: &[&str]| {
        work.relinker(
            &[
                &[
                    "resume",
                    "--all",
                    "--gate-wait",
                    "0",
                    "--notify",
                    "${env:HOOK}",
                ][..],
                extra,
            ]
            .concat(),
        )
        .env("HOOK", &receiver.url)
    };
    let id = work
        .relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--gate-wait",
            "0",
            "--notify",
            "${env:HOOK}",
        ])
        .env("HOOK", &receiver.url)
        .run()
        .await
        .code(4)
        .run_id();
    assert_eq!(receiver.bodies().len(), 1);
    let before = work.status(&id).await;
    for _ in 0..3 {
        job(&[])
            .run()
            .await
            .code(4)
            .says(&format!("run {id}: nothing changed since the notice of "))
            .says("--notify-reminder 24h");
    }
    assert_eq!(receiver.bodies().len(), 1, "the same pause was told again");
    // The notice the apply sent is still the last one (each look re-records the pause, so the
    // run's activity moves on; that a notice is not activity is a unit test of the journal).
    let after = work.status(&id).await;
    assert_eq!(after["status"], before["status"]);

    // A reminder that is due goes out.
    job(&["--notify-reminder", "0s"]).run().await.code(4);
    assert_eq!(receiver.bodies().len(), 2);

    // A person does one of the two links: the run waits for less, which is news.
    sandbox
        .person_links("salesforce-sync", "relinker-temp@acme.example")
        .await;
    job(&[]).run().await.code(4);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    assert_eq!(
        bodies[2]["relinker"]["pending"].as_array().unwrap().len(),
        1
    );
    job(&[]).run().await.code(4);
    assert_eq!(receiver.bodies().len(), 3);
}

#[tokio::test]
async fn a_failure_is_notified_with_its_reason_and_its_rollback() {
    let sandbox = TestSandbox::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    sandbox.add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 403, "code": "603", "message": "Access denied"}})).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&["--notify", &receiver.url]).run().await.code(1);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["relinker"]["event"], "failed");
    assert_eq!(bodies[0]["relinker"]["exit_code"], 1);
    let reason = bodies[0]["relinker"]["reason"].as_str().unwrap();
    assert!(reason.contains("failed at `r0-update-user`"), "{reason}");
    assert!(reason.contains("rolled back"), "{reason}");
}

#[tokio::test]
async fn a_receiver_that_is_down_or_refuses_never_fails_the_run() {
    let sandbox = TestSandbox::start().await;
    // Refuses: a warning, and the run's own exit code.
    let refusing = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work.apply(&["--notify", &refusing.url]).run().await;
    ran.code(0)
        .says("warning: run ")
        .says("the notification receiver answered HTTP 500; the run is not affected");
    no_secrets(&ran.text());
    // Down: the same.
    let url = refusing.url.clone();
    drop(refusing);
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work.apply(&["--notify", &url]).run().await;
    ran.code(0)
        .says("the notification could not be sent")
        .says("the run is not affected");
    no_secrets(&ran.text());
}

/// A receiver that takes the connection and never answers: the run's exit waits at most the
/// webhook timeout (10 s, docs/runbook.md), and the warning says it timed out.
#[tokio::test]
async fn a_receiver_that_never_answers_is_said_to_have_timed_out() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            open.push(stream);
        }
    });
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work.apply(&["--notify", &url]).run().await;
    held.abort();
    ran.code(0)
        .says("the notification receiver did not answer within 10 s (timed out)")
        .says("the run is not affected");
}

#[tokio::test]
async fn a_webhook_that_cannot_be_read_stops_the_command_before_anything_runs() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&["--notify", "${env:NO_SUCH_HOOK}"])
        .run()
        .await
        .code(2)
        .says("--notify: environment variable `NO_SUCH_HOOK` is not set");
    work.apply(&["--notify", "ftp://x.example/hook"])
        .run()
        .await
        .code(2)
        .says("--notify: the notification webhook is not an http(s) URL")
        .never_says("x.example/hook");
    assert_eq!(sandbox.requests().await["state_changing"], 0);
}

#[tokio::test]
async fn a_plan_names_its_webhook_by_reference_only() {
    let sandbox = TestSandbox::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let plan = work.path().join("plan.yaml");
    let text = std::fs::read_to_string(&plan).unwrap();

    // A URL in the plan is a secret in a file under review: refused, and not echoed.
    std::fs::write(&plan, format!("{text}notify: {}\n", receiver.url)).unwrap();
    let refused = work.apply(&[]).run().await;
    refused
        .code(2)
        .says("notify")
        .says("a webhook URL is a secret: the plan must reference it, not contain it");
    no_secrets(&refused.text());

    // By reference: the run tells it without any flag.
    std::fs::write(&plan, format!("{text}notify: ${{env:HOOK}}\n")).unwrap();
    work.apply(&[])
        .env("HOOK", &receiver.url)
        .run()
        .await
        .code(0);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert_eq!(bodies[0]["relinker"]["event"], "finished");
}

#[tokio::test]
async fn a_sandbox_rehearsal_does_not_use_the_plans_webhook() {
    let receiver = Receiver::start(StatusCode::OK).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/examples");
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(examples.join("rename-api-user.yaml"))
        .unwrap()
        .replace(
            "fixture: ../fixtures/",
            &format!("fixture: {}/../fixtures/", examples.display()),
        );
    std::fs::write(
        dir.path().join("plan.yaml"),
        format!("{text}notify: ${{env:HOOK}}\n"),
    )
    .unwrap();
    crate::harness::Relinker::new(&["apply", "plan.yaml", "--sandbox"])
        .current_dir(dir.path())
        .env("RELINKER_STATE_DIR", "state")
        .env("HOOK", &receiver.url)
        .run()
        .await
        .code(0);
    assert!(receiver.bodies().is_empty(), "{:?}", receiver.bodies());
}
