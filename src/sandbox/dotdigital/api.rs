//! The v2 endpoints relinker reads: `GET /v2/account-info` and `GET /v2/server-time`, with
//! HTTP Basic auth, the v2 error shape (`{"message": "… ERROR_…"}`), 401 for a bad or disabled
//! credential, 403 from a host of another region, and a per-account rate limit: on the tiered
//! scheme answered with 429 and `X-RateLimit-*` headers (sent on every authenticated answer),
//! on the older flat scheme with 400 `ERROR_APIUSAGE_EXCEEDED` and no headers. A call over
//! the limit is not carried out and does not count.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde_json::json;

use super::Sandbox;
use super::behaviours::RateLimitScheme;
use super::error::V2Error;
use super::world::Refusal;
use crate::sandbox::basic_auth;

/// What the rate limit says of one call.
struct Usage {
    limit: u32,
    remaining: u32,
    reset: i64,
    allowed: bool,
    scheme: RateLimitScheme,
}

impl Usage {
    /// The `X-RateLimit-*` headers: the tiered scheme sends them on every authenticated answer;
    /// the older flat scheme sends none.
    fn headers(&self, response: &mut Response) {
        if self.scheme == RateLimitScheme::Flat {
            return;
        }
        let headers = response.headers_mut();
        let mut set = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        set("X-RateLimit-Limit", self.limit.to_string());
        set("X-RateLimit-Remaining", self.remaining.to_string());
        set("X-RateLimit-Reset", self.reset.to_string());
        set("X-RateLimit-Scope", "account".into());
    }
}

impl Sandbox {
    /// Counts a call against an account's window.
    fn count(&self, account: u64) -> Usage {
        let rate = self.shared.rate_limit;
        let window = i64::try_from(rate.window.as_secs().max(1)).unwrap_or(60);
        let now = Utc::now().timestamp();
        let start = now - now.rem_euclid(window);
        let mut windows = crate::sandbox::lock(&self.shared.windows);
        let used = windows.entry(account).or_insert((start, 0));
        if used.0 != start {
            *used = (start, 0);
        }
        let allowed = used.1 < rate.calls;
        if allowed {
            used.1 += 1;
        }
        Usage {
            limit: rate.calls,
            remaining: rate.calls.saturating_sub(used.1),
            reset: start + window,
            allowed,
            scheme: self.shared.scheme,
        }
    }

    /// Authenticates a request: the account, and its usage counted; or the error answer.
    fn admit(&self, request: &Request) -> Result<(u64, Usage), Box<Response>> {
        let refuse = |error: V2Error| Box::new(error.into_response());
        let Some((username, password)) = basic_auth(request.headers()) else {
            return Err(refuse(V2Error::invalid_login()));
        };
        let account = match self.world().authenticate(&username, &password) {
            Ok(account) => account.id,
            Err(Refusal::InvalidLogin) => return Err(refuse(V2Error::invalid_login())),
            Err(Refusal::WrongRegion) => return Err(refuse(V2Error::access_denied())),
        };
        let usage = self.count(account);
        if !usage.allowed {
            let error = match usage.scheme {
                RateLimitScheme::Tiered => V2Error::rate_limited(),
                RateLimitScheme::Flat => V2Error::usage_exceeded(self.shared.rate_limit),
            };
            let mut response = refuse(error);
            usage.headers(&mut response);
            return Err(response);
        }
        Ok((account, usage))
    }
}

/// `GET /v2/account-info`
pub(crate) async fn account_info(State(sandbox): State<Sandbox>, request: Request) -> Response {
    let (account, usage) = match sandbox.admit(&request) {
        Ok(admitted) => admitted,
        Err(response) => return *response,
    };
    let body = {
        let world = sandbox.world();
        let Some(found) = world.accounts.get(&account) else {
            return V2Error::invalid_login().into_response();
        };
        json!({
            "id": found.id,
            "properties": [
                { "name": "Name", "type": "String", "value": found.name },
                { "name": "ApiEndpoint", "type": "String", "value": found.region.endpoint() },
                { "name": "ApiCallsRemaining", "type": "Int32", "value": usage.remaining },
            ],
        })
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    usage.headers(&mut response);
    response
}

/// `GET /v2/server-time`
pub(crate) async fn server_time(State(sandbox): State<Sandbox>, request: Request) -> Response {
    let usage = match sandbox.admit(&request) {
        Ok((_, usage)) => usage,
        Err(response) => return *response,
    };
    let now = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut response = (StatusCode::OK, Json(json!(now))).into_response();
    usage.headers(&mut response);
    response
}

/// `POST /v2/accounts/{accountId}/api-users`: exists, for a partner provisioning an account
/// with no API users yet. Whoever can call it holds an API user, so the account has one: an
/// ordinary account's credential is authenticated, counted, and refused (403), whatever the
/// account id and the body say. Nothing is created.
pub(crate) async fn create_api_user(State(sandbox): State<Sandbox>, request: Request) -> Response {
    let usage = match sandbox.admit(&request) {
        Ok((_, usage)) => usage,
        Err(response) => return *response,
    };
    let mut response = V2Error::not_a_partner().into_response();
    usage.headers(&mut response);
    response
}
