//! Naming a run without typing its whole id: any unique prefix, or `--last`, in every command
//! that takes a run id; a prefix that fits several runs names them all and picks none.

use crate::harness::{POLICY, RELINK, TestSandbox, Workspace};

#[tokio::test]
async fn a_unique_prefix_or_last_names_a_run_and_an_ambiguous_one_names_the_candidates() {
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RELINK, POLICY);
    // Three runs of the same relink, started in this order; the first two are given up, so
    // that the next may claim the service (once an hour has passed on the instance).
    for id in ["alpha-1", "alpha-2", "beta-1"] {
        work.relinker(&[
            "apply",
            "plan.yaml",
            "--yes",
            "--gate-wait",
            "0",
            "--run-id",
            id,
        ])
        .run()
        .await
        .code(4);
        if id != "beta-1" {
            work.relinker(&["abandon", id, "--reason", "superseded"])
                .run()
                .await
                .code(0);
            // The next plan reads the link from a token minted after the abandoned run's ask.
            sandbox.time_passes(3600).await;
        }
    }

    let ambiguous = work.relinker(&["status", "alpha"]).run().await;
    ambiguous
        .code(2)
        .says("`alpha` is the start of 2 run ids: `alpha-1`, `alpha-2`; give more of the id");
    for command in [
        &["resume", "alpha", "--gate-wait", "0"][..],
        &["rollback", "alpha", "--dry-run"],
        &["abandon", "alpha", "--reason", "x"],
        &["attest", "alpha", "r0-link-webinar-bridge", "--by", "ops"],
    ] {
        work.relinker(command)
            .run()
            .await
            .code(2)
            .says("is the start of 2 run ids");
    }

    // A unique prefix is the run.
    work.relinker(&["status", "alpha-2"])
        .run()
        .await
        .code(0)
        .says("run alpha-2");
    work.relinker(&["status", "be"])
        .run()
        .await
        .code(0)
        .says("run beta-1");
    let last = work
        .relinker(&["status", "--last", "--format", "json"])
        .run()
        .await;
    last.code(0);
    let shown: serde_json::Value = serde_json::from_str(&last.stdout).unwrap();
    assert_eq!(shown[0]["run_id"], "beta-1", "{shown:#}");
    work.relinker(&["rollback", "--last", "--dry-run"])
        .run()
        .await
        .code(0)
        .says("beta-1");

    // Every command acts on the run the prefix names, and only on it.
    sandbox
        .person_links("webinar-bridge", "api.webinar@acme.example")
        .await;
    work.relinker(&["resume", "--last", "--gate-wait", "0"])
        .run()
        .await
        .code(0)
        .says("beta-1");
    assert_eq!(work.status("beta-1").await["status"], "done");
    assert_eq!(work.status("alpha-1").await["status"], "abandoned");
    assert_eq!(work.status("alpha-2").await["status"], "abandoned");
    // An id nothing starts with is no run, as before.
    work.relinker(&["status", "gamma"])
        .run()
        .await
        .code(2)
        .says("no run `gamma`");

    // A shell's Tab (`relinker completions fish` asks relinker so) offers the state store's run
    // ids, with their state, in every command that takes one.
    for command in [
        "status", "resume", "rollback", "abandon", "attest", "export",
    ] {
        let offered = work
            .relinker(&["--", "relinker", command, "alp"])
            .env("COMPLETE", "fish")
            .run()
            .await;
        offered.code(0);
        assert_eq!(
            offered.stdout, "alpha-1\tabandoned\nalpha-2\tabandoned\n",
            "{command}"
        );
    }
    let script = work.relinker(&["completions", "bash"]).run().await;
    script.code(0).says("COMPLETE=\"bash\"");
}
