//! No secret or token in TRACE logs or errors: a whole provider conversation against a real
//! sandbox, with every log line captured.
//!
//! This is a test binary of its own, with a process-wide subscriber, because tracing caches each
//! callsite's interest globally: in a binary whose other tests log from other threads, a
//! callsite first hit there while this test installs its thread-local subscriber can be cached
//! as "never", and this test then captures nothing (tokio-rs/tracing's callsite registration
//! race). Alone in its process, with the subscriber installed before any callsite is hit, every
//! event reaches the capture.

// A test stops at the first thing that is not as expected; the product never panics.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relinker::provider::ProviderError;
use relinker::provider::marketo::{Api, UserUpdate};
use relinker::provider::marketo::{MarketoClient, MarketoConfig};
use relinker::retry::RetryPolicy;
use relinker::secret::Secret;
use reqwest::Method;
use serde_json::json;

// The shared harness serves many test modules; this binary uses a part of it.
#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;

use harness::{ADMIN_ID, ADMIN_SECRET, Held, TestSandbox, USERS, api_user, client, sync_service};

/// An update that changes only the last name.
fn last_name(name: &str) -> UserUpdate {
    UserUpdate {
        last_name: Some(name.into()),
        ..UserUpdate::default()
    }
}

/// A `MakeWriter` that keeps everything written, for asserting on log output.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn no_secret_or_token_in_trace_logs_or_errors() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::set_global_default(subscriber)
        .expect("this binary installs the only subscriber, before anything logs");
    let errors = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(conversation());

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("marketo call"), "TRACE logs were captured");
    let mut rendered = String::new();
    for error in &errors {
        writeln!(rendered, "{error}\n{error:?}").unwrap();
    }
    for secret in [
        ADMIN_SECRET,
        "sandbox-secret-sfdc-K8v3",
        "wrong-secret-value-123",
    ] {
        assert!(!logs.contains(secret), "secret in logs");
        assert!(!rendered.contains(secret), "secret in errors: {rendered}");
    }
    // Every sandbox token ends in `:int`; none may appear, whichever was live at the time.
    assert!(!logs.contains(":int"), "a token in the logs");
    assert!(!rendered.contains(":int"), "a token in errors: {rendered}");
}

/// Reads, a change, a lost answer, token expiry and renewal, wrong credentials and an
/// unreachable instance; answers the errors met on the way, for their rendering to be checked.
async fn conversation() -> Vec<ProviderError> {
    let sandbox = TestSandbox::start().await;
    let marketo = client(&sandbox);
    let mut errors = Vec::new();
    marketo.all_users().await.unwrap();
    marketo
        .invite_api_user(&api_user("t@acme.example"), &Held)
        .await
        .unwrap();
    marketo.linked_user(&sync_service()).await.unwrap();
    sandbox
        .add_fault(json!({"path": "/identity", "action": {"kind": "drop"}, "times": 1}))
        .await;
    marketo.linked_user(&sync_service()).await.unwrap();
    sandbox.add_fault(json!({"path": format!("{USERS}/t@acme.example/update.json"), "action": {"kind": "hang-after"}, "times": 1})).await;
    errors.push(
        marketo
            .update_user(&harness::uid("t@acme.example"), &last_name("Z"), &Held)
            .await
            .unwrap_err(),
    );
    sandbox
        .control(
            Method::POST,
            "/_sandbox/clock",
            Some(&json!({"advance_secs": 4000})),
        )
        .await;
    marketo.roles().await.unwrap();
    let mut wrong = sync_service();
    wrong.client_secret = Secret::new("wrong-secret-value-123");
    errors.push(marketo.linked_user(&wrong).await.unwrap_err());
    errors.push(
        marketo
            .update_user(
                &harness::uid("jane.doe@acme.example"),
                &last_name("Z"),
                &Held,
            )
            .await
            .unwrap_err(),
    );

    // Unreachable: the identity URL carries the secret in its query; errors must not echo it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut config = MarketoConfig::new(
        format!("http://{closed}"),
        ADMIN_ID,
        Secret::new(ADMIN_SECRET),
    );
    config.retry = RetryPolicy {
        give_up_after: Duration::from_millis(100),
        min_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(5),
    };
    let offline = MarketoClient::new(config).unwrap();
    errors.push(offline.roles().await.unwrap_err());
    errors
}
