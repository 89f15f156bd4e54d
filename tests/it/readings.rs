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

/// The rename applied unattended on a sandbox playing `reading`, paused at its first manual
/// steps: the sandbox, the workspace and the run's id.
async fn paused_rename(reading: &str) -> (TestSandbox, Workspace, String) {
    let sandbox = sandbox(Some(reading)).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first.code(4);
    let id = first.run_id();
    (sandbox, work, id)
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
    // The person was asked to relink both services and the run never saw it done: a token
    // minted before the ask cannot show whether they did. The person says they did not.
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(4)
        .says("minted before the relink this run asked for");
    for link in [
        "r0-link-salesforce-sync-to-temporary-user",
        "r0-link-reporting-export-to-temporary-user",
    ] {
        work.relinker(&[
            "attest",
            &id,
            link,
            "--by",
            "Dana Ops",
            "--note",
            "never relinked",
        ])
        .run()
        .await
        .code(0)
        .says("it counts only while relinker cannot tell");
    }
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
    // Until the services' tokens are younger than the abandoned run's asks to relink them, a
    // plan cannot tell whether a person did (under_minted_tokens_a_plan_after_…).
    unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await
        .code(1)
        .says("cannot be read yet");
    time_passes(&sandbox, 3600).await;

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

/// With `api-only-invitations=pending`, an invitation a run sent before it was abandoned is
/// relinker's too: the next plan names the run that sent it while it waits, takes the user
/// over once a person accepts it, and deletes it at the end of the rename (before, it was
/// "a user nobody's run made" and stayed, holding Jane's roles).
#[tokio::test]
async fn an_invitation_an_abandoned_run_sent_is_taken_over_once_accepted() {
    let sandbox = sandbox(Some("api-only-invitations=pending")).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first
        .code(4)
        .says(&format!("accept the pending invitation of `{TEMP}`"));
    let abandoned = first.run_id();
    work.relinker(&[
        "abandon",
        &abandoned,
        "--reason",
        "window closed",
        "--by",
        "Dana Ops",
    ])
    .run()
    .await
    .code(0)
    .says(&format!("It asked for `{TEMP}` and never saw it made"));
    unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await
        .code(1)
        .says(&format!("run {abandoned} sent it and was abandoned"));
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/invitations/{TEMP}/accept"),
            None,
        )
        .await;
    let second = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    second
        .code(4)
        .says("r0-create-temporary-user: already there, left by an abandoned run");
    let id = second.run_id();
    rename_to_the_end(&sandbox, &work, &id).await;
    assert!(World::of(&sandbox).await.user(TEMP).is_none());
}

/// A rename abandoned after the services went back leaves only its temporary user: the next
/// run of the plan is not "nothing to change" but takes the user over, proves the rename and
/// deletes it.
#[tokio::test]
async fn a_finished_rename_abandoned_before_its_cleanup_is_cleaned_up_by_the_next_run() {
    let sandbox = sandbox(None).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    let abandoned = first.run_id();
    person_links_all(&sandbox, TEMP).await;
    unattended(&work, &["resume", &abandoned])
        .run()
        .await
        .code(4)
        .says("r0-link-salesforce-sync-back");
    person_links_all(&sandbox, JANE).await;
    work.relinker(&[
        "abandon",
        &abandoned,
        "--reason",
        "went home",
        "--by",
        "Dana Ops",
    ])
    .run()
    .await
    .code(0);
    assert!(World::of(&sandbox).await.user(TEMP).is_some());
    let second = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    second
        .code(0)
        .never_says("nothing to change")
        .says(&format!("`{TEMP}` was made by run {abandoned}"))
        .says("r0-delete-temporary-user");
    second.says(&format!("run {} done", second.run_id()));
    assert!(World::of(&sandbox).await.user(TEMP).is_none());
}

/// The temporary user is deleted while the run waits for a person to link the services to it
/// (walk marketo-revoked seed 8: the run waited for links nobody could make, for ever). Before
/// asking again, the run reads what it made, finds it gone, makes it again, then asks.
#[tokio::test]
async fn a_temporary_user_deleted_while_the_run_waits_is_made_again_before_the_links() {
    let sandbox = sandbox(None).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first
        .code(4)
        .says("r0-link-salesforce-sync-to-temporary-user");
    let id = first.run_id();
    let token = sandbox.admin_token().await;
    let (status, _) = sandbox
        .post_empty(
            &token,
            &format!("/userservice/management/v1/users/{TEMP}/delete.json"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(World::of(&sandbox).await.user(TEMP).is_none());
    unattended(&work, &["resume", &id])
        .run()
        .await
        .code(4)
        .says("r0-create-temporary-user: no longer holds")
        .says("r0-link-salesforce-sync-to-temporary-user");
    assert!(World::of(&sandbox).await.user(TEMP).is_some(), "made again");
    rename_to_the_end(&sandbox, &work, &id).await;
    assert!(World::of(&sandbox).await.user(TEMP).is_none());
}

/// A rollback restores the world as its run found it: a temporary user an abandoned run left,
/// which this run took over, stays, and so does a service a person linked to it meanwhile
/// (deleting the user would need that service moved, which neither this run nor its rollback
/// did). Before, the rollback waited for a person to unlink it, for ever.
#[tokio::test]
async fn a_rollback_leaves_what_its_run_took_over_as_it_found_it() {
    let sandbox = sandbox(None).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first
        .code(4)
        .says("r0-link-reporting-export-to-temporary-user");
    let abandoned = first.run_id();
    sandbox.person_links("reporting-export", TEMP).await;
    work.relinker(&[
        "abandon",
        &abandoned,
        "--reason",
        "handed over",
        "--by",
        "Dana Ops",
    ])
    .run()
    .await
    .code(0)
    .says("a rollback of that run leaves it as it found it");
    // The next plan reads the links from tokens minted after the abandoned run's asks.
    time_passes(&sandbox, 3600).await;
    let second = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    second
        .code(4)
        .says("r0-create-temporary-user: already there, left by an abandoned run");
    let id = second.run_id();
    let before = World::of(&sandbox).await.essentials();
    // Nobody linked `salesforce-sync` as asked; a token minted since the ask shows it.
    time_passes(&sandbox, 3700).await;

    work.relinker(&["rollback", &id, "--dry-run"])
        .run()
        .await
        .code(0)
        .says(&format!(
            "`{TEMP}` stays: run {abandoned} made it and was abandoned"
        ))
        .never_says("r0-create-temporary-user: delete");
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(0)
        .says(&format!("`{TEMP}` stays: run {abandoned} made it"))
        .says(&format!("run {id} rolled back"));
    let after = World::of(&sandbox).await;
    assert_eq!(after.essentials(), before, "the world as the run found it");
    assert!(after.user(TEMP).is_some());
    assert_eq!(after.linked("reporting-export"), TEMP);

    // Still relinker's: the next run takes it over again, and deletes it at the end. Its
    // plan reads the links from tokens minted after the abandoned run's asks (Marketo gives a
    // token's age in whole seconds: the rollback's, minted within a second of an ask, counts
    // as older).
    time_passes(&sandbox, 3600).await;
    let third = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    third
        .code(4)
        .says(&format!("`{TEMP}` was made by run {abandoned}"))
        .says("r0-create-temporary-user: already there, left by an abandoned run");
    rename_to_the_end(&sandbox, &work, &third.run_id()).await;
    assert!(World::of(&sandbox).await.user(TEMP).is_none());
}

/// Advances the sandbox's clock: tokens age, and expire after an hour.
async fn time_passes(sandbox: &TestSandbox, secs: u64) {
    sandbox.time_passes(secs).await;
}

/// Item 10: with `token-scope-after-relink=minted`, a rollback cannot see a relink a person
/// made behind a token minted before it: it asks the person to link back and waits (exit 4)
/// for a token minted since, never records "nothing to undo" and then fails on the linked
/// temporary user.
#[tokio::test]
async fn under_minted_tokens_a_rollback_waits_for_evidence_of_the_links() {
    let sandbox = sandbox(Some("token-scope-after-relink=minted")).await;
    let before = World::of(&sandbox).await.essentials();
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    first
        .code(4)
        .says("r0-link-salesforce-sync-to-temporary-user");
    let id = first.run_id();
    // The person relinks both services; their cached tokens still name Jane.
    person_links_all(&sandbox, TEMP).await;
    let waiting = unattended(&work, &["rollback", &id]).run().await;
    waiting
        .code(4)
        .says("rollback waits for a person")
        .says("minted before the relink this run asked for")
        .never_says("nothing to undo")
        .never_says("undo-r0-create-temporary-user");
    assert_eq!(work.status(&id).await["status"], "rollback paused");
    assert!(World::of(&sandbox).await.user(TEMP).is_some());

    // The person links them back; once the old tokens expire the rollback can see it.
    person_links_all(&sandbox, JANE).await;
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(4)
        .says("rollback waits for a person");
    time_passes(&sandbox, 3600).await;
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

/// Item 10, the rollback a failed look starts: the tokens in hand were minted after an
/// earlier ask but before the person acted, and name Jane; the rollback must not take them as
/// "nothing to undo" (the `marketo-minted` walk's seed 7 ended a rollback so, with a service
/// left on the temporary user).
#[tokio::test]
async fn under_minted_tokens_a_rollback_after_a_failed_look_waits_for_evidence() {
    let (sandbox, work, id) = paused_rename("token-scope-after-relink=minted").await;
    // The planning tokens expire; the next look mints tokens after the ask, naming Jane, and
    // the person (the sandbox operator) relinks only then: those tokens live on, still naming
    // Jane.
    time_passes(&sandbox, 3600).await;
    unattended(&work, &["resume", &id, "--sandbox-operator"])
        .run()
        .await
        .code(4)
        .says("the sandbox operator did them")
        .says("`salesforce-sync` is linked to `jane.doe@acme.example`");
    // A look then fails outright (an answer relinker cannot use), and the run rolls back:
    // the tokens in hand name Jane, minted after the ask but before the person acted.
    sandbox
        .add_fault(serde_json::json!({"path": "/identity", "client_id": "5f0e4c1a-1111-4111-8111-000000005f5f", "action": {"kind": "error", "status": 404, "code": "1001", "message": "Invalid value"}, "times": 1}))
        .await;
    unattended(&work, &["resume", &id])
        .run()
        .await
        .says("rolling back")
        .says("rollback waits for a person")
        .never_says("nothing to undo")
        .never_says("rolled back.");
    assert_eq!(work.status(&id).await["status"], "rollback paused");
    // Asked again later, the same tokens prove no more: the person may have relinked any time
    // until the run turned back.
    for _ in 0..2 {
        unattended(&work, &["rollback", &id])
            .run()
            .await
            .code(4)
            .says("rollback waits for a person")
            .never_says("nothing to undo")
            .never_says(": undone");
    }
    let world = World::of(&sandbox).await;
    assert_eq!(world.linked("salesforce-sync"), TEMP);
    assert!(
        world.user(TEMP).is_some(),
        "the linked temporary user stays"
    );
}

/// A run abandoned after a person relinked as it asked: under `minted` tokens the next plan's
/// tokens, minted before the ask, still show the services on Jane. It must not take that for
/// the state to start from (its rollback would then "restore" Jane, or a step would count as
/// the run's): the plan is refused until those tokens have expired, and then reads the links
/// as they are (walk `marketo-minted` seed 19, `marketo-minted-603` seeds 7 and 19).
#[tokio::test]
async fn under_minted_tokens_a_plan_after_an_abandoned_runs_ask_waits_for_fresh_tokens() {
    let (sandbox, work, abandoned) = paused_rename("token-scope-after-relink=minted").await;
    person_links_all(&sandbox, TEMP).await;
    work.relinker(&[
        "abandon",
        &abandoned,
        "--reason",
        "the night shift took over",
        "--by",
        "Dana Ops",
    ])
    .run()
    .await
    .code(0);
    let before = World::of(&sandbox).await.essentials();

    let refused = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    refused
        .code(1)
        .says("the link of service `salesforce-sync` cannot be read yet")
        .says(&format!("asked a person to relink it away from `{JANE}`"))
        .says("when it was abandoned at")
        .says("is older than that")
        .says("was not started");
    assert_eq!(work.run_ids().await.len(), 1, "no run was started");

    // Once the tokens minted before the ask have expired, the links read as they are: the
    // services are on the temporary user already, and a rollback leaves them there (it waits
    // for tokens minted after its own asks to show the links back on the temporary user).
    time_passes(&sandbox, 3600).await;
    let second = unattended(&work, &["apply", "plan.yaml", "--yes"])
        .run()
        .await;
    second
        .code(4)
        .says("r0-link-salesforce-sync-to-temporary-user: already done")
        .says("r0-link-reporting-export-to-temporary-user: already done");
    let id = second.run_id();
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(4)
        .says("rollback waits for a person")
        .never_says("r0-link-salesforce-sync-to-temporary-user");
    time_passes(&sandbox, 3600).await;
    unattended(&work, &["rollback", &id])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}

/// Item 10: with `minted` tokens and `linked-user-edit=603`, a 603 while a stale token names
/// another user is "a service may still run as it": the run waits for a person (exit 4), as
/// with 1003, and never calls it a missing permission.
#[tokio::test]
async fn under_minted_tokens_a_603_behind_a_stale_token_waits_for_a_person() {
    let config = SandboxConfig {
        behaviours: vec![
            "token-scope-after-relink=minted".parse().unwrap(),
            "linked-user-edit=603".parse().unwrap(),
        ],
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(ACME, config).await;
    let pairs = serde_json::json!([{"accessRoleId": 110, "workspaceId": 1}, {"accessRoleId": 101, "workspaceId": 1008}]);
    sandbox.invite_api_user(TEMP, pairs).await;
    // The services spend a moment on the temporary user and go back; their cached tokens
    // still name it, minted two minutes ago.
    person_links_all(&sandbox, TEMP).await;
    for (id, secret) in [
        (
            "5f0e4c1a-1111-4111-8111-000000005f5f",
            "sandbox-secret-sfdc-K8v3",
        ),
        (
            "7c2d9e4b-2222-4222-8222-000000007c7c",
            "sandbox-secret-report-Xp91",
        ),
    ] {
        assert_eq!(sandbox.token(id, secret).await["scope"], TEMP);
    }
    person_links_all(&sandbox, JANE).await;
    time_passes(&sandbox, 120).await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let first = unattended(&work, &["apply", "plan.yaml", "--yes", "--run-id", "stale"])
        .run()
        .await;
    first
        .code(4)
        .says("Marketo refuses to change `jane.doe@acme.example`")
        .says("may still run as it")
        .never_says("failed at")
        .never_says("rolling back");
    assert_eq!(work.status("stale").await["status"], "paused");
}

/// Item 10: an undo Marketo refuses until a person acts waits for that person (exit 4, or the
/// person plays it), as the runbook says; it does not leave the rollback incomplete.
#[tokio::test]
async fn a_refused_undo_waits_for_a_person_and_the_rollback_finishes() {
    let sandbox = sandbox(None).await;
    let before = World::of(&sandbox).await.essentials();
    sandbox
        .add_fault(serde_json::json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "error", "status": 400, "code": "1001", "message": "Invalid value"}, "times": 1}))
        .await;
    sandbox
        .add_fault(serde_json::json!({"method": "POST", "path": "/userservice/*/delete.json", "action": {"kind": "error", "status": 400, "code": "1003", "message": "Not allowed"}, "times": 1}))
        .await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    let ran = work.apply(&[]).run().await;
    ran.code(1)
        .says("failed at `r0-update-user`")
        .says("r0-create-temporary-user: waits for a person")
        .says("everything the run changed was rolled back")
        .never_says("rollback incomplete");
    assert_eq!(work.status(&ran.run_id()).await["status"], "rolled back");
    assert_eq!(World::of(&sandbox).await.essentials(), before);
}
