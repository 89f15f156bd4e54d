//! What every emulated platform shares: its fault rules, its request log, and the control
//! routes that manage them (`/_sandbox/faults`, `/_sandbox/faults/release`,
//! `/_sandbox/requests`). A platform says how its error answers look and whom a request
//! authenticates as ([`Dialect`]); the rest is common.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::Notify;

use super::faults::{FaultBook, FaultRule};
use super::lock;
use super::requests::RequestLog;

/// What differs between platforms in how traffic is faulted and logged.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The platform's error answer: status, error code, message.
    pub(crate) error: fn(StatusCode, String, String) -> Response,
    /// The error code of a request the sandbox itself refuses (a bad fault rule).
    pub(crate) invalid_code: &'static str,
    /// Whom a request authenticates as, for fault rules that name a `client_id`.
    pub(crate) caller: fn(&Request) -> Option<String>,
}

#[derive(Debug)]
struct Inner {
    dialect: Dialect,
    faults: Mutex<FaultBook>,
    log: Mutex<RequestLog>,
    /// Wakes every request a `hang` fault holds, so a test decides when a hang ends.
    released: Notify,
}

/// One sandbox's faults and request log; cheap to clone, clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Traffic(Arc<Inner>);

impl Traffic {
    /// No faults and an empty log, for a platform speaking `dialect`.
    pub(crate) fn new(dialect: Dialect) -> Self {
        Self(Arc::new(Inner {
            dialect,
            faults: Mutex::new(FaultBook::default()),
            log: Mutex::new(RequestLog::default()),
            released: Notify::new(),
        }))
    }

    pub(crate) fn dialect(&self) -> Dialect {
        self.0.dialect
    }

    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultBook> {
        lock(&self.0.faults)
    }

    pub(crate) fn log(&self) -> MutexGuard<'_, RequestLog> {
        lock(&self.0.log)
    }

    /// Completes once `POST /_sandbox/faults/release` is called after this was created: a
    /// hanging request takes it before it is logged, so a release that follows the log entry
    /// is never missed.
    pub(crate) fn released(&self) -> tokio::sync::futures::Notified<'_> {
        self.0.released.notified()
    }

    /// `/_sandbox/faults` and `/_sandbox/requests`.
    pub(crate) fn routes(&self) -> Router {
        Router::new()
            .route(
                "/_sandbox/faults",
                get(faults).post(add_faults).delete(clear_faults),
            )
            .route("/_sandbox/faults/release", post(release))
            .route("/_sandbox/requests", get(requests).delete(clear_requests))
            .with_state(self.clone())
    }
}

/// `GET /_sandbox/faults`
async fn faults(State(traffic): State<Traffic>) -> Json<Vec<FaultRule>> {
    Json(traffic.faults().rules())
}

/// One fault rule or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<FaultRule>),
    One(FaultRule),
}

/// `POST /_sandbox/faults` with one rule or a list of rules.
async fn add_faults(State(traffic): State<Traffic>, Json(rules): Json<OneOrMany>) -> Response {
    let rules = match rules {
        OneOrMany::One(rule) => vec![rule],
        OneOrMany::Many(rules) => rules,
    };
    let added = traffic.faults().add(rules);
    match added {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => {
            let dialect = traffic.dialect();
            (dialect.error)(
                StatusCode::BAD_REQUEST,
                dialect.invalid_code.into(),
                e.to_string(),
            )
        }
    }
}

/// `DELETE /_sandbox/faults`
async fn clear_faults(State(traffic): State<Traffic>) -> StatusCode {
    traffic.faults().clear();
    StatusCode::NO_CONTENT
}

/// `POST /_sandbox/faults/release`: every request a `hang` or `hang-after` fault holds now has
/// its connection closed without an answer, as a proxy's idle timeout would end it.
async fn release(State(traffic): State<Traffic>) -> StatusCode {
    traffic.0.released.notify_waiters();
    StatusCode::NO_CONTENT
}

/// `GET /_sandbox/requests`
async fn requests(State(traffic): State<Traffic>) -> Json<Value> {
    let log = traffic.log();
    Json(serde_json::to_value(log.report()).unwrap_or_default())
}

/// `DELETE /_sandbox/requests`
async fn clear_requests(State(traffic): State<Traffic>) -> StatusCode {
    traffic.log().clear();
    StatusCode::NO_CONTENT
}
