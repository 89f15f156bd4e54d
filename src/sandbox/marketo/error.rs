//! The error answers the emulated APIs give, in Marketo's envelope.

use std::borrow::Cow;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sandbox::requests::ErrorCode;

/// An error answer: a non-200 status and `{"errors":[{"code","message"}]}`.
///
/// The code also travels in the response's extensions so the request log can count
/// 606/615/607 answers without parsing bodies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: Cow<'static, str>,
    pub(crate) message: String,
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 601: no token, an unknown token, or a token outside the Authorization header.
    pub(crate) fn token_invalid() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "601", "Access token invalid")
    }

    /// 602: the token was valid once and has expired.
    pub(crate) fn token_expired() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "602", "Access token expired")
    }

    /// 603: the caller's API user lacks the User Management permissions.
    pub(crate) fn access_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "603", "Access denied")
    }

    /// 605: a known path with the wrong method.
    pub(crate) fn method_not_supported() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "605",
            "HTTP Method not supported",
        )
    }

    /// 606: over the sliding-window rate limit.
    pub(crate) fn rate_limited(calls: u32, window_secs: u64) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "606",
            format!("Max rate limit '{calls}' exceeded with in '{window_secs}' secs"),
        )
    }

    /// 607: the daily quota is used up.
    pub(crate) fn quota_reached() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "607", "Daily quota reached")
    }

    /// 609: the body is not the JSON the endpoint takes. The message is exactly the
    /// reference's; the detail goes to the sandbox's log, not to the client.
    pub(crate) fn invalid_json(detail: impl std::fmt::Display) -> Self {
        tracing::debug!(%detail, "sandbox: invalid JSON");
        Self::new(StatusCode::BAD_REQUEST, "609", "Invalid JSON")
    }

    /// 610: no such path.
    pub(crate) fn no_such_resource() -> Self {
        Self::new(StatusCode::NOT_FOUND, "610", "Requested resource not found")
    }

    /// 612: a body that is not `application/json`.
    pub(crate) fn invalid_content_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "612",
            "Invalid Content Type",
        )
    }

    /// 615: too many calls in flight.
    pub(crate) fn concurrency_limited(limit: usize) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "615",
            format!("Concurrent access limit '{limit}' reached"),
        )
    }

    /// 1001: a parameter with a value the endpoint does not take.
    pub(crate) fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "1001", message)
    }

    /// 1003: a request the business rules forbid (editing a pending or linked user, ...).
    pub(crate) fn not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "1003", message)
    }

    /// 1004: the user, invitation or service does not exist.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "1004", message)
    }

    /// 1005: a userid that is already taken.
    pub(crate) fn already_exists(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "1005", message)
    }

    /// A status and code chosen by a fault rule.
    pub(crate) fn injected(status: StatusCode, code: String, message: String) -> Self {
        Self::new(status, code, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "errors": [{ "code": self.code, "message": self.message }] });
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// Middleware writing error answers the way the instance's behaviours say: codes as integers
/// (`error-codes: integer`), or HTTP 200 with `"success": false` (`error-status: 200`), as
/// Marketo's other REST APIs answer. Answers the sandbox injects as faults keep the default.
pub(crate) async fn dialect(
    axum::extract::State(sandbox): axum::extract::State<super::Sandbox>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    use super::behaviours::{ErrorCodes, ErrorStatus};
    let response = next.run(request).await;
    let behaviours = sandbox.world().behaviours;
    let plain = behaviours.error_codes == ErrorCodes::String
        && behaviours.error_status == ErrorStatus::Http;
    if plain || response.extensions().get::<ErrorCode>().is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut body = serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or_default();
    if behaviours.error_codes == ErrorCodes::Integer {
        let errors = body
            .get_mut("errors")
            .and_then(serde_json::Value::as_array_mut);
        for error in errors.into_iter().flatten() {
            if let Some(number) = error["code"].as_str().and_then(|c| c.parse::<i64>().ok()) {
                error["code"] = number.into();
            }
        }
    }
    // An answer already in the REST envelope (the usage statistics) keeps it.
    if behaviours.error_status == ErrorStatus::Ok && parts.status != StatusCode::OK {
        parts.status = StatusCode::OK;
        body = rest_failure(body.get_mut("errors").map(serde_json::Value::take));
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

/// A `requestId` in the form Marketo's REST API writes them.
pub(crate) fn request_id() -> String {
    format!("{:x}#sandbox", rand::random::<u32>())
}

/// The REST API's failure envelope: HTTP 200's body with `"success": false` and the errors.
pub(crate) fn rest_failure(errors: Option<serde_json::Value>) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    body.insert("requestId".into(), request_id().into());
    body.insert("success".into(), false.into());
    body.insert("errors".into(), errors.unwrap_or_default());
    body.into()
}
