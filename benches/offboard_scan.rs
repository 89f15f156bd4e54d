//! How long an offboarding scan of 10,000 users takes, and how close to the rate limit it runs.
//!
//! Serves a sandbox of 10,000 users (500 of them API-only, 50 linked to known services) on
//! 127.0.0.1:0 with Marketo's default limits (100 calls per 20 s, 10 in flight) and 150 ms of
//! latency per call, then runs the release binary's `relinker offboard` against it.
//!
//! `cargo bench --bench offboard_scan [-- USERS]` (default 10000).

// A test or bench stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Counts here are far below 2^52, and `main` reads as one scenario.
#![allow(clippy::cast_precision_loss, clippy::too_many_lines)]

use std::fmt::Write as _;
use std::time::Instant;

use relinker::sandbox::SandboxHandle;
use relinker::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};

#[tokio::main]
async fn main() {
    let users: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let services = 50;
    let mut fixture = String::from(
        "users:\n  - { userid: admin@bench.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
    );
    for i in 0..users {
        let api_only = i % 20 == 0;
        let _ = writeln!(
            fixture,
            "  - {{ userid: u{i}@bench.example, first_name: U, last_name: '{i}', api_only: {api_only}, roles: [{{ role: Standard User, workspace: World }}] }}"
        );
    }
    fixture.push_str("services:\n  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@bench.example, admin: true }\n");
    let mut config_services = String::new();
    for s in 0..services {
        let _ = writeln!(
            fixture,
            "  - {{ name: svc-{s}, client_id: svc-{s}-id, client_secret: svc-{s}-secret, user: u{}@bench.example }}",
            s * 20
        );
        let _ = writeln!(
            config_services,
            "  - {{ name: svc-{s}, client_id: svc-{s}-id, client_secret: \"${{env:SVC_SECRET_{s}}}\" }}"
        );
    }
    let fixture = Fixture::parse(&fixture, "bench fixture").expect("fixture");
    let sandbox = SandboxHandle::start(
        Sandbox::new(SandboxConfig::default(), &fixture),
        "127.0.0.1:0",
    )
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
    let config = format!(
        "version: 1\ninstance:\n  provider: marketo\n  base_url: {base}\n  client_id: admin-id\n  client_secret: ${{env:ADMIN_SECRET}}\nservices:\n{config_services}naming: api.{{service}}@bench.example\nstrategy: replace\nmax_rotations: 100%\n"
    );
    std::fs::write(dir.path().join("offboard.yaml"), config).expect("config");
    // Every tenth linked user left.
    let mut departed = String::new();
    for s in (0..services).step_by(10) {
        let _ = writeln!(departed, "u{}@bench.example", s * 20);
    }
    std::fs::write(dir.path().join("departed.txt"), departed).expect("departed");
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"));
    command
        .args([
            "offboard",
            "--config",
            "offboard.yaml",
            "--departed",
            "departed.txt",
            "--out",
            "out",
        ])
        .current_dir(dir.path())
        .env("ADMIN_SECRET", "admin-secret")
        .stdout(std::process::Stdio::null());
    for s in 0..services {
        command.env(format!("SVC_SECRET_{s}"), format!("svc-{s}-secret"));
    }
    let started = Instant::now();
    let status = command.status().await.expect("run relinker");
    let elapsed = started.elapsed();
    assert!(status.success(), "offboard failed: {status}");
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
    let um: Vec<&serde_json::Value> = requests
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/userservice/"))
        })
        .collect();
    let identity = requests.len() - um.len();
    // The busiest sliding 20 s window, from the sandbox's timestamps.
    let stamps: Vec<u64> = um.iter().filter_map(|r| r["at_ms"].as_u64()).collect();
    let peak = stamps
        .iter()
        .map(|start| {
            stamps
                .iter()
                .filter(|at| **at >= *start && **at < start + 20_000)
                .count()
        })
        .max()
        .unwrap_or(0);
    let plans = std::fs::read_dir(dir.path().join("out"))
        .map_or(0, Iterator::count)
        .saturating_sub(1);
    println!(
        "users                   {users} ({} API-only, {services} linked to known services)",
        users / 20 + 1
    );
    println!("sandbox                 100/20s, 10 in flight, 150 ms latency per call");
    println!("scan wall time          {:.1} s", elapsed.as_secs_f64());
    println!(
        "calls                   {} User Management (pages of 200) + {identity} identity (not rate-limited)",
        um.len()
    );
    println!(
        "busiest 20 s window     {peak} calls = {:.2} of the limit (pages in doubling concurrent batches after the first two)",
        peak as f64 / 100.0
    );
    println!(
        "606 / 615 answers       {} / {}",
        report["rate_limited"], report["concurrency_limited"]
    );
    println!("plans written           {plans}");
}
