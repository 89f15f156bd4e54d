//! Fault injection: rules that make chosen requests fail, slow down, lose their answer or hang.
//!
//! Rules are checked in the order they were added; the first whose method, path, caller,
//! `after`, `times` and `probability` all admit a request decides what happens to it. The
//! middleware here is the outermost layer of every platform's API routes, so it also writes the
//! request log: it is the only place that knows whether an answer reached the client.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use globset::{Glob, GlobMatcher};
use percent_encoding::percent_decode_str;
use serde::{Deserialize, Serialize};

use super::requests::LoggedRequest;
use super::server::ConnectionControl;
use super::traffic::Traffic;

/// A fault rule as posted to `/_sandbox/faults`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// HTTP method to match; any method when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Decoded request path: a prefix, or a glob when it contains `*`, `?` or `[`.
    pub path: String,
    /// Only requests made with one credential: on Marketo, identity calls whose query carries
    /// this `client_id`; on dotdigital, calls whose Basic-auth username it is. Any request
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// What happens to a matching request.
    pub action: FaultAction,
    /// Apply at most this many times; unlimited when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    /// Let the first `after` matching requests through untouched.
    #[serde(default)]
    pub after: u32,
    /// Apply to each eligible request with this probability (0..=1); always when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
}

/// What a fault does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this status and error code, in the platform's error shape, instead of
    /// handling the request.
    Error {
        /// HTTP status of the answer.
        status: u16,
        /// The platform's error code: Marketo's `"608"`, dotdigital's `"ERROR_…"`.
        code: String,
        /// Message; a generic one when absent.
        #[serde(default)]
        message: Option<String>,
    },
    /// Handle the request normally after this many milliseconds.
    Latency {
        /// Added delay.
        ms: u64,
    },
    /// Close the connection without applying the request.
    Drop,
    /// Apply the request, then close the connection: the answer is lost.
    DropAfter,
    /// Never answer and never apply (until released: then the connection closes).
    Hang,
    /// Apply the request, then never answer (until released: then the connection closes).
    HangAfter,
}

impl FaultAction {
    fn label(&self) -> &'static str {
        match self {
            FaultAction::Error { .. } => "error",
            FaultAction::Latency { .. } => "latency",
            FaultAction::Drop => "drop",
            FaultAction::DropAfter => "drop-after",
            FaultAction::Hang => "hang",
            FaultAction::HangAfter => "hang-after",
        }
    }
}

/// Why a rule was refused.
#[derive(Debug, thiserror::Error)]
pub enum FaultRuleError {
    /// The path glob does not compile.
    #[error("path `{path}` is not a valid glob: {reason}")]
    Glob {
        /// The offending path.
        path: String,
        /// What the glob parser said.
        reason: String,
    },
    /// A probability outside 0..=1.
    #[error("probability must be between 0 and 1, not {value}")]
    Probability {
        /// The offending value.
        value: f64,
    },
    /// A status code HTTP does not know.
    #[error("status {status} is not an HTTP status code")]
    Status {
        /// The offending status.
        status: u16,
    },
}

#[derive(Debug)]
enum PathMatch {
    Prefix(String),
    Glob(GlobMatcher),
}

#[derive(Debug)]
struct ActiveRule {
    rule: FaultRule,
    path: PathMatch,
    seen: u32,
    applied: u32,
}

/// The rules in force.
#[derive(Debug, Default)]
pub(crate) struct FaultBook {
    rules: Vec<ActiveRule>,
}

impl FaultBook {
    /// Adds rules after checking every one; nothing is added if any is bad.
    pub(crate) fn add(&mut self, rules: Vec<FaultRule>) -> Result<(), FaultRuleError> {
        let mut checked = Vec::with_capacity(rules.len());
        for rule in rules {
            if let Some(value) = rule.probability
                && !(0.0..=1.0).contains(&value)
            {
                return Err(FaultRuleError::Probability { value });
            }
            if let FaultAction::Error { status, .. } = rule.action
                && StatusCode::from_u16(status).is_err()
            {
                return Err(FaultRuleError::Status { status });
            }
            let path = if rule.path.contains(['*', '?', '[']) {
                let glob = Glob::new(&rule.path).map_err(|e| FaultRuleError::Glob {
                    path: rule.path.clone(),
                    reason: e.kind().to_string(),
                })?;
                PathMatch::Glob(glob.compile_matcher())
            } else {
                PathMatch::Prefix(rule.path.clone())
            };
            checked.push(ActiveRule {
                rule,
                path,
                seen: 0,
                applied: 0,
            });
        }
        self.rules.extend(checked);
        Ok(())
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|r| r.rule.clone()).collect()
    }

    /// The action for a request, counting it against the first rule that takes it.
    fn decide(&mut self, method: &str, path: &str, client_id: Option<&str>) -> Option<FaultAction> {
        for active in &mut self.rules {
            let method_matches = active
                .rule
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
                && active
                    .rule
                    .client_id
                    .as_deref()
                    .is_none_or(|wanted| client_id == Some(wanted));
            let path_matches = match &active.path {
                PathMatch::Prefix(prefix) => path.starts_with(prefix.as_str()),
                PathMatch::Glob(glob) => glob.is_match(path),
            };
            if !method_matches || !path_matches {
                continue;
            }
            active.seen += 1;
            if active.seen <= active.rule.after {
                continue;
            }
            if active
                .rule
                .times
                .is_some_and(|times| active.applied >= times)
            {
                continue;
            }
            if active
                .rule
                .probability
                .is_some_and(|p| rand::random::<f64>() >= p)
            {
                continue;
            }
            active.applied += 1;
            return Some(active.rule.action.clone());
        }
        None
    }
}

/// Delay a fault asked for; applied by [`apply_latency`] inside the limits, so slow calls
/// occupy a concurrency slot as they would on the real service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InjectedLatency(Duration);

/// Sleeps for any [`InjectedLatency`] before handling the request.
pub(crate) async fn apply_latency(request: Request, next: Next) -> Response {
    if let Some(InjectedLatency(delay)) = request.extensions().get::<InjectedLatency>().copied() {
        tokio::time::sleep(delay).await;
    }
    next.run(request).await
}

/// Never completes: the connection is either severed or left hanging until the client gives up.
fn forever() -> Pin<Box<dyn Future<Output = Response> + Send>> {
    Box::pin(std::future::pending())
}

/// Outermost middleware of a platform's API routes: applies faults and logs every request.
pub(crate) async fn observe(
    State(traffic): State<Traffic>,
    mut request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = percent_decode_str(request.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let connection = request.extensions().get::<ConnectionControl>().cloned();
    let caller = (traffic.dialect().caller)(&request);
    let action = traffic.faults().decide(&method, &path, caller.as_deref());
    let fault = action.as_ref().map(FaultAction::label);
    let log = |response: Option<&Response>, delivered: bool| {
        let entry = LoggedRequest::new(method.clone(), path.clone(), fault, response, delivered);
        traffic.log().push(entry);
    };
    let sever = || {
        if let Some(connection) = &connection {
            connection.sever();
            return forever();
        }
        // Without a served connection (in-process tests) there is nothing to cut; say so.
        let error = traffic.dialect().error;
        Box::pin(async move {
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "injected".into(),
                "connection drop requested outside a served connection".into(),
            )
        })
    };
    match action {
        None => {
            let response = next.run(request).await;
            log(Some(&response), true);
            response
        }
        Some(FaultAction::Latency { ms }) => {
            request
                .extensions_mut()
                .insert(InjectedLatency(Duration::from_millis(ms)));
            let response = next.run(request).await;
            log(Some(&response), true);
            response
        }
        Some(FaultAction::Error {
            status,
            code,
            message,
        }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = message.unwrap_or_else(|| format!("Injected fault {code}"));
            let response = (traffic.dialect().error)(status, code, message);
            log(Some(&response), true);
            response
        }
        Some(FaultAction::Drop) => {
            log(None, false);
            sever().await
        }
        Some(FaultAction::Hang) => {
            let released = traffic.released();
            log(None, false);
            released.await;
            sever().await
        }
        Some(FaultAction::DropAfter) => {
            let response = next.run(request).await;
            log(Some(&response), false);
            sever().await
        }
        Some(FaultAction::HangAfter) => {
            let response = next.run(request).await;
            let released = traffic.released();
            log(Some(&response), false);
            released.await;
            sever().await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: &str) -> FaultRule {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn after_and_times_bound_a_rule() {
        let mut book = FaultBook::default();
        book.add(vec![rule(
            r#"{"path":"/a","action":{"kind":"drop"},"after":1,"times":2}"#,
        )])
        .unwrap();
        let seen: Vec<_> = (0..5)
            .map(|_| book.decide("GET", "/a/b", None).is_some())
            .collect();
        assert_eq!(seen, [false, true, true, false, false]);
    }

    #[test]
    fn globs_methods_and_prefixes() {
        let mut book = FaultBook::default();
        book.add(vec![
            rule(r#"{"method":"post","path":"/u/*/update.json","action":{"kind":"hang-after"}}"#),
            rule(r#"{"path":"/identity","action":{"kind":"latency","ms":5}}"#),
        ])
        .unwrap();
        assert_eq!(
            book.decide("POST", "/u/a+b/c@x.io/update.json", None),
            Some(FaultAction::HangAfter)
        );
        assert_eq!(book.decide("GET", "/u/a@x.io/update.json", None), None);
        assert_eq!(
            book.decide("GET", "/identity/oauth/token", None),
            Some(FaultAction::Latency { ms: 5 })
        );
    }

    #[test]
    fn a_rule_can_single_out_one_services_credentials() {
        let mut book = FaultBook::default();
        book.add(vec![rule(
            r#"{"path":"/identity","client_id":"sync","action":{"kind":"drop"},"after":1}"#,
        )])
        .unwrap();
        let identity =
            |book: &mut FaultBook, client| book.decide("GET", "/identity/oauth/token", client);
        assert_eq!(identity(&mut book, Some("admin")), None);
        assert_eq!(
            identity(&mut book, Some("sync")),
            None,
            "the first is let through"
        );
        assert_eq!(identity(&mut book, None), None);
        assert_eq!(identity(&mut book, Some("sync")), Some(FaultAction::Drop));
    }

    #[test]
    fn probability_zero_never_fires_and_bad_rules_are_refused() {
        let mut book = FaultBook::default();
        book.add(vec![rule(
            r#"{"path":"/","action":{"kind":"drop"},"probability":0.0}"#,
        )])
        .unwrap();
        assert!((0..50).all(|_| book.decide("GET", "/x", None).is_none()));
        assert!(
            book.add(vec![rule(
                r#"{"path":"/","action":{"kind":"drop"},"probability":1.5}"#
            )])
            .is_err()
        );
        assert!(
            book.add(vec![rule(r#"{"path":"/[","action":{"kind":"drop"}}"#)])
                .is_err()
        );
        assert!(
            book.add(vec![rule(
                r#"{"path":"/","action":{"kind":"error","status":42,"code":"1"}}"#
            )])
            .is_err()
        );
        assert_eq!(book.rules().len(), 1);
    }
}
