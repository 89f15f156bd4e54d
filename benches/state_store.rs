//! The journal's cost per record and per step on each state store: the local directory
//! (append + `fdatasync`) and PostgreSQL (one committed `INSERT`), on a throwaway server of
//! its own like the tests' (`tests/it/pg.rs`). Also the cost of starting a run (locks, claim
//! check, the plan and `started` record stored at once) and of opening one again.
//!
//! `cargo bench --bench state_store [-- RECORDS]` (default 1000 records per store). Without
//! PostgreSQL's server binaries, the PostgreSQL half is passed over with a note.

// A test or bench stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/it/pg.rs"]
#[allow(dead_code)]
mod pg;

use std::time::{Duration, Instant};

use relinker::ids::{RunId, StepId};
use relinker::journal::{Entry, Run, Started, StateStore, StepEffect};

fn started() -> Started {
    Started {
        format_version: relinker::journal::FORMAT_VERSION,
        plan: "bench".into(),
        plan_sha256: relinker::secret::Fingerprint::of(b"bench"),
        instance: "https://bench.example".into(),
        sandbox: false,
        plan_dir: ".".into(),
        on_failure: None,
        steps: Vec::new(),
        credentials: std::collections::BTreeMap::new(),
        origin: None,
    }
}

struct Measured {
    start: Duration,
    open: Duration,
    records: Vec<Duration>,
}

/// Starts a run, appends `records` records (an `intent` and a `done` per step, as the executor
/// writes them), each timed, then opens the run again.
fn measure(store: &StateStore, records: usize) -> Measured {
    let id = RunId::parse("bench").expect("run id");
    let timer = Instant::now();
    let mut run = Run::start(store, &id, b"version: 1\n", started()).expect("start");
    let start = timer.elapsed();
    let mut appends = Vec::with_capacity(records);
    for i in 0..records {
        let step = StepId::new(format!("r{}-step", i / 2));
        let entry = if i % 2 == 0 {
            Entry::Intent { step }
        } else {
            Entry::Done {
                step,
                effect: StepEffect::Changed,
            }
        };
        let timer = Instant::now();
        run.append(entry).expect("append");
        appends.push(timer.elapsed());
    }
    drop(run);
    let timer = Instant::now();
    let run = Run::open(store, &id).expect("open");
    let open = timer.elapsed();
    assert_eq!(
        run.summary().complete_steps(),
        0,
        "no compiled steps: a bare journal"
    );
    appends.sort();
    Measured {
        start,
        open,
        records: appends,
    }
}

fn report(name: &str, measured: &Measured) {
    let at = |percent: usize| {
        let index = (measured.records.len() - 1) * percent / 100;
        measured.records[index].as_secs_f64() * 1e3
    };
    let mean = measured.records.iter().sum::<Duration>().as_secs_f64() * 1e3
        / f64::from(u32::try_from(measured.records.len()).unwrap_or(u32::MAX));
    println!("{name}");
    println!(
        "  per record            mean {mean:.3} ms, median {:.3} ms, p95 {:.3} ms, max {:.3} ms ({} records)",
        at(50),
        at(95),
        at(100),
        measured.records.len()
    );
    println!(
        "  per step              {:.3} ms (intent + done; a manual step adds a third record)",
        mean * 2.0
    );
    println!(
        "  start a run           {:.2} ms (locks, claim check, plan and started record at once)",
        measured.start.as_secs_f64() * 1e3
    );
    println!(
        "  open it again         {:.2} ms (locks, the whole journal read and replayed)",
        measured.open.as_secs_f64() * 1e3
    );
}

#[tokio::main]
async fn main() {
    let records: usize = std::env::args()
        .skip(1)
        .find_map(|arg| arg.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let local = StateStore::local(&dir.path().join("state")).expect("state dir");
    let measured = tokio::task::spawn_blocking(move || measure(&local, records))
        .await
        .expect("local");
    report(
        "local directory (append + fdatasync, this machine's disk)",
        &measured,
    );

    let Some(server) = pg::TestPostgres::start().await else {
        println!("PostgreSQL: server binaries not installed; passed over");
        return;
    };
    let url = server.url();
    let measured = tokio::task::spawn_blocking(move || {
        let store = StateStore::postgres(&url, Duration::from_secs(20)).expect("postgres store");
        measure(&store, records)
    })
    .await
    .expect("postgres");
    report(
        "PostgreSQL 15 on 127.0.0.1 (one committed INSERT, synchronous_commit on, same disk)",
        &measured,
    );
}
