//! Marketo's rate window and concurrency limit, met by the client alone and beside another
//! integration calling the same instance.

use std::time::Duration;

use relinker::limits::{Limits, RateLimit};
use relinker::provider::marketo::Api;
use relinker::sandbox::marketo::SandboxConfig;
use serde_json::{Value, json};

use crate::harness::{ACME, TestSandbox, USERS, client_with, uid};
use crate::serial;

/// Requests the sandbox logged for paths containing `fragment`.
async fn logged(sandbox: &TestSandbox, fragment: &str) -> Vec<Value> {
    sandbox.requests().await["requests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["path"].as_str().unwrap().contains(fragment))
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_limiter_keeps_300_reads_under_the_sandbox_limits() {
    let _alone = serial().await;
    let limit = RateLimit {
        calls: 100,
        window: Duration::from_secs(2),
    };
    let config = SandboxConfig {
        rate_limit: limit,
        concurrency: 10,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(ACME, config).await;
    // Latency on the identity call too: the first calls wait for a token to be minted, and
    // that wait must not sit between the limiter's stamp and the server's.
    sandbox
        .add_fault(json!({"path": "/", "action": {"kind": "latency", "ms": 100}}))
        .await;
    let marketo = client_with(
        &sandbox,
        Limits {
            rate: limit,
            concurrency: 10,
            ..Limits::default()
        },
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let marketo = marketo.clone();
        tasks.spawn(async move {
            match i % 3 {
                0 => marketo.user(&uid("jane.doe@acme.example")).await.map(drop),
                1 => marketo.roles().await.map(drop),
                _ => marketo.user_roles(&uid("bob@acme.example")).await.map(drop),
            }
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    let report = sandbox.requests().await;
    assert_eq!(report["rate_limited"], 0, "no 606");
    assert_eq!(report["concurrency_limited"], 0, "no 615");
    let user_management = logged(&sandbox, USERS).await.len();
    assert_eq!(user_management, 300, "every read went through once");
}

/// Another integration calling the instance with its own token: `callers` tasks reading
/// workspaces until stopped, each pausing `between` calls and `after_refusal` after a 429, as
/// integrations do (a hot retry loop would count one contested slot a hundred times).
struct Neighbour {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    callers: tokio::task::JoinSet<(u32, u32)>,
}

impl Neighbour {
    async fn start(
        sandbox: &TestSandbox,
        callers: usize,
        between: Duration,
        after_refusal: Duration,
    ) -> Self {
        let token = sandbox.admin_token().await;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..callers {
            let (http, url, token, stop) = (
                sandbox.http.clone(),
                sandbox.url(&format!("{USERS}/workspaces.json")),
                token.clone(),
                stop.clone(),
            );
            tasks.spawn(async move {
                let (mut calls, mut refused) = (0_u32, 0_u32);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let answer = http.get(&url).bearer_auth(&token).send().await.unwrap();
                    calls += 1;
                    if answer.status() == 429 {
                        refused += 1;
                        tokio::time::sleep(after_refusal).await;
                    }
                    tokio::time::sleep(between).await;
                }
                (calls, refused)
            });
        }
        Self {
            stop,
            callers: tasks,
        }
    }

    /// Stops every caller; its calls and refusals in all.
    async fn stop(mut self) -> (u32, u32) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (mut calls, mut refused) = (0, 0);
        while let Some(answers) = self.callers.join_next().await {
            let (made, turned_away) = answers.unwrap();
            calls += made;
            refused += turned_away;
        }
        (calls, refused)
    }
}

/// Reads the roles 200 times at once through one client beside `neighbour`, every read
/// succeeding; how many of relinker's calls the instance answered `code`, of how many, and the
/// neighbour's calls and refusals.
async fn read_roles_beside(
    sandbox: &TestSandbox,
    neighbour: Neighbour,
    limits: Limits,
    code: &str,
) -> ((usize, usize), (u32, u32)) {
    let marketo = client_with(sandbox, limits);
    let mut reads = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let marketo = marketo.clone();
        reads.spawn(async move { marketo.roles().await.map(drop) });
    }
    while let Some(result) = reads.join_next().await {
        result.unwrap().expect("every read succeeds");
    }
    let (neighbour_calls, neighbour_refused) = neighbour.stop().await;
    let ours = logged(sandbox, &format!("{USERS}/roles.json")).await;
    let refused = ours.iter().filter(|r| r["code"] == code).count();
    eprintln!(
        "relinker: {refused} of {} refused; neighbour: {neighbour_refused} of {neighbour_calls}",
        ours.len()
    );
    ((refused, ours.len()), (neighbour_calls, neighbour_refused))
}

/// Another integration keeps most of the instance's concurrency busy, as every LaunchPoint
/// service may: relinker's calls meet 615s, halve what they keep in flight, and all succeed,
/// with few of them refused, and the other integration's calls keep going through.
#[tokio::test]
async fn a_neighbour_busy_with_the_instance_makes_the_client_back_off_not_fail() {
    let _alone = serial().await;
    let config = SandboxConfig {
        rate_limit: "10000/2s".parse().unwrap(),
        concurrency: 10,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(ACME, config).await;
    sandbox
        .add_fault(json!({"path": "/userservice/*", "action": {"kind": "latency", "ms": 20}}))
        .await;
    // 8 callers, one call in flight each: two of the ten slots are left.
    let neighbour = Neighbour::start(&sandbox, 8, Duration::ZERO, Duration::from_millis(50)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let limits = Limits {
        rate: "10000/2s".parse().unwrap(),
        ..Limits::default()
    };
    let ((refused, ours), (neighbour_calls, neighbour_refused)) =
        read_roles_beside(&sandbox, neighbour, limits, "615").await;
    // Without backing off, ten calls in flight against two free slots are refused by the
    // hundred; a slow start and halving keep it to the few that find where the room ends.
    assert!(
        refused * 100 <= ours * 3,
        "{refused} of {ours} calls answered 615"
    );
    // relinker cannot see the neighbour's refusals, only its own, so which of the two holds
    // a contested slot is decided by who asked first: a neighbour that waits 50 ms after each
    // 615 can lose a slot to relinker's next waiting call for the rest of the reads. Measured
    // over 20 runs: 0 to 39% of the neighbour's calls refused (a second neighbour keeping ten
    // calls in flight costs it 17%). What relinker can promise, and this checks, is that its
    // own refusals stay few and the instance's other users are never starved.
    assert!(
        neighbour_refused * 2 <= neighbour_calls,
        "the neighbour was refused {neighbour_refused} times in {neighbour_calls} calls"
    );
}

/// Another integration uses part of the instance's rate window: the first time relinker and
/// it fill the window together, relinker meets a 606 and takes it for a burst (it goes on at
/// the full rate after the window); the second time it is a neighbour that stays, relinker
/// keeps under what it had in the window since, and neither meets the full window again for
/// the rest of the reads.
#[tokio::test]
async fn a_neighbour_using_part_of_the_window_is_met_twice_not_every_window() {
    let _alone = serial().await;
    let config = SandboxConfig {
        rate_limit: "60/1s".parse().unwrap(),
        concurrency: 100,
        ..SandboxConfig::default()
    };
    let sandbox = TestSandbox::with(ACME, config).await;
    sandbox
        .add_fault(json!({"path": "/userservice/*", "action": {"kind": "latency", "ms": 20}}))
        .await;
    // One caller, a call about every 80 ms: a fifth of the window.
    let neighbour = Neighbour::start(
        &sandbox,
        1,
        Duration::from_millis(60),
        Duration::from_millis(100),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let limits = Limits {
        rate: "60/1s".parse().unwrap(),
        concurrency: 10,
        ..Limits::default()
    };
    let ((refused, ours), (neighbour_calls, neighbour_refused)) =
        read_roles_beside(&sandbox, neighbour, limits, "606").await;
    // Keeping its full allowance, relinker would fill the window with the neighbour in every
    // one of the four or more windows the reads take. A meeting is the refusals of the calls
    // in flight when the window filled (up to ten, within a few milliseconds of each other).
    let refused_at: Vec<u64> = logged(&sandbox, &format!("{USERS}/roles.json"))
        .await
        .iter()
        .filter(|r| r["code"] == "606")
        .filter_map(|r| r["at_ms"].as_u64())
        .collect();
    let meetings = 1 + refused_at.windows(2).filter(|w| w[1] - w[0] > 200).count();
    eprintln!("relinker met the full window {meetings} times: 606 at {refused_at:?} ms");
    assert!(
        refused == 0 || meetings <= 2,
        "{refused} of {ours} calls answered 606, in {meetings} meetings: {refused_at:?}"
    );
    // Each time the window fills costs the neighbour the calls it makes until the window
    // rolls over (three or four at its pace; measured 5 to 8 for the two meetings); every
    // window filling would cost it 12 and more.
    assert!(
        neighbour_refused <= 10,
        "the neighbour was refused {neighbour_refused} times in {neighbour_calls} calls"
    );
}
