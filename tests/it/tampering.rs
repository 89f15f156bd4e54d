//! The state store holds records, not authority: a run whose stored plan or journal was edited
//! is refused before anything is sent or run; with a state key, a store writer without it can
//! neither rebuild a run nor slip in a person's word.

use serde_json::Value;

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace, assert_no_secrets};

/// The state key the runners of these tests share, and where it lives.
const KEY: (&str, &str) = ("T_STATE_KEY", "0n3-k3y-f0r-all-runners");

/// A run of the rename, paused (unattended) at its first gate.
async fn paused(sandbox: &TestSandbox, keyed: bool) -> (Workspace, String) {
    let work = Workspace::new(sandbox, RENAME, POLICY);
    let mut apply = work.relinker(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"]);
    if keyed {
        apply = apply
            .env(KEY.0, KEY.1)
            .env("RELINKER_STATE_KEY", format!("${{env:{}}}", KEY.0));
    }
    let ran = apply.run().await;
    ran.code(4);
    let id = ran.run_id();
    (work, id)
}

fn run_file(work: &Workspace, id: &str, name: &str) -> std::path::PathBuf {
    work.path().join(format!("state/runs/{id}/{name}"))
}

/// Rewrites every journal line through `edit`.
fn edit_journal(work: &Workspace, id: &str, edit: impl Fn(&mut Value)) {
    let path = run_file(work, id, "journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = String::new();
    for line in text.lines() {
        let mut record: Value = serde_json::from_str(line).unwrap();
        edit(&mut record);
        out.push_str(&serde_json::to_string(&record).unwrap());
        out.push('\n');
    }
    std::fs::write(&path, out).unwrap();
}

#[tokio::test]
async fn an_edited_stored_plan_is_refused_and_its_new_host_hears_nothing() {
    let sandbox = TestSandbox::start().await;
    let elsewhere = TestSandbox::start().await;
    let (work, id) = paused(&sandbox, false).await;
    // Someone with write access to the store points the paused run at their own host.
    let plan = run_file(&work, &id, "plan.yaml");
    let text = std::fs::read_to_string(&plan).unwrap();
    std::fs::write(
        &plan,
        text.replace(&sandbox.handle.base_url(), &elsewhere.handle.base_url()),
    )
    .unwrap();
    let resumed = work
        .relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await;
    resumed
        .code(2)
        .says(&format!("run `{id}` does not verify"))
        .says("the plan kept with the run is not the one it started with");
    assert_eq!(
        elsewhere.requests().await["total"],
        0,
        "the edited plan's host was never called"
    );
    work.relinker(&["rollback", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(2)
        .says("does not verify");
    assert_no_secrets(&[&resumed.text()]);
}

#[tokio::test]
async fn an_edited_journal_is_refused_at_its_first_bad_record_and_runs_nothing() {
    let sandbox = TestSandbox::start().await;
    let (work, id) = paused(&sandbox, false).await;
    // The temporary user's creation is rewritten to create an account of the editor's.
    edit_journal(&work, &id, |record| {
        if record["kind"] == "started" {
            record["steps"][0]["action"]["user"] = "mallory@evil.example".into();
        }
    });
    let before = sandbox.requests().await["state_changing"].clone();
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(2)
        .says(&format!("run `{id}` does not verify: record 2"))
        .says("a record was edited, removed or added");
    work.relinker(&[
        "attest",
        &id,
        "r0-link-salesforce-sync-to-temporary-user",
        "--by",
        "x",
    ])
    .run()
    .await
    .code(2)
    .says("does not verify");
    assert_eq!(sandbox.requests().await["state_changing"], before);
}

#[tokio::test]
async fn with_a_state_key_a_store_writer_can_neither_rebuild_a_run_nor_forge_a_word() {
    let sandbox = TestSandbox::start().await;
    let (work, id) = paused(&sandbox, true).await;
    let keyed = |args: &[&str]| {
        work.relinker(args)
            .env(KEY.0, KEY.1)
            .env("RELINKER_STATE_KEY", format!("${{env:{}}}", KEY.0))
    };
    let journal = std::fs::read_to_string(run_file(&work, &id, "journal.jsonl")).unwrap();
    assert!(journal.contains("\"prev\":\"hmac-sha256:"), "{journal}");
    assert!(!journal.contains(KEY.1), "the key is never written");
    // Without the key, the run is not relinker's to act on.
    work.relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(2)
        .says("set RELINKER_STATE_KEY");
    // Links stripped, as if written before records were linked: no downgrade with a key.
    edit_journal(&work, &id, |record| {
        record.as_object_mut().unwrap().remove("prev");
    });
    keyed(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(2)
        .says("carry no links");
    // Not a plain key either: the key is only ever a reference.
    work.relinker(&["status"])
        .env("RELINKER_STATE_KEY", KEY.1)
        .run()
        .await
        .code(2)
        .says("never the key itself")
        .never_says(KEY.1);
}

#[tokio::test]
async fn with_a_state_key_an_attestation_written_into_the_store_is_not_taken() {
    let movius = crate::movius::sandbox().await;
    let work = Workspace::with_files(&crate::movius::plan(&movius.handle.base_url()), &[]);
    let keyed = |args: &[&str]| {
        crate::movius::relinker(&work, args)
            .env(KEY.0, KEY.1)
            .env("RELINKER_STATE_KEY", format!("${{env:{}}}", KEY.0))
    };
    let first = keyed(&["apply", "plan.yaml", "--yes", "--gate-wait", "0"])
        .run()
        .await;
    first.code(4);
    let id = first.run_id();
    // A store writer appends an attestation of their own.
    let attestations = run_file(&work, &id, "attestations.jsonl");
    let forged =
        "{\"at\":\"2026-12-07T10:00:00.000Z\",\"step\":\"r0-add-new-user\",\"by\":\"Mallory\"}\n";
    std::fs::write(&attestations, forged).unwrap();
    keyed(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .never_says("r0-add-new-user: attested");
    assert_ne!(
        crate::harness::step(&work.status(&id).await, "r0-add-new-user")["state"],
        "applied"
    );
    // A person's word through `relinker attest` is sealed, and taken.
    keyed(&["attest", &id, "r0-add-new-user", "--by", "Sam Admin"])
        .run()
        .await
        .code(0);
    assert!(
        std::fs::read_to_string(&attestations)
            .unwrap()
            .contains("\"seal\":\"hmac-sha256:")
    );
    keyed(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await
        .code(4)
        .says("r0-add-new-user: attested, not verified");
}

#[tokio::test]
async fn a_run_written_before_records_were_linked_is_read_with_a_warning() {
    let sandbox = TestSandbox::start().await;
    let (work, id) = paused(&sandbox, false).await;
    edit_journal(&work, &id, |record| {
        record.as_object_mut().unwrap().remove("prev");
    });
    for service in ["salesforce-sync", "reporting-export"] {
        sandbox
            .person_links(service, "relinker-temp@acme.example")
            .await;
    }
    let resumed = work
        .relinker(&["resume", &id, "--gate-wait", "0"])
        .run()
        .await;
    resumed
        .code(4)
        .says("written before records were linked")
        .says("r0-update-user");
    // It stays as it was written: the records it appends carry no links either.
    let journal = std::fs::read_to_string(run_file(&work, &id, "journal.jsonl")).unwrap();
    assert!(!journal.contains("\"prev\""), "{journal}");
}
