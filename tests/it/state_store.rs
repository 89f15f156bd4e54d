//! The PostgreSQL state store, on a throwaway server of the test's own: the executor's crash,
//! lock and resume guarantees hold on it as on the local directory (the same scenarios, each
//! second runner in another working directory), and the database's own failure modes: a
//! server that does not answer, a schema newer than the binary or with an edited migration, a
//! URL whose password must never be shown.

use serde_json::json;

use crate::executor::{
    assert_renamed, crash_at_every_request, kill_hard, pause_then_resume_once_done,
    prune_keeps_unfinished_runs, second_runner_on_the_same_user, wait_for_fault,
};
use crate::harness::{POLICY, RENAME, Relinker, TestSandbox, Workspace, World};
use crate::pg::TestPostgres;

#[tokio::test]
async fn on_postgres_a_crash_at_any_request_resumes_from_another_runner() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    crash_at_every_request(Some(&pg)).await;
}

#[tokio::test]
async fn on_postgres_a_second_runner_on_the_same_user_exits_3_naming_the_first() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    second_runner_on_the_same_user(Some(&pg)).await;
}

#[tokio::test]
async fn on_postgres_a_paused_run_resumes_from_another_runner_once_a_person_acted() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    pause_then_resume_once_done(Some(&pg)).await;
}

#[tokio::test]
async fn on_postgres_prune_removes_old_finished_runs_only() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    prune_keeps_unfinished_runs(Some(&pg)).await;
}

/// Every runner sees every run: one applied here, one paused there, both listed from a third
/// directory, and `resume --all` from it finishes the paused one.
#[tokio::test]
async fn on_postgres_status_and_resume_all_see_every_runners_runs() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    let url = pg.url();
    let sandbox = TestSandbox::start().await;
    let here = Workspace::new(&sandbox, RENAME, POLICY).with_state(Some(&url));
    here.apply(&["--run-id", "here"]).run().await.code(0);
    // A second run there, on another instance, killed mid-run.
    let other = TestSandbox::start().await;
    let there = Workspace::new(&other, RENAME, POLICY).with_state(Some(&url));
    other
        .add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "hang"}, "times": 1}))
        .await;
    let mut child = there.apply(&["--run-id", "there"]).spawn();
    assert!(wait_for_fault(&other, "hang").await);
    kill_hard(&mut child).await;
    other.clear_faults().await;

    let third = Workspace::new(&sandbox, RENAME, POLICY).with_state(Some(&url));
    assert_eq!(third.run_ids().await, ["here", "there"]);
    assert_eq!(third.status("here").await["status"], "done");
    assert_ne!(third.status("there").await["status"], "done");
    third
        .relinker(&["resume", "--all", "--gate-wait", "0", "--sandbox-operator"])
        .run()
        .await
        .code(0);
    assert_eq!(third.status("there").await["status"], "done");
    // Nothing was written to a state directory anywhere.
    for work in [&here, &there, &third] {
        assert!(!work.path().join("state").exists());
    }
}

/// A database that does not answer: exit 1 within the bounded wait, saying which database
/// (without its password) and that the command stopped.
#[tokio::test]
async fn an_unreachable_database_is_a_clear_error_without_its_password() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let url = format!("postgres://ops:hunter2-secret@127.0.0.1:{port}/relinker");
    let ran = Relinker::new(&["status"])
        .env("RELINKER_STATE", &url)
        .run()
        .await;
    ran.code(1)
        .says(&format!("postgres://ops@127.0.0.1:{port}/relinker"))
        .never_says("hunter2-secret");
    // The same through a reference, and a reference that does not resolve.
    let ran = Relinker::new(&["status", "--state", "${env:STATE_URL}"])
        .env("STATE_URL", &url)
        .run()
        .await;
    ran.code(1).never_says("hunter2-secret");
    Relinker::new(&["status", "--state", "${env:NOT_SET_ANYWHERE}"])
        .run()
        .await
        .code(2)
        .says("NOT_SET_ANYWHERE");
    Relinker::new(&["status", "--state", "/var/lib/relinker"])
        .run()
        .await
        .code(2)
        .says("--state-dir");
}

/// A database that takes the connection and never answers: the wait is bounded
/// (`RELINKER_STATE_WAIT`), then exit 1 saying so.
#[tokio::test]
async fn a_database_that_never_answers_is_given_up_on_after_the_wait() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let ran = Relinker::new(&["status"])
        .env(
            "RELINKER_STATE",
            format!("postgres://ops:hunter2-secret@127.0.0.1:{port}/relinker"),
        )
        .env("RELINKER_STATE_WAIT", "1s")
        .run()
        .await;
    holder.abort();
    ran.code(1)
        .says(&format!(
            "`postgres://ops@127.0.0.1:{port}/relinker` did not answer within 1s"
        ))
        .never_says("hunter2-secret");
}

/// A schema migrated by a newer relinker is refused, not written to.
#[tokio::test]
async fn a_database_migrated_by_a_newer_relinker_is_refused() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    let status = Relinker::new(&["status"])
        .env("RELINKER_STATE", pg.url())
        .run()
        .await;
    status.code(0).says("no runs");
    pg.query("INSERT INTO relinker.schema_version (version) VALUES (99)")
        .await;
    Relinker::new(&["status"])
        .env("RELINKER_STATE", pg.url())
        .run()
        .await
        .code(2)
        .says("schema version 99, newer than this relinker knows (2)");
}

/// A schema an older relinker made (migrations recorded by number only) opens and gets each
/// migration's checksum; a migration recorded with another checksum than this binary's was
/// edited after it ran, and is refused (exit 2), naming it, with nothing migrated or written.
#[tokio::test]
async fn a_migration_edited_after_it_ran_is_refused() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    let status = || {
        Relinker::new(&["status"])
            .env("RELINKER_STATE", pg.url())
            .run()
    };
    status().await.code(0).says("no runs");
    // As relinker left it before migrations had checksums.
    pg.query("DELETE FROM relinker.schema_version WHERE version = 2")
        .await;
    pg.query("ALTER TABLE relinker.schema_version DROP COLUMN sha256")
        .await;
    status().await.code(0).says("no runs");
    let recorded = || async {
        pg.query("SELECT version, sha256 FROM relinker.schema_version ORDER BY version")
            .await
            .iter()
            .map(|row| (row.get::<_, i32>(0), row.get::<_, Option<String>>(1)))
            .collect::<Vec<_>>()
    };
    let checksums = recorded().await;
    assert_eq!(
        checksums,
        [
            (
                1,
                Some("e3499c511ec0488e7c0c2e1049c540d8a37c2389663484f5948ec539191a34ce".into())
            ),
            (
                2,
                Some("8ec4833aab61b0645f629fab2b1e31e82c414a25a8eee4682f45a0f058d52035".into())
            ),
        ]
    );
    pg.query("UPDATE relinker.schema_version SET sha256 = 'edited' WHERE version = 1")
        .await;
    status()
        .await
        .code(2)
        .says("recorded relinker's schema migration 1 (runs, journal, attestations and lock holders) with SHA-256 edited, but this relinker's migration 1 has SHA-256 e3499c511ec0488e7c0c2e1049c540d8a37c2389663484f5948ec539191a34ce")
        .says("was edited after it ran");
    assert_eq!(
        recorded().await[0].1.as_deref(),
        Some("edited"),
        "left as found"
    );
}

/// `state migrate` copies a directory's runs, finished and unfinished, record for record;
/// leaves one a process works on for later (exit 3); copies only what is missing the second
/// time; and the unfinished run resumes from the database in another directory.
#[tokio::test]
async fn state_migrate_moves_every_run_without_losing_a_record() {
    let Some(pg) = TestPostgres::start().await else {
        return;
    };
    let url = pg.url();
    let sandbox = TestSandbox::start().await;
    let work = Workspace::new(&sandbox, RENAME, POLICY);
    work.apply(&["--run-id", "done"]).run().await.code(0);
    // A second run, on another instance, stuck mid-run while the first migration runs.
    let other = TestSandbox::start().await;
    let cut = Workspace::new(&other, RENAME, POLICY);
    let state_dir = work.path().join("state");
    other
        .add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "hang"}, "times": 1}))
        .await;
    let mut child = cut
        .apply(&["--run-id", "cut"])
        .env("RELINKER_STATE_DIR", &state_dir)
        .spawn();
    assert!(wait_for_fault(&other, "hang").await);
    let migrate = ["state", "migrate", "--from", "state", "--to", &url];
    work.relinker(&migrate)
        .run()
        .await
        .code(3)
        .says("copied run done")
        .says("left run cut: a process works on it now");
    kill_hard(&mut child).await;
    other.clear_faults().await;
    work.relinker(&migrate)
        .run()
        .await
        .code(0)
        .says("copied run cut (unfinished)")
        .says("copied 1 run(s) (1 unfinished)")
        .says("1 were there already");

    // Record for record: the database holds exactly the journal lines.
    for run in ["done", "cut"] {
        let local: Vec<serde_json::Value> =
            std::fs::read_to_string(state_dir.join(format!("runs/{run}/journal.jsonl")))
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
        let stored: Vec<serde_json::Value> = pg
            .query(&format!(
                "SELECT record FROM relinker.journal WHERE run_id = '{run}' ORDER BY seq"
            ))
            .await
            .iter()
            .map(|row| serde_json::from_str(row.get::<_, &str>(0)).unwrap())
            .collect();
        assert!(local.len() >= 2, "{run}: {local:?}");
        assert_eq!(stored, local, "run {run}");
    }

    // The unfinished run goes on from the database, in another directory.
    let elsewhere = Workspace::new(&other, RENAME, POLICY).with_state(Some(&url));
    elsewhere
        .relinker(&["resume", "cut", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0);
    assert_eq!(elsewhere.status("cut").await["status"], "done");
    assert_eq!(elsewhere.run_ids().await, ["cut", "done"]);
}

/// The database goes away while a run waits on an answer: the run's next record cannot be
/// stored, so it stops (exit 1) saying which database, before acting again; once the database
/// is back, `resume` converges.
#[tokio::test]
async fn a_database_gone_mid_run_stops_it_and_resume_converges_once_it_is_back() {
    let Some(mut pg) = TestPostgres::start().await else {
        return;
    };
    let url = pg.url();
    let sandbox = TestSandbox::start().await;
    let users = World::of(&sandbox).await.users().len();
    let work = Workspace::new(&sandbox, RENAME, POLICY).with_state(Some(&url));
    // Any command creates the schema; the test watches the journal table from the start.
    work.relinker(&["status"]).run().await.code(0);
    sandbox
        .add_fault(json!({"method": "POST", "path": "/userservice/*/update.json", "action": {"kind": "latency", "ms": 3000}, "times": 1}))
        .await;
    let child = work.apply(&["--run-id", "gone"]).spawn_captured();
    let announced = "SELECT record FROM relinker.journal WHERE run_id = 'gone' \
                     AND record LIKE '%\"intent\"%' AND record LIKE '%r0-update-user%'";
    let mut waited = 0;
    while pg.query(announced).await.is_empty() {
        waited += 1;
        assert!(waited < 400, "the rename was never announced");
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    pg.stop();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot append to a journal in `{url}`")),
        "{stderr}"
    );
    // The message says where the run is and the command that goes on.
    assert!(
        stderr.contains("run gone stopped") && stderr.contains("`relinker resume gone`"),
        "{stderr}"
    );
    pg.restart().await;
    work.relinker(&["resume", "gone", "--sandbox-operator", "--gate-wait", "0"])
        .run()
        .await
        .code(0);
    assert_renamed(&World::of(&sandbox).await, users);
}

/// TLS to a server with `ssl=on` and a certificate signed by a CA the test made: `verify-full`
/// connects (over TLS, as the server logs it) by name and by address; a name the certificate
/// does not carry is refused though the chain holds, which `verify-ca` accepts; the CA is no
/// system's, so a host on another machine, which gets `verify-full` against the system's CAs
/// by default, is refused; and `sslmode=disable` on loopback still connects, in plain text.
#[tokio::test]
async fn on_postgres_over_tls_verify_full_checks_the_name_and_disable_stays_plain_on_loopback() {
    let Some(pg) = TestPostgres::start_tls().await else {
        return;
    };
    let (port, ca) = (pg.port(), pg.ca().display().to_string());
    let status = |url: String| async move {
        Relinker::new(&["status"])
            .env("RELINKER_STATE", url)
            .env("RELINKER_STATE_WAIT", "10s")
            .run()
            .await
    };
    let relinker_connections = |pg: &TestPostgres| -> (usize, usize) {
        let log = pg.log();
        let lines: Vec<&str> = log
            .lines()
            .filter(|line| {
                line.contains("connection authorized") && line.contains("application_name=relinker")
            })
            .collect();
        let tls = lines
            .iter()
            .filter(|line| line.contains("SSL enabled"))
            .count();
        (tls, lines.len() - tls)
    };

    for host in ["localhost", "127.0.0.1"] {
        status(format!(
            "postgres://postgres@{host}:{port}/postgres?sslmode=verify-full&sslrootcert={ca}"
        ))
        .await
        .code(0)
        .says("no runs");
    }
    let (tls, plain) = relinker_connections(&pg);
    assert!(tls >= 2 && plain == 0, "{}", pg.log());

    let elsewhere = format!("postgres://postgres@db.example:{port}/postgres?hostaddr=127.0.0.1");
    status(format!("{elsewhere}&sslmode=verify-full&sslrootcert={ca}"))
        .await
        .code(1)
        .says("certificate not valid for name \"db.example\"");
    status(format!("{elsewhere}&sslmode=verify-ca&sslrootcert={ca}"))
        .await
        .code(0);
    status(elsewhere.clone())
        .await
        .code(1)
        .says(&format!(
            "cannot connect to `postgres://postgres@db.example:{port}/postgres`"
        ))
        .says("invalid peer certificate");

    status(format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .await
    .code(0);
    let (_, plain) = relinker_connections(&pg);
    assert!(plain >= 1, "{}", pg.log());

    // A password goes through SCRAM, over TLS bound to the channel (tokio-postgres refuses
    // without it, under channel_binding=require), and without TLS on loopback: the watch for
    // clear-text requests lets SCRAM by.
    pg.query("CREATE ROLE scram LOGIN SUPERUSER PASSWORD 'scram-secret'")
        .await;
    pg.hba_first("host all scram 127.0.0.1/32 scram-sha-256")
        .await;
    status(format!(
        "postgres://scram:scram-secret@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={ca}&channel_binding=require"
    ))
    .await
    .code(0);
    status(format!(
        "postgres://scram:scram-secret@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .await
    .code(0);
    status(format!(
        "postgres://scram:wrong@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .await
    .code(1)
    .says("password authentication failed for user \"scram\"");
}
