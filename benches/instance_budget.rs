//! The instance's budget shared: many plan files in one `apply` (the offboarding flow), alone
//! on the instance and beside a second, busy integration.
//!
//! A sandbox limited to 100 calls per 2 s and 10 in flight, with 150 ms latency on every call,
//! holds PLANS API users each run by one service; each plan renames one of them. The release
//! binary applies all plan files in one command, the sandbox operator playing the person. Then
//! the same again with a neighbour: three callers reading the usage statistics without pause
//! (they count against the same limits), with the plans' `limits.share` at 0.5 and at 1, and
//! the neighbour alone for comparison.
//!
//! The minimum the rate limit allows for C rate-counted calls: the last call at least
//! floor((C-1)/100) windows after the first, plus one call's latency. With 10 calls in flight
//! at most, the R = C - 100 * floor((C-1)/100) calls of the last window also need ceil(R/10)
//! latencies, one batch after another: the minimum both limits allow is floor((C-1)/100)
//! windows plus ceil(R/10) latencies. Reported: the time from the first to the last
//! rate-counted call against both, calls per rename, and the 606/615 answers each side got. A
//! run of many renames also ends no sooner than one rename alone (its calls depend on each
//! other, 150 ms each, identity calls included): the bench measures that chain first and
//! reports against the largest of them.
//!
//! Last, a neighbour that filled the window just before: it makes the window's hundred calls
//! at once and stops, then one rename runs. relinker is refused once (606), waits the window
//! out, and should then run at its full rate: reported against the window's end plus one
//! rename's chain.
//!
//! `cargo bench --bench instance_budget [-- PLANS]` (default 10).

// A test or bench stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// Counts and milliseconds here are far below 2^52, and `main` reads as one scenario.
#![allow(clippy::cast_precision_loss, clippy::too_many_lines)]

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use relinker::limits::RateLimit;
use relinker::sandbox::SandboxHandle;
use relinker::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};
use serde_json::{Value, json};

const LATENCY_MS: u64 = 150;
const NEIGHBOUR: &str = "/rest/v1/stats/usage.json";
/// The neighbour's callers: about 40 calls per 2 s window at 150 ms.
const CALLERS: usize = 3;

fn fixture(plans: usize) -> String {
    let mut text = String::from(
        "users:\n  - { userid: admin@bench.example, first_name: A, last_name: B, api_only: true, roles: [{ role: Admin, workspace: AllZones }] }\n",
    );
    for i in 0..plans {
        let _ = writeln!(
            text,
            "  - {{ userid: person{i}@bench.example, first_name: P, last_name: '{i}', api_only: true, roles: [{{ role: Standard User, workspace: World }}] }}"
        );
    }
    text.push_str("services:\n  - { name: admin, client_id: admin-id, client_secret: admin-secret, user: admin@bench.example, admin: true }\n");
    for i in 0..plans {
        let _ = writeln!(
            text,
            "  - {{ name: svc-{i}, client_id: svc-{i}-id, client_secret: svc-{i}-secret, user: person{i}@bench.example }}"
        );
    }
    text
}

fn plan(base_url: &str, i: usize, share: &str) -> String {
    format!(
        "version: 1\nname: offboard-{i}\ninstance:\n  provider: marketo\n  base_url: {base_url}\n  client_id: admin-id\n  client_secret: ${{env:ADMIN_SECRET}}\n  limits: {{ rate: 100/2s, concurrency: 10, share: {share} }}\nservices:\n  - {{ name: svc-{i}, client_id: svc-{i}-id, client_secret: \"${{env:SVC_{i}_SECRET}}\" }}\nrotations:\n  - rename: {{ user: person{i}@bench.example, email: api{i}@bench.example, temporary_user: temp{i}@bench.example, services: [svc-{i}] }}\npolicy:\n  max_deletions: 1\n"
    )
}

/// What one scenario measured.
struct Measured {
    wall: Duration,
    /// Rate-counted calls relinker made.
    calls: usize,
    /// From its first to its last rate-counted call.
    span: Duration,
    ours_606: usize,
    ours_615: usize,
    neighbour_calls: usize,
    neighbour_refused: usize,
    /// The neighbour's 606 and 615 answers in each 2 s from relinker's first call.
    neighbour_refused_per_window: Vec<(usize, usize)>,
    /// From the neighbour's first refused call to its last: how long the instance turned it
    /// away (its callers retry at once, so the count above mostly measures their speed).
    neighbour_refused_span: Duration,
    /// The neighbour's answered calls per 2 s while relinker ran.
    neighbour_served_per_window: f64,
    /// Rate-counted calls in each 2 s from the first.
    per_window: Vec<usize>,
    /// When each of relinker's refused calls arrived (ms from its first rate-counted call) and
    /// its code.
    ours_refused_at: Vec<(u64, String)>,
}

fn counted(request: &Value) -> bool {
    let path = request["path"].as_str().unwrap_or("");
    let code = request["code"].as_str().unwrap_or("");
    request["status"].is_number()
        && !path.starts_with("/identity")
        && !matches!(code, "601" | "602" | "606" | "615" | "607")
}

async fn start(plans: usize) -> (SandboxHandle, String) {
    let (sandbox, base) = start_without_latency(plans).await;
    add_latency(&base).await;
    (sandbox, base)
}

async fn start_without_latency(plans: usize) -> (SandboxHandle, String) {
    let limit = RateLimit {
        calls: 100,
        window: Duration::from_secs(2),
    };
    let config = SandboxConfig {
        rate_limit: limit,
        concurrency: 10,
        ..SandboxConfig::default()
    };
    let fixture = Fixture::parse(&fixture(plans), "bench fixture").expect("fixture");
    let sandbox = SandboxHandle::start(Sandbox::new(config, &fixture), "127.0.0.1:0")
        .await
        .expect("bind");
    let base = sandbox.base_url();
    (sandbox, base)
}

async fn add_latency(base: &str) {
    reqwest::Client::new()
        .post(format!("{base}/_sandbox/faults"))
        .json(&json!({"path": "/", "action": {"kind": "latency", "ms": LATENCY_MS}}))
        .send()
        .await
        .expect("fault");
}

/// Callers reading the usage statistics until `stop`; each answers how many of its calls
/// were refused (606/615).
fn neighbour(base: &str, token: &str, stop: &Arc<AtomicBool>) -> tokio::task::JoinSet<usize> {
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let (url, token, stop) = (format!("{base}{NEIGHBOUR}"), token.to_owned(), stop.clone());
        callers.spawn(async move {
            let http = reqwest::Client::new();
            let mut refused = 0;
            while !stop.load(Ordering::Relaxed) {
                let Ok(answer) = http.get(&url).bearer_auth(&token).send().await else {
                    continue;
                };
                let body: Value = answer.json().await.unwrap_or_default();
                if matches!(body["errors"][0]["code"].as_str(), Some("606" | "615")) {
                    refused += 1;
                }
            }
            refused
        });
    }
    callers
}

async fn token(base: &str) -> String {
    let grant: Value = reqwest::Client::new()
        .get(format!(
            "{base}/identity/oauth/token?grant_type=client_credentials&client_id=svc-0-id&client_secret=svc-0-secret"
        ))
        .send()
        .await
        .expect("identity")
        .json()
        .await
        .expect("grant");
    grant["access_token"].as_str().expect("token").to_owned()
}

async fn log(base: &str) -> Vec<Value> {
    let report: Value = reqwest::Client::new()
        .get(format!("{base}/_sandbox/requests"))
        .send()
        .await
        .expect("log")
        .json()
        .await
        .expect("json");
    report["requests"].as_array().cloned().unwrap_or_default()
}

async fn scenario(plans: usize, with_neighbour: bool, share: &str) -> Measured {
    let (sandbox, base) = start(plans).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec![
        "apply".to_owned(),
        "--yes".into(),
        "--sandbox-operator".into(),
        "--gate-wait".into(),
        "0".into(),
        "--state-dir".into(),
        "state".into(),
    ];
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"));
    for i in 0..plans {
        let file = format!("offboard-{i}.yaml");
        std::fs::write(dir.path().join(&file), plan(&base, i, share)).expect("plan");
        args.push(file);
        command.env(format!("SVC_{i}_SECRET"), format!("svc-{i}-secret"));
    }
    command
        .args(&args)
        .current_dir(dir.path())
        .env("ADMIN_SECRET", "admin-secret")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = if with_neighbour {
        let token = token(&base).await;
        let callers = neighbour(&base, &token, &stop);
        tokio::time::sleep(Duration::from_secs(2)).await;
        Some(callers)
    } else {
        None
    };
    let started = Instant::now();
    let status = command.status().await.expect("run relinker");
    let wall = started.elapsed();
    assert!(status.success(), "apply failed: {status}");
    stop.store(true, Ordering::Relaxed);
    let mut neighbour_refused = 0;
    if let Some(callers) = callers.as_mut() {
        while let Some(refused) = callers.join_next().await {
            neighbour_refused += refused.unwrap_or(0);
        }
    }
    let requests = log(&base).await;
    sandbox.stop().await;
    let ours: Vec<&Value> = requests.iter().filter(|r| r["path"] != NEIGHBOUR).collect();
    let counted_calls: Vec<&&Value> = ours.iter().filter(|r| counted(r)).collect();
    let at = |r: &Value| r["at_ms"].as_u64().unwrap_or(0);
    let span = match (counted_calls.first(), counted_calls.last()) {
        (Some(first), Some(last)) => Duration::from_millis(at(last) - at(first)),
        _ => Duration::ZERO,
    };
    let code = |r: &&Value, code: &str| r["code"] == code;
    let mut per_window = Vec::new();
    if let Some(first) = counted_calls.first() {
        for call in &counted_calls {
            let window = usize::try_from((at(call) - at(first)) / 2000).unwrap_or(usize::MAX);
            if per_window.len() <= window {
                per_window.resize(window + 1, 0);
            }
            per_window[window] += 1;
        }
    }
    let mut neighbour_refused_per_window: Vec<(usize, usize)> = Vec::new();
    if let Some(first) = counted_calls.first() {
        let start = at(first);
        for call in requests.iter().filter(|r| r["path"] == NEIGHBOUR) {
            let (rate, busy) = (code(&call, "606"), code(&call, "615"));
            if at(call) < start || !(rate || busy) {
                continue;
            }
            let window = usize::try_from((at(call) - start) / 2000).unwrap_or(usize::MAX);
            if neighbour_refused_per_window.len() <= window {
                neighbour_refused_per_window.resize(window + 1, (0, 0));
            }
            let slot = &mut neighbour_refused_per_window[window];
            if rate {
                slot.0 += 1;
            } else {
                slot.1 += 1;
            }
        }
    }
    let neighbour: Vec<&Value> = requests.iter().filter(|r| r["path"] == NEIGHBOUR).collect();
    let refused_at: Vec<u64> = neighbour
        .iter()
        .filter(|r| code(r, "606") || code(r, "615"))
        .map(|r| at(r))
        .collect();
    let neighbour_refused_span = match (refused_at.iter().min(), refused_at.iter().max()) {
        (Some(first), Some(last)) => Duration::from_millis(last - first),
        _ => Duration::ZERO,
    };
    let neighbour_served_per_window = match counted_calls.first() {
        Some(first) if !span.is_zero() => {
            let (from, to) = (
                at(first),
                at(first) + u64::try_from(span.as_millis()).unwrap_or(u64::MAX),
            );
            let served = neighbour
                .iter()
                .filter(|r| (from..=to).contains(&at(r)) && counted(r))
                .count();
            served as f64 * 2.0 / span.as_secs_f64()
        }
        _ => 0.0,
    };
    let ours_refused_at = match counted_calls.first() {
        Some(first) => ours
            .iter()
            .filter(|r| code(r, "606") || code(r, "615"))
            .map(|r| {
                let code = r["code"].as_str().unwrap_or("").to_owned();
                (at(r).saturating_sub(at(first)), code)
            })
            .collect(),
        None => Vec::new(),
    };
    Measured {
        ours_refused_at,
        neighbour_refused_span,
        neighbour_served_per_window,
        neighbour_refused_per_window,
        per_window,
        wall,
        calls: counted_calls.len(),
        span,
        ours_606: ours.iter().filter(|r| code(r, "606")).count(),
        ours_615: ours.iter().filter(|r| code(r, "615")).count(),
        neighbour_calls: requests.iter().filter(|r| r["path"] == NEIGHBOUR).count(),
        neighbour_refused,
    }
}

/// What a rename after a neighbour's full window measured.
struct AfterFullWindow {
    /// From relinker's first request to its exit.
    wall: Duration,
    /// From relinker's first request to the end of the window the neighbour filled.
    window_end: Duration,
    ours_606: usize,
    calls: usize,
}

/// A neighbour makes the window's hundred calls at once and stops; then one rename runs.
async fn after_a_full_window() -> AfterFullWindow {
    let (sandbox, base) = start_without_latency(1).await;
    let token = token(&base).await;
    let http = reqwest::Client::new();
    // Ten at a time, the instance's concurrency limit, before the latency: the window fills
    // in a few milliseconds, just before relinker starts.
    for _ in 0..10 {
        let calls = (0..10).map(|_| {
            http.get(format!("{base}{NEIGHBOUR}"))
                .bearer_auth(&token)
                .send()
        });
        for answer in futures_util::future::join_all(calls).await {
            answer.expect("neighbour call");
        }
    }
    add_latency(&base).await;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("offboard-0.yaml"), plan(&base, 0, "1")).expect("plan");
    let started = Instant::now();
    let status = tokio::process::Command::new(env!("CARGO_BIN_EXE_relinker"))
        .args(["apply", "--yes", "--sandbox-operator", "--gate-wait", "0"])
        .args(["--state-dir", "state", "offboard-0.yaml"])
        .current_dir(dir.path())
        .env("ADMIN_SECRET", "admin-secret")
        .env("SVC_0_SECRET", "svc-0-secret")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .expect("run relinker");
    let wall = started.elapsed();
    assert!(status.success(), "apply failed: {status}");
    let requests = log(&base).await;
    sandbox.stop().await;
    let at = |r: &Value| r["at_ms"].as_u64().unwrap_or(0);
    let neighbour_first = requests
        .iter()
        .filter(|r| r["path"] == NEIGHBOUR)
        .map(at)
        .min()
        .unwrap_or(0);
    let ours: Vec<&Value> = requests
        .iter()
        .filter(|r| r["path"] != NEIGHBOUR && at(r) > neighbour_first)
        .collect();
    let ours_first = ours.iter().map(|r| at(r)).min().unwrap_or(0);
    AfterFullWindow {
        wall,
        window_end: Duration::from_millis((neighbour_first + 2000).saturating_sub(ours_first)),
        ours_606: ours.iter().filter(|r| r["code"] == "606").count(),
        calls: ours.iter().filter(|r| counted(r)).count(),
    }
}

/// The neighbour alone for `seconds`: how often the instance refuses it with nobody else.
async fn neighbour_alone(seconds: u64) -> (usize, usize) {
    let (sandbox, base) = start(1).await;
    let token = token(&base).await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut callers = neighbour(&base, &token, &stop);
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut refused = 0;
    while let Some(count) = callers.join_next().await {
        refused += count.unwrap_or(0);
    }
    let calls = log(&base).await.len();
    sandbox.stop().await;
    (calls, refused)
}

/// The rate limit's minimum: the last call `floor((C-1)/100)` windows after the first, and
/// answered one latency later.
fn minimum(calls: usize) -> Duration {
    let windows = calls.saturating_sub(1) / 100;
    Duration::from_secs(2) * u32::try_from(windows).unwrap_or(u32::MAX)
        + Duration::from_millis(LATENCY_MS)
}

/// Both limits' minimum: the last window's calls go at most 10 at a time, each batch one
/// latency, so they take `ceil(R/10)` latencies rather than one.
fn minimum_with_concurrency(calls: usize) -> Duration {
    let windows = calls.saturating_sub(1) / 100;
    let last = calls - windows * 100;
    let batches = last.div_ceil(10).max(1);
    Duration::from_secs(2) * u32::try_from(windows).unwrap_or(u32::MAX)
        + Duration::from_millis(LATENCY_MS) * u32::try_from(batches).unwrap_or(u32::MAX)
}

fn report(name: &str, plans: usize, measured: &Measured, chain: Duration) {
    let floor = minimum(measured.calls);
    println!("{name}");
    println!(
        "  wall time             {:.1} s for {plans} plans in one apply",
        measured.wall.as_secs_f64()
    );
    println!(
        "  rate-counted calls    {} ({:.1} per rename, planning included)",
        measured.calls,
        measured.calls as f64 / plans as f64
    );
    let took = measured.span + Duration::from_millis(LATENCY_MS);
    println!(
        "  first to last call    {:.2} s; minimum {:.2} s; {:.2}x",
        measured.span.as_secs_f64(),
        floor.as_secs_f64(),
        took.as_secs_f64() / floor.as_secs_f64()
    );
    let limits = minimum_with_concurrency(measured.calls);
    println!(
        "  both limits           {:.2} s at least (the last window's calls, 10 at a time); {:.2}x",
        limits.as_secs_f64(),
        took.as_secs_f64() / limits.as_secs_f64()
    );
    let bound = limits.max(chain);
    println!(
        "  against one rename    {:.2} s at least (both limits, or one rename's chain); {:.2}x",
        bound.as_secs_f64(),
        took.as_secs_f64() / bound.as_secs_f64()
    );
    println!("  calls per 2 s         {:?}", measured.per_window);
    println!(
        "  relinker 606 / 615    {} / {} ({:.1}% of its calls)",
        measured.ours_606,
        measured.ours_615,
        (measured.ours_606 + measured.ours_615) as f64 * 100.0 / measured.calls.max(1) as f64
    );
    if !measured.ours_refused_at.is_empty() {
        println!(
            "  relinker refused at   {:?} (ms from its first call, code)",
            measured.ours_refused_at
        );
    }
}

#[tokio::main]
async fn main() {
    let plans: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10);
    println!("sandbox: 100/2s, 10 in flight, {LATENCY_MS} ms latency per call\n");
    // No run of many renames ends sooner than one rename alone: its calls depend on each other.
    let one = scenario(1, false, "1").await;
    let chain = one.span + Duration::from_millis(LATENCY_MS);
    println!(
        "one rename alone: {} rate-counted calls, {:.2} s first to last (its chain of dependent calls)\n",
        one.calls,
        chain.as_secs_f64()
    );
    let alone = scenario(plans, false, "1").await;
    report("alone on the instance (share 1)", plans, &alone, chain);
    for share in ["1", "0.5"] {
        let shared = scenario(plans, true, share).await;
        report(
            &format!("beside a busy neighbour ({CALLERS} callers), share {share}"),
            plans,
            &shared,
            chain,
        );
        println!(
            "  neighbour             {} calls, {} refused 606/615",
            shared.neighbour_calls, shared.neighbour_refused
        );
        println!(
            "  neighbour refused per 2 s (606, 615) {:?}, first to last refusal {} ms",
            shared.neighbour_refused_per_window,
            shared.neighbour_refused_span.as_millis()
        );
        println!(
            "  neighbour served      {:.1} calls per 2 s while relinker ran",
            shared.neighbour_served_per_window
        );
    }
    let after = after_a_full_window().await;
    let bound = after.window_end + chain;
    println!("one rename after a neighbour filled the window");
    println!(
        "  wall time             {:.2} s; the window's end {:.2} s + one rename's chain {:.2} s = {:.2} s; {:.2}x",
        after.wall.as_secs_f64(),
        after.window_end.as_secs_f64(),
        chain.as_secs_f64(),
        bound.as_secs_f64(),
        after.wall.as_secs_f64() / bound.as_secs_f64()
    );
    println!(
        "  rate-counted calls    {}, relinker 606: {}",
        after.calls, after.ours_606
    );
    let (calls, refused) = neighbour_alone(10).await;
    println!(
        "neighbour alone for 10 s: {calls} calls ({:.1} per 2 s), {refused} refused 606/615",
        calls as f64 / 5.0
    );
}
