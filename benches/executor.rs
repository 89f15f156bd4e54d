//! The executor under load: 50 independent renames in one run against a sandbox limited to
//! 100 calls per 2 s and 10 in flight, with 150 ms latency on every call; and the journal's cost
//! per record.
//!
//! Runs the release binary (`relinker apply`) as a person would, against a sandbox served
//! in-process on 127.0.0.1:0, with the sandbox operator playing the person at manual steps.
//! Reports the share of the rate limit the execution phase used (User Management calls per
//! window over the limit, from the sandbox's timestamped request log) and the 606/615 answers.
//!
//! `cargo bench --bench executor [-- ROTATIONS]` (default 50).

// A test or bench stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Counts and milliseconds here are far below 2^52, and `main` reads as one scenario.
#![allow(clippy::cast_precision_loss, clippy::too_many_lines)]

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use relinker::ids::{RunId, StepId};
use relinker::journal::{Entry, Run, Started, StateStore};
use relinker::limits::RateLimit;
use relinker::sandbox::SandboxHandle;
use relinker::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};

fn fixture(rotations: usize) -> String {
    let mut text = String::from(
        "users:\n  - { userid: admin@bench.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
    );
    for i in 0..rotations {
        let _ = writeln!(
            text,
            "  - {{ userid: person{i}@bench.example, first_name: P, last_name: '{i}', api_only: true, roles: [{{ role: Standard User, workspace: World }}] }}"
        );
    }
    text.push_str("services:\n  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@bench.example, admin: true }\n");
    for i in 0..rotations {
        let _ = writeln!(
            text,
            "  - {{ name: svc-{i}, client_id: svc-{i}-id, client_secret: svc-{i}-secret, user: person{i}@bench.example }}"
        );
    }
    text
}

fn plan(base_url: &str, rotations: usize) -> String {
    let mut text = format!(
        "version: 1\nname: bench\ninstance:\n  provider: marketo\n  base_url: {base_url}\n  client_id: admin-id\n  client_secret: ${{env:ADMIN_SECRET}}\n  limits: {{ rate: 100/2s, concurrency: 10 }}\nservices:\n"
    );
    for i in 0..rotations {
        let _ = writeln!(
            text,
            "  - {{ name: svc-{i}, client_id: svc-{i}-id, client_secret: \"${{env:SVC_{i}_SECRET}}\" }}"
        );
    }
    text.push_str("rotations:\n");
    for i in 0..rotations {
        let _ = writeln!(
            text,
            "  - rename: {{ user: person{i}@bench.example, email: api{i}@bench.example, temporary_user: temp{i}@bench.example, services: [svc-{i}] }}"
        );
    }
    let _ = writeln!(text, "policy:\n  max_deletions: {rotations}");
    text
}

#[tokio::main]
async fn main() {
    let rotations: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(50);
    let limit = RateLimit {
        calls: 100,
        window: Duration::from_secs(2),
    };
    let fixture = Fixture::parse(&fixture(rotations), "bench fixture").expect("fixture");
    let config = SandboxConfig {
        rate_limit: limit,
        concurrency: 10,
        ..SandboxConfig::default()
    };
    let sandbox = SandboxHandle::start(Sandbox::new(config, &fixture), "127.0.0.1:0")
        .await
        .expect("bind");
    let base = sandbox.base_url();
    let http = reqwest::Client::new();
    http.post(format!("{base}/_sandbox/faults"))
        .json(&serde_json::json!({"path": "/", "action": {"kind": "latency", "ms": 150}}))
        .send()
        .await
        .expect("fault");

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("plan.yaml"), plan(&base, rotations)).expect("plan");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args([
            "apply",
            "plan.yaml",
            "--yes",
            "--sandbox-operator",
            "--gate-wait",
            "0",
            "--state-dir",
            "state",
        ])
        .current_dir(dir.path())
        .env("ADMIN_SECRET", "admin-secret")
        .stdout(std::process::Stdio::null());
    for i in 0..rotations {
        command.env(format!("SVC_{i}_SECRET"), format!("svc-{i}-secret"));
    }
    let started = Instant::now();
    let status = command.status().await.expect("run relinker");
    let elapsed = started.elapsed();
    assert!(status.success(), "apply failed: {status}");

    let report: serde_json::Value = http
        .get(format!("{base}/_sandbox/requests"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    sandbox.stop().await;
    let requests = report["requests"].as_array().expect("requests");
    let is_um = |r: &&serde_json::Value| {
        r["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/userservice/"))
    };
    // The execution phase starts at the first change (planning reads come before it).
    let first_change = requests
        .iter()
        .position(|r| r["method"] == "POST")
        .expect("a change");
    let execution: Vec<&serde_json::Value> =
        requests[first_change..].iter().filter(is_um).collect();
    let start_ms = requests[first_change]["at_ms"].as_u64().unwrap_or(0);
    let end_ms = execution
        .last()
        .and_then(|r| r["at_ms"].as_u64())
        .unwrap_or(start_ms);
    let windows = (end_ms - start_ms) as f64 / limit.window.as_millis() as f64;
    let share = execution.len() as f64 / windows / f64::from(limit.calls);
    let planning_um = requests[..first_change].iter().filter(is_um).count();

    // Journal cost: append + fsync per record, on this machine's disk.
    let state = tempfile::tempdir().expect("tempdir");
    let state = StateStore::local(state.path()).expect("state dir");
    let started = Started {
        format_version: relinker::journal::FORMAT_VERSION,
        plan: "bench".into(),
        plan_sha256: relinker::secret::Fingerprint::of(b"bench"),
        instance: base.clone(),
        sandbox: false,
        plan_dir: ".".into(),
        on_failure: None,
        steps: Vec::new(),
        credentials: std::collections::BTreeMap::new(),
        origin: None,
    };
    let id = RunId::parse("bench").expect("run id");
    let mut run = Run::start(&state, &id, b"version: 1\n", started).expect("run");
    let records = 500;
    let timer = Instant::now();
    for i in 0..records {
        run.append(Entry::Intent {
            step: StepId::new(format!("r{i}-step")),
        })
        .expect("append");
    }
    let per_record = timer.elapsed() / records;

    println!(
        "rotations               {rotations} renames in one run (6 steps each, 2 of them manual, done by the sandbox operator)"
    );
    println!("sandbox                 {limit}, 10 in flight, 150 ms latency per call");
    println!(
        "wall time               {:.1} s (planning made {planning_um} User Management reads first)",
        elapsed.as_secs_f64()
    );
    println!(
        "execution phase         {} User Management calls in {:.1} s ({windows:.2} windows)",
        execution.len(),
        (end_ms - start_ms) as f64 / 1000.0
    );
    println!("share of limit used     {share:.3}");
    println!("606 answers             {}", report["rate_limited"]);
    println!("615 answers             {}", report["concurrency_limited"]);
    println!(
        "journal                 {:.0} µs per record (append + fsync), 2–3 records per step",
        per_record.as_secs_f64() * 1e6
    );
}
