//! dotdigital's v2 error answers: a 4xx with `{"message": "…"}` whose message ends with an
//! `ERROR_*` token, which also travels as a response extension for the request log.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::sandbox::requests::ErrorCode;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct V2Error {
    status: StatusCode,
    code: String,
    message: String,
}

impl V2Error {
    pub(crate) fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    /// 401: no credential, a wrong one, or a disabled user's.
    pub(crate) fn invalid_login() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "ERROR_INVALID_LOGIN",
            "Your username or password is incorrect, or the API user is disabled",
        )
    }

    /// 403: this region's host does not serve the account.
    pub(crate) fn access_denied() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ERROR_ACCESS_DENIED",
            "Access is denied",
        )
    }

    /// 429: over the account's rate limit.
    pub(crate) fn rate_limited() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "ERROR_RATE_LIMIT_EXCEEDED",
            "You have exceeded the API rate limit for your account",
        )
    }

    /// 404: no such resource.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "ERROR_RESOURCE_NOT_FOUND", message)
    }

    /// 400: a request the UI (the control API) refuses.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ERROR_PARAMETER_INVALID", message)
    }
}

impl IntoResponse for V2Error {
    fn into_response(self) -> Response {
        let body = json!({ "message": format!("{} {}", self.message, self.code) });
        let mut response = (self.status, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(ErrorCode(self.code.into()));
        response
    }
}
