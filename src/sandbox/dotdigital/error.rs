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

    /// 405: the path exists, the method does not. The message is ASP.NET Web API's own (the
    /// v2 API is served by it); the token is the sandbox's choice, the v2 shape is the rule.
    pub(crate) fn method_not_allowed(method: &axum::http::Method) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "ERROR_METHOD_NOT_ALLOWED",
            format!("The requested resource does not support http method '{method}'."),
        )
    }

    /// 400: the account's calls of the hour are used up, on the older flat scheme (2,000 calls
    /// an hour by default); nothing says when it lifts.
    pub(crate) fn usage_exceeded(rate: crate::limits::RateLimit) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "ERROR_APIUSAGE_EXCEEDED",
            format!(
                "Your API usage has exceeded the allowed limit of {} calls per {}.",
                rate.calls,
                crate::limits::format_duration(rate.window)
            ),
        )
    }

    /// 403: creating API users through the API is for a partner provisioning an account that
    /// has none yet; an ordinary account's own API user is refused.
    pub(crate) fn not_a_partner() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "ERROR_ACCESS_DENIED",
            "Access is denied: API users can be created through the API only by a partner, for an account that has no API users yet",
        )
    }
}

/// A JSON body, or the v2 error a bad one is answered with (axum's own rejection is plain
/// text, which no dotdigital answer is).
#[derive(Debug)]
pub(crate) struct Body<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequest<S> for Body<T>
where
    axum::Json<T>:
        axum::extract::FromRequest<S, Rejection = axum::extract::rejection::JsonRejection>,
    S: Send + Sync,
{
    type Rejection = V2Error;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, V2Error> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(V2Error::invalid(rejection.body_text())),
        }
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
