//! A person's word, taken only where and when it means something: a step may be attested once
//! the run asked for it and every step before it holds, going forward and going back, and a
//! second attestation of the same ask is the same word, not a second record.

use reqwest::Method;

use crate::harness::{Workspace, step};
use crate::movius::{person_adds_the_new_user, person_switches, plan, relinker, sandbox};

/// The journal's lines of one kind for one step.
fn journaled(work: &Workspace, run: &str, kind: &str, step: &str) -> usize {
    let journal =
        std::fs::read_to_string(work.path().join(format!("state/runs/{run}/journal.jsonl")))
            .unwrap();
    journal
        .lines()
        .filter(|l| {
            l.contains(&format!("\"kind\":\"{kind}\""))
                && l.contains(&format!("\"step\":\"{step}\""))
        })
        .count()
}

#[tokio::test]
async fn only_a_due_step_is_attested_and_only_once() {
    let sandbox = sandbox().await;
    let work = Workspace::with_files(&plan(&sandbox.handle.base_url()), &[]);
    let attest =
        |id: &str, step: &str| relinker(&work, &["attest", id, step, "--by", "Sam Admin"]).run();
    let first = relinker(&work, &["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first.code(4);
    let id = first.run_id();

    // Right after apply, the phase's steps are due, in any order; not its proof (it comes after
    // them), not the deletion (a phase of its own, later).
    for not_yet in ["r0-delete-old-user", "r0-verify"] {
        attest(&id, not_yet)
            .await
            .code(2)
            .says(&format!("`{not_yet}` is not due"))
            .says("what may be attested now: `r0-add-new-user`, `r0-switch-dialer`");
    }
    attest(&id, "r0-no-such-step")
        .await
        .code(2)
        .says("has no step");

    // Once, and a second time is the same word.
    attest(&id, "r0-add-new-user")
        .await
        .code(0)
        .says("recorded");
    attest(&id, "r0-add-new-user")
        .await
        .code(0)
        .says("already attested by Sam Admin at");
    // With the user and the dialer's switch attested, the proof still waits for the salesforce
    // switch, which only its check command can show.
    attest(&id, "r0-switch-dialer").await.code(0);
    attest(&id, "r0-verify").await.code(2).says("not due");

    // The person does what was asked; the run takes in each attestation once.
    person_adds_the_new_user(&sandbox, &work).await;
    person_switches(&sandbox, "salesforce", "api.multiline@acme.example").await;
    person_switches(&sandbox, "dialer", "api.multiline@acme.example").await;
    relinker(&work, &["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .says("r0-switch-salesforce: done (its check command passes)")
        .says("r0-verify");
    assert_eq!(journaled(&work, &id, "attested", "r0-add-new-user"), 1);
    let status = work.status(&id).await;
    assert_eq!(step(&status, "r0-add-new-user")["state"], "applied");
    assert_eq!(step(&status, "r0-verify")["state"], "waiting_for_person");

    // Now the proof is due; the deletion is not, until the proof holds.
    attest(&id, "r0-delete-old-user")
        .await
        .code(2)
        .says("not due");
    attest(&id, "r0-verify").await.code(0);
    relinker(&work, &["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .says("r0-verify: attested, not verified")
        .says("manual (r0-delete-old-user)");
    sandbox
        .control(
            Method::DELETE,
            "/_sandbox/api-users/jane.doe@acme.example",
            None,
        )
        .await;
    attest(&id, "r0-delete-old-user").await.code(0);
    relinker(&work, &["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says(&format!("run {id} done"));
    for attested in [
        "r0-add-new-user",
        "r0-switch-dialer",
        "r0-verify",
        "r0-delete-old-user",
    ] {
        assert_eq!(journaled(&work, &id, "attested", attested), 1, "{attested}");
    }
}

#[tokio::test]
async fn going_back_an_undo_is_attested_only_once_the_undos_before_it_are_done() {
    let sandbox = sandbox().await;
    let work = Workspace::with_files(&plan(&sandbox.handle.base_url()), &[]);
    let attest =
        |id: &str, step: &str| relinker(&work, &["attest", id, step, "--by", "Sam Admin"]).run();
    let first = relinker(&work, &["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    let id = first.run_id();
    attest(&id, "r0-add-new-user").await.code(0);

    // Rollback asks for every undo of the phase at once, newest first: the dialer's switch
    // back can be attested; the new user's deletion waits until the salesforce switch is seen
    // back (by its check command): no user is deleted while an integration may still use it.
    relinker(&work, &["rollback", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .says("rollback waits");
    attest(&id, "r0-add-new-user")
        .await
        .code(2)
        .says("`r0-add-new-user` is not due");
    attest(&id, "r0-switch-dialer")
        .await
        .code(0)
        .says("undo of `r0-switch-dialer`");
    attest(&id, "r0-switch-dialer")
        .await
        .code(0)
        .says("already attested");
}
