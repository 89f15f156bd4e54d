//! Who did what (#26 item 10): a run records who started it and where, `status` shows it, and
//! `relinker export RUN` gives an auditor the whole record (plan, steps, evidence,
//! attestations, times), verified, self-contained and without a secret, before `prune`
//! removes the run.

use std::os::unix::fs::PermissionsExt as _;

use serde_json::Value;

use crate::harness::{POLICY, RENAME, TestSandbox, Workspace, assert_no_secrets};

#[tokio::test]
async fn a_run_says_who_started_it_and_exports_its_whole_record() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    // Started from a GitHub Actions job by `dana`.
    let applied = work
        .apply(&[])
        .env("USER", "dana")
        .env("GITHUB_RUN_ID", "4242")
        .env("GITHUB_REPOSITORY", "acme/plans")
        .env("GITHUB_SERVER_URL", "https://github.com")
        .run()
        .await;
    applied.code(0);
    let id = applied.run_id();
    let job = "https://github.com/acme/plans/actions/runs/4242";

    // `status` says who and where, in words and as JSON.
    work.relinker(&["status", &id])
        .run()
        .await
        .code(0)
        .says(" by dana on ")
        .says(&format!("(CI job {job})"));
    let status = work.status(&id).await;
    assert_eq!(status["started_by"]["user"], "dana", "{status:#}");
    assert_eq!(status["started_by"]["ci_job"], job);

    // The export: to a 0600 file, from another directory naming the state by path.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("audit.json");
    let state = work.path().join("state");
    work.relinker(&["export", &id[..12], "--out", out.to_str().unwrap()])
        .current_dir(elsewhere.path())
        .env("RELINKER_STATE_DIR", &state)
        .run()
        .await
        .code(0)
        .says(&format!("run {id} exported to"));
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the record is the team's, not the machine's");
    let text = std::fs::read_to_string(&out).unwrap();
    assert_no_secrets(&[&text]);
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["format_version"], 1);
    assert_eq!(record["run_id"], id.as_str());
    assert_eq!(record["started_by"]["user"], "dana");
    assert_eq!(record["status"]["status"], "done");
    assert!(
        record["journal_chain"]
            .as_str()
            .unwrap()
            .starts_with("verified")
    );
    let plan = std::fs::read_to_string(work.path().join("plan.yaml")).unwrap();
    assert_eq!(
        record["plan"]["text"],
        plan.as_str(),
        "the plan the run ran"
    );
    let kinds: Vec<&str> = record["journal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"finished"));
    for kind in ["intent", "made", "done", "attested"] {
        assert!(kinds.contains(&kind), "no `{kind}` record: {kinds:?}");
    }
    assert!(
        record["journal"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["at"].is_string()),
        "every record has its time"
    );
    // The same record on stdout, with `--last`.
    let stdout = work.relinker(&["export", "--last"]).run().await;
    stdout.code(0);
    let again: Value = serde_json::from_str(&stdout.stdout).unwrap();
    assert_eq!(again["journal"], record["journal"]);

    // A journal edited in the store is not exported as if relinker wrote it.
    let journal = work.path().join(format!("state/runs/{id}/journal.jsonl"));
    let original = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, original.replace("dana", "mallory")).unwrap();
    let refused = work.relinker(&["export", &id]).run().await;
    assert_ne!(refused.code, Some(0), "{}", refused.text());
    assert!(refused.stdout.is_empty(), "{}", refused.stdout);
    refused.says("journal");
    std::fs::write(&journal, original).unwrap();

    // Once pruned, there is nothing to export: export first.
    work.relinker(&["prune", "--older-than", "0s"])
        .run()
        .await
        .code(0);
    work.relinker(&["export", &id]).run().await.code(2);
}
