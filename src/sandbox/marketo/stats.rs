//! Marketo's usage statistics, `/rest/v1/stats/usage.json` and `/usage/last7days.json`: calls
//! per API user per US Central day, counted from the calls this instance answered.
//!
//! They are REST API endpoints, not User Management ones, so they answer in the standard REST
//! envelope (`requestId`, `success`, `result`; failures as HTTP 200 with `success: false`),
//! take any live token (in the header, or still as the `access_token` query parameter), and
//! count against the rate limit and the daily quota like any other call.

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde_json::{Value, json};

use super::dates::quota_day;
use super::error::{ApiError, request_id, rest_failure};
use super::state::Sandbox;
use super::users::{header_token, query_token};
use super::world::USAGE_DAYS;
use crate::sandbox::requests::ErrorCode;

/// A call with a live token, counted for the API user its service runs as.
pub(crate) struct Counted;

impl FromRequestParts<Sandbox> for Counted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, sandbox: &Sandbox) -> Result<Self, ApiError> {
        let token = header_token(parts)
            .map(str::to_owned)
            .or_else(|| query_token(parts))
            .ok_or_else(ApiError::token_invalid)?;
        let now = sandbox.now();
        let mut world = sandbox.world();
        let caller = world.caller(&token, now)?;
        world.count_calls(&caller, quota_day(now), 1);
        Ok(Counted)
    }
}

/// `GET /rest/v1/stats/usage.json`: today's calls.
pub(crate) async fn today(_: Counted, State(sandbox): State<Sandbox>) -> Response {
    usage(&sandbox, 1)
}

/// `GET /rest/v1/stats/usage/last7days.json`: the calls of the last seven quota days, today
/// included, oldest first.
pub(crate) async fn last_7_days(_: Counted, State(sandbox): State<Sandbox>) -> Response {
    usage(&sandbox, USAGE_DAYS)
}

fn usage(sandbox: &Sandbox, days: i64) -> Response {
    let today = quota_day(sandbox.now());
    let world = sandbox.world();
    let result: Vec<Value> = world
        .usage(today, days)
        .into_iter()
        .map(|(day, users)| day_usage(day, &users))
        .collect();
    Json(json!({ "requestId": request_id(), "success": true, "result": result })).into_response()
}

/// One day as the reference's example writes it: `{"date": "2015-10-17", "total", "users"}`.
fn day_usage(day: NaiveDate, users: &[(&str, u64)]) -> Value {
    let users: Vec<Value> = users
        .iter()
        .map(|(userid, count)| json!({ "userId": userid, "count": count }))
        .collect();
    let total: u64 = users.iter().filter_map(|u| u["count"].as_u64()).sum();
    json!({ "date": day.format("%Y-%m-%d").to_string(), "total": total, "users": users })
}

/// Middleware answering the REST API's failures its way: HTTP 200, `"success": false` and the
/// `errors` array, limits' refusals included.
pub(crate) async fn envelope(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.extensions().get::<ErrorCode>().is_none() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let errors = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .map(|mut body| body["errors"].take());
    parts.status = StatusCode::OK;
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    let body = rest_failure(errors);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_totals_its_users() {
        let day = NaiveDate::from_ymd_opt(2015, 10, 17).unwrap();
        let value = day_usage(day, &[("a@x.example", 200), ("b@x.example", 920)]);
        assert_eq!(
            value,
            json!({"date": "2015-10-17", "total": 1120, "users": [
                {"userId": "a@x.example", "count": 200},
                {"userId": "b@x.example", "count": 920},
            ]})
        );
    }
}
