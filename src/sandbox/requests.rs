//! The request log: every call a platform's routes received, in order, and how it ended.
//!
//! Paths are logged without their query string: the identity endpoint takes the client secret
//! there, and a secret never enters a log.

use std::borrow::Cow;
use std::collections::BTreeMap;

use axum::response::Response;
use serde::Serialize;

/// The platform's error code of an answer (Marketo's `606`, dotdigital's `ERROR_INVALID_LOGIN`),
/// kept as a response extension so the log can count them without parsing bodies.
#[derive(Debug, Clone)]
pub(crate) struct ErrorCode(pub(crate) Cow<'static, str>);

/// Response extension set by handlers whose success changed the instance.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StateChanged;

/// One logged request.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoggedRequest {
    /// Position in the log, from 1.
    seq: u64,
    /// Milliseconds since the sandbox started, when the answer was ready (or dropped).
    at_ms: u64,
    method: String,
    /// The percent-decoded path, without the query string.
    path: String,
    /// Status of the answer the handler produced; `null` when no handler ran.
    status: Option<u16>,
    /// The platform's error code of an error answer.
    code: Option<String>,
    /// Whether the request changed the instance.
    changed_state: bool,
    /// Whether the answer reached the client (false for dropped and hung requests).
    delivered: bool,
    /// The fault that applied, if any.
    fault: Option<&'static str>,
}

impl LoggedRequest {
    pub(crate) fn new(
        method: String,
        path: String,
        fault: Option<&'static str>,
        response: Option<&Response>,
        delivered: bool,
    ) -> Self {
        Self {
            seq: 0,
            at_ms: 0,
            method,
            path,
            status: response.map(|r| r.status().as_u16()),
            code: response.and_then(error_code),
            changed_state: response.is_some_and(|r| r.status().is_success() && changed_state(r)),
            delivered,
            fault,
        }
    }
}

/// The log and its running counts.
#[derive(Debug)]
pub(crate) struct RequestLog {
    entries: Vec<LoggedRequest>,
    next_seq: u64,
    started: std::time::Instant,
}

impl Default for RequestLog {
    fn default() -> Self {
        Self {
            entries: Vec::new(),
            next_seq: 0,
            started: std::time::Instant::now(),
        }
    }
}

/// What `GET /_sandbox/requests` answers.
#[derive(Debug, Serialize)]
pub(crate) struct RequestReport<'a> {
    total: usize,
    state_changing: usize,
    /// How many answers carried each error code (Marketo's 606, 615, 607 among them).
    codes: BTreeMap<&'a str, usize>,
    rate_limited: usize,
    concurrency_limited: usize,
    quota_exceeded: usize,
    requests: &'a [LoggedRequest],
}

impl RequestLog {
    pub(crate) fn push(&mut self, mut entry: LoggedRequest) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        entry.at_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.entries.push(entry);
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn report(&self) -> RequestReport<'_> {
        let mut codes = BTreeMap::new();
        for code in self.entries.iter().filter_map(|e| e.code.as_deref()) {
            *codes.entry(code).or_insert(0) += 1;
        }
        let count = |code: &str| codes.get(code).copied().unwrap_or(0);
        RequestReport {
            total: self.entries.len(),
            state_changing: self.entries.iter().filter(|e| e.changed_state).count(),
            rate_limited: count("606"),
            concurrency_limited: count("615"),
            quota_exceeded: count("607"),
            codes,
            requests: &self.entries,
        }
    }
}

/// Whether a logged response changed state (used by the request log).
fn changed_state(response: &Response) -> bool {
    response.extensions().get::<StateChanged>().is_some()
}

/// The error code of a response, if it is an error answer.
fn error_code(response: &Response) -> Option<String> {
    response
        .extensions()
        .get::<ErrorCode>()
        .map(|c| c.0.to_string())
}
