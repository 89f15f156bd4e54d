//! Runs journaled by earlier versions still resume. `fixtures/journal-822c236/` is a run
//! directory written by relinker at commit 822c236 (before the journal recorded times, effects
//! and provider-neutral steps): a Marketo relink paused at its manual step. Its instance's
//! port is a placeholder, replaced with the test sandbox's. A run in a newer journal format than
//! this binary reads is refused.

use crate::harness::{TestSandbox, Workspace, World, step};

const RUN: &str = "old-paused";
const FILES: [(&str, &str); 3] = [
    (
        "journal.jsonl",
        include_str!("fixtures/journal-822c236/journal.jsonl"),
    ),
    (
        "plan.yaml",
        include_str!("fixtures/journal-822c236/plan.yaml"),
    ),
    (
        "plan.sha256",
        include_str!("fixtures/journal-822c236/plan.sha256"),
    ),
];

/// The 822c236 run in `work`'s state directory, its journal's first line passed through
/// `started`.
fn install(work: &Workspace, sandbox: &TestSandbox, started: impl Fn(&str) -> String) {
    let run_dir = work.path().join("state/runs").join(RUN);
    std::fs::create_dir_all(&run_dir).unwrap();
    let base = sandbox.handle.base_url();
    // The placeholder port changes the plan kept with the run, so the digest the run recorded
    // for it is recorded again: what is under test is reading an old journal, not a plan
    // edited behind the run's back (that is refused: tests/it/tampering.rs).
    let plan = FILES[1].1.replace("http://127.0.0.1:SANDBOX_PORT", &base);
    let digest = relinker::secret::Fingerprint::of(plan.as_bytes());
    let recorded = FILES[2].1.trim();
    for (name, text) in FILES {
        let mut text = text
            .replace("http://127.0.0.1:SANDBOX_PORT", &base)
            .replace(recorded, digest.as_str());
        if name == "journal.jsonl" {
            let (first, rest) = text.split_once('\n').unwrap();
            text = format!("{}\n{rest}", started(first));
        }
        std::fs::write(run_dir.join(name), text).unwrap();
    }
}

#[tokio::test]
async fn a_run_journaled_at_822c236_resumes_and_finishes() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, "", "");
    // Before journals named their format: read as format 1.
    install(&work, &sandbox, str::to_owned);

    // Read as it was written: paused at the relink, nothing done.
    let status = work.status(RUN).await;
    assert_eq!(status["status"], "paused", "{status}");
    assert_eq!(
        step(&status, "r0-link-webinar-bridge")["state"],
        "waiting_for_person"
    );
    assert_eq!(
        World::of(&sandbox).await.linked("webinar-bridge"),
        "carol@acme.example"
    );

    // A person relinks in the UI; the old run resumes with today's relinker and finishes.
    sandbox
        .person_links("webinar-bridge", "api.webinar@acme.example")
        .await;
    work.relinker(&["resume", RUN, "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says(&format!("run {RUN} done"))
        .says("with unchanged credentials")
        // Its credentials were fingerprinted with unsalted SHA-256: compared so, and said.
        .says("recorded its credentials as unsalted SHA-256 fingerprints (an older relinker started it): they are compared the old way");
    let status = work.status(RUN).await;
    assert_eq!(status["status"], "done");
    // The person acted after the run asked: the relink is the run's effect.
    assert_eq!(step(&status, "r0-link-webinar-bridge")["state"], "applied");
}

/// A run started by a relinker writing a newer journal format is refused, not misread.
#[tokio::test]
async fn a_run_in_a_newer_journal_format_is_refused() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, "", "");
    install(&work, &sandbox, |started| {
        started.replacen('{', "{\"format_version\":2,", 1)
    });
    for command in ["status", "resume"] {
        work.relinker(&[command, RUN])
            .run()
            .await
            .code(2)
            .says(&format!(
                "run `{RUN}` is written in journal format 2, newer than this relinker reads (1)"
            ));
    }
    assert_eq!(
        World::of(&sandbox).await.linked("webinar-bridge"),
        "carol@acme.example"
    );
}
