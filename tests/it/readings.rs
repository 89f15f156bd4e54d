//! Marketo under the readings of its reference that make a run's own work hard to see: a
//! pending invitation a person accepts, a temporary user left by a run a person gave up. A
//! person acts through the sandbox's control API, between commands, as they would in the UI;
//! the run undoes, and deletes at its end, exactly what it made.

use relinker::sandbox::marketo::SandboxConfig;
use reqwest::Method;

use crate::harness::{ACME, POLICY, RENAME, Ran, TestSandbox, Workspace, World, step};

const TEMP: &str = "relinker-temp@acme.example";
const JANE: &str = "jane.doe@acme.example";
const SERVICES: [&str; 2] = ["salesforce-sync", "reporting-export"];

async fn sandbox(reading: Option<&str>) -> TestSandbox {
    let config = SandboxConfig {
        behaviours: reading.map(|r| r.parse().unwrap()).into_iter().collect(),
        ..SandboxConfig::default()
    };
    TestSandbox::with(ACME, config).await
}

/// relinker as an operator runs it unattended: no sandbox operator, the gate checked once.
fn unattended(work: &Workspace, args: &[&str]) -> crate::harness::Relinker {
    let mut all = args.to_vec();
    all.extend(["--gate-wait", "0"]);
    work.relinker(&all)
}

async fn person_links_all(sandbox: &TestSandbox, to: &str) {
    for service in SERVICES {
        sandbox.person_links(service, to).await;
    }
}

/// The rename from the point the temporary user exists: the person moves the services to it,
/// the run renames Jane, the person moves them back, the run proves it and finishes.
async fn rename_to_the_end(sandbox: &TestSandbox, work: &Workspace, id: &str) -> Ran {
    person_links_all(sandbox, TEMP).await;
    unattended(work, &["resume", id])
        .run()
        .await
        .code(4)
        .says("r0-update-user")
        .says("r0-link-salesforce-sync-back");
    person_links_all(sandbox, JANE).await;
    let last = unattended(work, &["resume", id]).run().await;
    last.code(0).says(&format!("run {id} done"));
    last
}

/// Item 9: with `api-only-invitations=pending`, the invitation the run sent and a person
/// accepted is the run's user: deleted at the end of the rename, and by a rollback.
#[tokio::test]
async fn an_accepted_invitation_is_the_runs_temporary_user() {
    let sandbox = sandbox(Some("api-only-invitations=pending")).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first
        .code(4)
        .says(&format!("accept the pending invitation of `{TEMP}`"));
    let id = first.run_id();
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/invitations/{TEMP}/accept"),
            None,
        )
        .await;
    unattended(&work, &["resume", &id])
        .run()
        .await
        .code(4)
        .never_says("r0-create-temporary-user: already done")
        .says("r0-link-salesforce-sync-to-temporary-user");
    assert_eq!(
        step(&work.status(&id).await, "r0-create-temporary-user")["state"],
        "applied"
    );
    rename_to_the_end(&sandbox, &work, &id)
        .await
        .never_says("r0-delete-temporary-user: skipped");
    let world = World::of(&sandbox).await;
    assert!(
        world.user(TEMP).is_none(),
        "the run's temporary user is gone"
    );
    assert_eq!(
        world.user(JANE).unwrap()["emailAddress"],
        "api.salesforce@acme.example"
    );

    // The same, rolled back once the invitation was accepted.
    let sandbox = self::sandbox(Some("api-only-invitations=pending")).await;
    let before = World::of(&sandbox).await.essentials();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let id = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await
        .run_id();
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/invitations/{TEMP}/accept"),
            None,
        )
        .await;
    unattended(&work, &["resume", &id]).run().await.code(4);
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

/// Item 9: a temporary user left by a run a person abandoned is relinker's own: the next run
/// of the plan takes it over, says so, and deletes it at the end.
#[tokio::test]
async fn a_temporary_user_left_by_an_abandoned_run_is_taken_over_and_deleted() {
    let sandbox = sandbox(None).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first.code(4).says("r0-create-temporary-user");
    let abandoned = first.run_id();
    assert!(World::of(&sandbox).await.user(TEMP).is_some());
    work.relinker(&[
        "abandon",
        &abandoned,
        "--reason",
        "the change window closed",
        "--by",
        "Dana Ops",
    ])
    .run()
    .await
    .code(0)
    .says(&format!("It leaves `{TEMP}` it made in place"));

    let second = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    second
        .code(4)
        .says(&format!(
            "was made by run {abandoned}, which was abandoned with it in place"
        ))
        .says("r0-create-temporary-user: already there, left by an abandoned run");
    let id = second.run_id();
    rename_to_the_end(&sandbox, &work, &id)
        .await
        .never_says("r0-delete-temporary-user: skipped");
    assert!(World::of(&sandbox).await.user(TEMP).is_none());
    assert_eq!(
        step(&work.status(&id).await, "r0-delete-temporary-user")["state"],
        "applied"
    );

    // A temporary user nobody's run made is kept, as before.
    let sandbox = self::sandbox(None).await;
    let pairs = serde_json::json!([{"accessRoleId": 110, "workspaceId": 1}, {"accessRoleId": 101, "workspaceId": 1008}]);
    sandbox.invite_api_user(TEMP, pairs).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let id = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await
        .run_id();
    rename_to_the_end(&sandbox, &work, &id).await;
    assert!(World::of(&sandbox).await.user(TEMP).is_some());
}
