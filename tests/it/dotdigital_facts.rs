//! dotdigital, where the world changes between two commands: a person re-enables the old user
//! after its disable was seen, an environment variable names the wrong user at step time, a
//! check command is throttled, a secret file goes missing, the new username belongs to
//! another account. Each run ends in the planned state or the original one, or waits saying
//! what for; it never says "done", "verified" or "rolled back" about something that is not so.

use reqwest::Method;
use serde_json::json;

use crate::dotdigital::{
    ACCOUNT, OLD_PASSWORD, OLD_USER, OTHER_PASSWORD, OTHER_USER, no_secrets, person_configures,
    person_creates_user, plan, relinker, sandbox, world,
};
use crate::harness::{TestSandbox, Workspace, assert_no_secrets, step};

const NEW_PASSWORD: &str = "sandbox-New-4k";

/// A person (en|dis)ables an API user in Settings > Access > API users.
async fn person_sets_enabled(sandbox: &TestSandbox, user: &str, enabled: bool) {
    sandbox
        .control(
            Method::POST,
            &format!("/_sandbox/api-users/{user}/enabled"),
            Some(&json!({ "enabled": enabled })),
        )
        .await;
}

/// Whether dotdigital takes the old credential.
async fn old_credential_works(sandbox: &TestSandbox) -> bool {
    let (status, _, _) = sandbox
        .basic_get("/v2/account-info", OLD_USER, OLD_PASSWORD)
        .await;
    status == 200
}

/// A person attests a step as Dana Ops.
async fn attest(work: &Workspace, id: &str, step: &str) -> crate::harness::Ran {
    relinker(work, &["attest", id, step, "--by", "Dana Ops"], None)
        .run()
        .await
}

/// `apply --gate-wait 0` of the workspace's plan, before anyone names the new user.
pub(crate) async fn apply_unattended(work: &Workspace) -> crate::harness::Ran {
    relinker(
        work,
        &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
        None,
    )
    .run()
    .await
}

/// A workspace whose plan's new password is in `new.password`.
fn workspace(sandbox: &TestSandbox, plan: &str) -> Workspace {
    let work = Workspace::with_files(plan, &[]);
    std::fs::write(work.path().join("new.password"), NEW_PASSWORD).unwrap();
    let _ = sandbox;
    work
}

/// Takes a run from `apply` to the moment it asks for the switches: the person has created the
/// new user and its name is set. Returns the run id and the new username.
async fn to_the_switches(sandbox: &TestSandbox, work: &Workspace) -> (String, String) {
    let first = apply_unattended(work).await;
    first.code(4).says("r0-create-new-user");
    let id = first.run_id();
    let new_user = person_creates_user(sandbox, NEW_PASSWORD).await;
    relinker(work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-switch-magento");
    (id, new_user)
}

/// Takes a run from `apply` to the moment it asks for the old user's deletion: the person
/// creates the new user, switches both integrations (attesting the one without a check
/// command), and disables the old user. Returns the run id and the new username.
async fn to_the_deletion(sandbox: &TestSandbox, work: &Workspace) -> (String, String) {
    let (id, new_user) = to_the_switches(sandbox, work).await;
    person_configures(sandbox, "magento", &new_user, NEW_PASSWORD).await;
    person_configures(sandbox, "crm-connector", &new_user, NEW_PASSWORD).await;
    attest(work, &id, "r0-switch-crm-connector").await.code(0);
    relinker(work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-verify: verified")
        .says("r0-disable-old-user");
    person_sets_enabled(sandbox, OLD_USER, false).await;
    relinker(work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-disable-old-user: done (seen through the API)")
        .says("manual (r0-delete-old-user)")
        .says("switched on a person's word only")
        .never_says("verified on the new one");
    (id, new_user)
}

/// Item 1: an irreversible step reads again, when it is asked for and when it is accepted,
/// every fact it rests on; one that no longer holds sends the run back to the step that
/// established it.
#[tokio::test]
async fn a_re_enabled_old_user_sends_the_run_back_to_its_disable_before_the_deletion() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let (id, new_user) = to_the_deletion(&sandbox, &work).await;
    let mut outputs = Vec::new();

    // A person re-enables the old user before anyone deleted it.
    person_sets_enabled(&sandbox, OLD_USER, true).await;
    let back = relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await;
    back.code(4)
        .says("r0-disable-old-user: no longer holds")
        .says("still authenticates")
        .never_says("manual (r0-delete-old-user)")
        .never_says(&format!("run {id} done"));
    outputs.push(back.text());
    assert_eq!(
        step(&work.status(&id).await, "r0-disable-old-user")["state"],
        "waiting_for_person"
    );
    // The deletion is not due any more: it cannot be attested.
    attest(&work, &id, "r0-delete-old-user")
        .await
        .code(2)
        .says("`r0-delete-old-user` is not due")
        .says("r0-disable-old-user");

    // Disabled again: the deletion is asked for again, and a person attests it. Then somebody
    // re-enables the old user before the run looks: the attestation is not accepted while
    // what the deletion rests on is broken.
    person_sets_enabled(&sandbox, OLD_USER, false).await;
    relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("manual (r0-delete-old-user)");
    attest(&work, &id, "r0-delete-old-user").await.code(0);
    person_sets_enabled(&sandbox, OLD_USER, true).await;
    let again = relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await;
    again
        .code(4)
        .says("r0-disable-old-user: no longer holds")
        .never_says(&format!("run {id} done"));
    outputs.push(again.text());
    assert!(old_credential_works(&sandbox).await);

    // Done right this time: disabled, deleted, attested once more, and the run says done
    // only while dotdigital refuses the old credential.
    person_sets_enabled(&sandbox, OLD_USER, false).await;
    relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("manual (r0-delete-old-user)");
    sandbox
        .control(
            Method::DELETE,
            &format!("/_sandbox/api-users/{OLD_USER}"),
            None,
        )
        .await;
    attest(&work, &id, "r0-delete-old-user").await.code(0);
    let last = relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await;
    last.code(0)
        .says(&format!("run {id} done"))
        .says("dotdigital refuses the old credential")
        // Wording never upgrades evidence: the attested switch is named as a person's word.
        .says("`crm-connector` switched on a person's word: attested, not verified");
    assert!(!old_credential_works(&sandbox).await);
    let (integrations, _) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    outputs.push(last.text());
    let texts: Vec<&str> = outputs.iter().map(String::as_str).collect();
    assert_no_secrets(&texts);
}

/// Item 2: a credential read when its step runs is checked then: the old credential given as
/// the new one is neither verified nor rolled back; the run waits, saying why.
#[tokio::test]
async fn the_old_credential_given_as_the_new_one_at_step_time_pauses_the_run() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let before = world(&sandbox).await;
    let first = apply_unattended(&work).await;
    first.code(4);
    let id = first.run_id();

    // The username variable is set at resume, to the old user; the password file holds the
    // old password.
    std::fs::write(work.path().join("new.password"), OLD_PASSWORD).unwrap();
    let resumed = relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(OLD_USER))
        .env("RELINKER_GIVE_UP_AFTER", "1s")
        .run()
        .await;
    resumed
        .code(4)
        .says("the old user's")
        .never_says("r0-create-new-user: done")
        .never_says("r0-switch-magento: done")
        .never_says("r0-verify: verified")
        .never_says("r0-disable-old-user")
        .never_says("rolling back");
    let status = work.status(&id).await;
    assert_eq!(status["status"], "paused");
    assert_ne!(step(&status, "r0-create-new-user")["state"], "applied");
    assert_eq!(world(&sandbox).await, before);

    // A new user with the old password is not a new credential either.
    let new_user = person_creates_user(&sandbox, OLD_PASSWORD).await;
    relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("is the old one")
        .never_says("r0-create-new-user: done");
    assert_eq!(work.status(&id).await["status"], "paused");
}

/// Item 3: a check that cannot tell (a throttled check command, a secret file gone for the
/// moment) is "not yet", never a conflict: the run waits, and goes on once it can tell.
#[tokio::test]
async fn a_check_that_cannot_tell_pauses_the_rotation_and_never_rolls_it_back() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let binary = env!("CARGO_BIN_EXE_relinker");
    // magento's check: relinker check-credential, unless the service throttles it (exit 2).
    let check = format!(
        "#!/bin/sh\n[ -e throttled ] && exit 2\nexec '{binary}' check-credential --path /_sandbox/integrations/magento/check\n"
    );
    let plan = plan(&sandbox.handle.base_url(), "delete").replace(
        "check: [relinker, check-credential, --path, /_sandbox/integrations/magento/check]",
        "check: [sh, ./check.sh]",
    );
    let work = workspace(&sandbox, &plan);
    std::fs::write(work.path().join("check.sh"), check).unwrap();
    let quick = |args: &[&str], user: Option<&str>| {
        relinker(&work, args, user).env("RELINKER_GIVE_UP_AFTER", "2s")
    };

    let first = quick(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"], None)
        .run()
        .await;
    first.code(4);
    let id = first.run_id();
    let new_user = person_creates_user(&sandbox, NEW_PASSWORD).await;
    quick(&["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4);
    person_configures(&sandbox, "magento", &new_user, NEW_PASSWORD).await;
    person_configures(&sandbox, "crm-connector", &new_user, NEW_PASSWORD).await;
    quick(&["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-switch-magento: done (its check command passes)");
    attest(&work, &id, "r0-switch-crm-connector").await.code(0);

    // The new password's file is gone for the moment when the proof is due.
    std::fs::remove_file(work.path().join("new.password")).unwrap();
    let unreadable = quick(&["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await;
    unreadable
        .code(4)
        .says("r0-verify: cannot tell, so it waits")
        .says("new.password")
        .never_says("rolling back")
        .never_says("r0-verify: verified");
    assert_eq!(work.status(&id).await["status"], "paused");

    // Back, but the integration's check is throttled: still "cannot tell".
    std::fs::write(work.path().join("new.password"), NEW_PASSWORD).unwrap();
    std::fs::write(work.path().join("throttled"), "").unwrap();
    let throttled = quick(&["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await;
    throttled
        .code(4)
        .says("could not check (exit 2)")
        .never_says("rolling back")
        .never_says("r0-verify: verified");
    let status = work.status(&id).await;
    assert_eq!(status["status"], "paused");
    assert_eq!(step(&status, "r0-switch-magento")["state"], "applied");

    // The check answers again: the proof passes and the run goes on to the disable.
    std::fs::remove_file(work.path().join("throttled")).unwrap();
    quick(&["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-verify: verified")
        .says("r0-disable-old-user");
    let (integrations, _) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    assert_eq!(integrations["crm-connector"], new_user.as_str());
}

/// Rolls a run back to its first step: the switch of `crm-connector` was asked of a person
/// with the creation (one phase), so its undo is theirs to attest, as the rollback says.
async fn roll_back_to_the_creation(work: &Workspace, id: &str, new_user: Option<&str>) {
    relinker(work, &["rollback", id, "--gate-wait", "0"], new_user)
        .run()
        .await
        .code(4)
        .says(&format!(
            "manual to roll back (r0-switch-crm-connector): switch `crm-connector` back to `{OLD_USER}`"
        ))
        .never_says("to the new credential")
        .says("relinker attest");
    attest(work, id, "r0-switch-crm-connector")
        .await
        .code(0)
        .says("undo of `r0-switch-crm-connector`");
}

/// Items 7 and 8: rollback deletes only what this run made, named as the run saw it made; a
/// rollback with nothing of the run's left to undo finishes.
#[tokio::test]
async fn rollback_never_deletes_what_the_run_did_not_make() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let before = world(&sandbox).await;
    let apply = |work: &Workspace| {
        relinker(
            work,
            &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
            None,
        )
        .run()
    };

    // The new username names another account's user at step time.
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let id = apply(&work).await.run_id();
    std::fs::write(work.path().join("new.password"), OTHER_PASSWORD).unwrap();
    relinker(
        &work,
        &["resume", &id, "--gate-wait", "0"],
        Some(OTHER_USER),
    )
    .run()
    .await
    .code(4)
    .says(&format!(
        "belongs to account 500001, not to account {ACCOUNT}"
    ));
    roll_back_to_the_creation(&work, &id, Some(OTHER_USER)).await;
    let rolled = relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(OTHER_USER),
    )
    .run()
    .await;
    rolled
        .code(0)
        .says(&format!("run {id} rolled back"))
        .never_says("delete the new API user");
    assert_eq!(
        world(&sandbox).await,
        before,
        "the other account's user stays"
    );

    // A run that never saw its new user made: nothing to delete, and rollback finishes.
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let id = apply(&work).await.run_id();
    roll_back_to_the_creation(&work, &id, None).await;
    relinker(&work, &["rollback", &id, "--gate-wait", "0"], None)
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert_eq!(world(&sandbox).await, before);

    // A user the run saw made is deleted under the name it was made with, even once the
    // variable that named it says something else.
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let id = apply(&work).await.run_id();
    let new_user = person_creates_user(&sandbox, NEW_PASSWORD).await;
    relinker(&work, &["resume", &id, "--gate-wait", "0"], Some(&new_user))
        .run()
        .await
        .code(4)
        .says("r0-create-new-user: done (seen through the API)");
    roll_back_to_the_creation(&work, &id, Some(OTHER_USER)).await;
    relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(OTHER_USER),
    )
    .run()
    .await
    .code(4)
    .says(&format!("`{new_user}`"))
    .never_says(OTHER_USER);
    sandbox
        .control(
            Method::DELETE,
            &format!("/_sandbox/api-users/{new_user}"),
            None,
        )
        .await;
    relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(OTHER_USER),
    )
    .run()
    .await
    .code(0)
    .says(&format!("run {id} rolled back"));
    assert_eq!(world(&sandbox).await, before);
}

/// A user a person made for the run, named by its username, whose password is not readable
/// when the run is undone: nothing can show it gone, so the rollback does not say "nothing to
/// undo" (walk dotdigital seed 13 ended "rolled back" with the user left); it names the user
/// and waits for a person, whose word then stands.
#[tokio::test]
async fn a_rollback_that_cannot_read_the_new_password_names_the_user_and_waits() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let before = world(&sandbox).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let id = apply_unattended(&work).await.code(4).run_id();
    let new_user = person_creates_user(&sandbox, NEW_PASSWORD).await;
    std::fs::remove_file(work.path().join("new.password")).unwrap();
    let rolled = relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    rolled
        .code(4)
        .says(&format!(
            "the password of the new API user `{new_user}` cannot be read now"
        ))
        .says("relinker cannot tell r0-create-new-user")
        .never_says("r0-create-new-user: nothing to undo")
        .never_says("rolled back.");
    assert!(
        world(&sandbox).await.1.get(&new_user).is_some(),
        "the user is still there, and the run says so"
    );
    // A person deletes it and says so; the rollback ends.
    sandbox
        .control(
            Method::DELETE,
            &format!("/_sandbox/api-users/{new_user}"),
            None,
        )
        .await;
    // Newest first: the crm-connector's switch (asked for, never seen: a person's word),
    // then the user.
    attest(&work, &id, "r0-switch-crm-connector").await.code(0);
    attest(&work, &id, "r0-create-new-user")
        .await
        .code(0)
        .says("undo of `r0-create-new-user`");
    relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await
    .code(0)
    .says(&format!("run {id} rolled back"));
    assert_eq!(world(&sandbox).await, before);
}

#[tokio::test]
async fn an_operator_that_cannot_act_leaves_the_step_to_a_person_and_rolls_nothing_back() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    // The operator cannot name the new user: DD_NEW_USER is not set yet.
    let first = relinker(
        &work,
        &[
            "apply",
            "plan.yaml",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
        ],
        None,
    )
    .run()
    .await;
    first
        .code(4)
        .says("r0-create-new-user: the sandbox operator could not")
        .says("`DD_NEW_USER` is not set")
        .says("it waits for a person")
        .never_says("rolled back")
        .never_says("✗");
    let id = first.run_id();
    let status = work.status(&id).await;
    assert_eq!(status["status"], "paused", "{status:#}");
    assert_eq!(
        step(&status, "r0-create-new-user")["state"],
        "waiting_for_person"
    );

    // A person makes the user; with its name set, the operator does the rest.
    let new_user = person_creates_user(&sandbox, NEW_PASSWORD).await;
    relinker(
        &work,
        &["resume", &id, "--sandbox-operator", "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await
    .code(0)
    .says(&format!("run {id} done"));
    let (integrations, users) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    assert!(users.get(OLD_USER).is_none(), "{users}");
}

#[tokio::test]
async fn a_rollback_knows_the_user_it_made_by_the_credential_it_was_made_with() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let (id, new_user) = to_the_switches(&sandbox, &work).await;

    // Between two commands the new credential's references come to name another account's
    // user: a refusal of that credential says nothing of the user the run made.
    std::fs::write(work.path().join("new.password"), OTHER_PASSWORD).unwrap();
    let rollback = relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(OTHER_USER),
    )
    .run()
    .await;
    rollback
        .code(4)
        .says("is not the one")
        .never_says("r0-create-new-user: undone")
        .never_says(&format!("run {id} rolled back"));
    let (_, users) = world(&sandbox).await;
    assert_eq!(
        users[new_user.as_str()],
        true,
        "the user the run made is still there"
    );
    let status = work.status(&id).await;
    assert_eq!(
        step(&status, "r0-create-new-user")["state"],
        "undo_waiting_for_person"
    );

    // The reference restored, the person deletes the user: the rollback sees it gone.
    std::fs::write(work.path().join("new.password"), NEW_PASSWORD).unwrap();
    sandbox
        .control(
            Method::DELETE,
            &format!("/_sandbox/api-users/{new_user}"),
            None,
        )
        .await;
    relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await
    .code(4)
    .says("r0-create-new-user: undone")
    .says("r0-switch-crm-connector");
    // The integration nothing observes was asked to switch: its undo takes the person's word.
    attest(&work, &id, "r0-switch-crm-connector").await.code(0);
    relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await
    .code(0)
    .says(&format!("run {id} rolled back"));
}

/// The reason a run waits is the real one (#26 item 5): with the new username's variable unset,
/// the pause says so, in the output and in `status`, with how long it has waited.
#[tokio::test]
async fn a_pause_names_the_variable_that_is_not_set() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let first = apply_unattended(&work).await;
    first.code(4).says("`DD_NEW_USER` is not set");
    let id = first.run_id();
    let status = work.status(&id).await;
    let waiting = status["waiting"].as_array().unwrap();
    assert!(
        waiting.iter().any(|w| w["step"] == "r0-create-new-user"
            && w["waiting_for"]
                .as_str()
                .unwrap()
                .contains("`DD_NEW_USER` is not set")),
        "{status:#}"
    );
    assert!(status["paused_since"].is_string(), "{status:#}");
    relinker(&work, &["status", &id], None)
        .run()
        .await
        .code(0)
        .says("paused since")
        .says("`DD_NEW_USER` is not set");
}

/// "Rolled back" says the world is as the run found it (walk dotdigital seed 12): a person
/// disables the old user while the run waits, and the rollback, which never touched that user,
/// does not call itself done until the integrations' credential works again.
#[tokio::test]
async fn a_rollback_is_not_done_while_the_old_user_it_found_is_disabled() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let first = apply_unattended(&work).await;
    first.code(4).says("r0-create-new-user");
    let id = first.run_id();
    let rollback = || relinker(&work, &["rollback", &id, "--gate-wait", "0"], None);
    // The rollback waits for a person's word on the integration nothing observes.
    rollback()
        .run()
        .await
        .code(4)
        .says("r0-switch-crm-connector");
    // Meanwhile a person disables the old user; then gives that word.
    person_sets_enabled(&sandbox, OLD_USER, false).await;
    attest(&work, &id, "r0-switch-crm-connector").await.code(0);
    rollback()
        .run()
        .await
        .code(1)
        .says("rollback incomplete")
        .says(&format!("(API user `{OLD_USER}`) is refused now"))
        .never_says(&format!("run {id} rolled back"));
    assert_eq!(work.status(&id).await["status"], "rollback incomplete");

    person_sets_enabled(&sandbox, OLD_USER, true).await;
    rollback()
        .run()
        .await
        .code(0)
        .says(&format!("run {id} rolled back"));
    assert!(old_credential_works(&sandbox).await);
}

/// A switch "to" the credential the integration is switched from changes nothing (walk
/// dotdigital seeds 6, 7: the references came to name the old user, the sandbox operator
/// "switched" to it, and its word recorded the switch done while the integration kept the old
/// user). The operator says so and leaves the step to a person.
#[tokio::test]
async fn a_switch_to_the_old_credential_is_not_a_switch() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    let (id, _) = to_the_switches(&sandbox, &work).await;
    // The references now name the old user.
    std::fs::write(work.path().join("new.password"), OLD_PASSWORD).unwrap();
    relinker(
        &work,
        &["resume", &id, "--sandbox-operator", "--gate-wait", "0"],
        Some(OLD_USER),
    )
    .run()
    .await
    .code(4)
    .says("there is nothing to switch to")
    .never_says("✓ r0-switch-magento");
    let status = work.status(&id).await;
    assert_ne!(
        step(&status, "r0-switch-magento")["state"],
        "applied",
        "{status:#}"
    );
    assert_ne!(
        step(&status, "r0-switch-crm-connector")["state"],
        "applied",
        "{status:#}"
    );
    let (integrations, _) = world(&sandbox).await;
    assert_eq!(integrations["magento"], OLD_USER);
    assert_eq!(integrations["crm-connector"], OLD_USER);
}

/// An integration found on the new credential before the run (an abandoned run's person
/// switched it) is not the run's switch: with the new credential unreadable the plan refuses,
/// as it could not tell that switch from one it asks for; readable, the switch is found done,
/// and a rollback leaves it (and the new user it found) as found.
#[tokio::test]
async fn an_integration_switched_before_the_run_is_found_so_and_never_switched_back() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let work = workspace(&sandbox, &plan(&sandbox.handle.base_url(), "delete"));
    // Before this run: a person made the new user and switched `magento` to it.
    let new_user = person_creates_user(&sandbox, NEW_PASSWORD).await;
    person_configures(&sandbox, "magento", &new_user, NEW_PASSWORD).await;

    let refused = apply_unattended(&work).await;
    refused
        .code(1)
        .says("the check command of `magento` does not pass with the credential `services[0]` gives it")
        .says("the rotation's new credential cannot be read yet (environment variable `DD_NEW_USER` is not set")
        .says("make rotations[0]'s new credential readable")
        .says("was not started")
        .never_says("manual (r0-switch-magento)");

    let ran = relinker(
        &work,
        &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    ran.code(4)
        .says("manual (r0-switch-crm-connector)")
        .never_says("manual (r0-switch-magento)");
    let id = ran.run_id();
    let status = work.status(&id).await;
    for found in ["r0-create-new-user", "r0-switch-magento"] {
        assert_eq!(
            step(&status, found)["state"],
            "already_satisfied",
            "{found}: {status:#}"
        );
    }

    roll_back_to_the_creation(&work, &id, Some(&new_user)).await;
    let back = relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    back.code(0)
        .says(&format!("run {id} rolled back"))
        .never_says("switch `magento` back")
        .never_says("deletes the new API user");
    let (integrations, users) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    assert_eq!(integrations["crm-connector"], OLD_USER);
    assert_eq!(users[&new_user], true, "the new user it found is kept");
    no_secrets(&[&refused.text(), &ran.text(), &back.text()], NEW_PASSWORD);
}

/// A switch the plan could not read (its check command was throttled while the plan was made)
/// and that its turn finds made before the run asked anyone: a person made it before this run,
/// so it is not the run's, and a rollback leaves it. (It used to count as the run's, planned
/// "to do", and be switched back.)
#[tokio::test]
async fn a_switch_unread_at_planning_and_found_made_is_never_switched_back() {
    let sandbox = sandbox(crate::dotdigital::FIXTURE).await;
    let binary = env!("CARGO_BIN_EXE_relinker");
    // magento's check cannot tell its first two times (the plan's two readings: the current
    // credential and the new one), then asks the sandbox.
    let check = format!(
        "#!/bin/sh\nif [ \"$(cat tries 2>/dev/null | wc -l)\" -lt 2 ]; then echo x >> tries; exit 2; fi\nexec '{binary}' check-credential --path /_sandbox/integrations/magento/check\n"
    );
    let plan = plan(&sandbox.handle.base_url(), "delete").replace(
        "check: [relinker, check-credential, --path, /_sandbox/integrations/magento/check]",
        "check: [sh, ./check.sh]",
    );
    let work = workspace(&sandbox, &plan);
    std::fs::write(work.path().join("check.sh"), check).unwrap();
    // Before this run: a person made the new user and switched `magento` to it.
    let new_user = person_creates_user(&sandbox, NEW_PASSWORD).await;
    person_configures(&sandbox, "magento", &new_user, NEW_PASSWORD).await;

    let ran = relinker(
        &work,
        &["apply", "plan.yaml", "--yes", "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    ran.code(4)
        .says("r0-switch-magento")
        .says("to check")
        .says("manual (r0-switch-crm-connector)")
        .never_says("manual (r0-switch-magento)");
    let id = ran.run_id();
    let status = work.status(&id).await;
    assert_eq!(
        step(&status, "r0-switch-magento")["state"],
        "already_satisfied",
        "{status:#}"
    );

    roll_back_to_the_creation(&work, &id, Some(&new_user)).await;
    let back = relinker(
        &work,
        &["rollback", &id, "--gate-wait", "0"],
        Some(&new_user),
    )
    .run()
    .await;
    back.code(0)
        .says(&format!("run {id} rolled back"))
        .never_says("switch `magento` back");
    let (integrations, _) = world(&sandbox).await;
    assert_eq!(integrations["magento"], new_user.as_str());
    assert_eq!(integrations["crm-connector"], OLD_USER);
}
