//! The identity endpoint: client credentials in, a bearer token and its `scope` out.

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use super::state::Sandbox;
use super::world::IdentityRefusal;

/// The three documented parameters; all optional here so a missing one gets Marketo's answer
/// rather than the framework's.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TokenRequest {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

impl TokenRequest {
    /// Query parameters win; a POST may carry them in a form body instead.
    fn or(self, other: TokenRequest) -> TokenRequest {
        TokenRequest {
            grant_type: self.grant_type.or(other.grant_type),
            client_id: self.client_id.or(other.client_id),
            client_secret: self.client_secret.or(other.client_secret),
        }
    }
}

/// `GET /identity/oauth/token?grant_type=client_credentials&client_id=..&client_secret=..`
pub(crate) async fn token_get(
    State(sandbox): State<Sandbox>,
    Query(query): Query<TokenRequest>,
) -> Response {
    grant(&sandbox, query)
}

/// The same as a POST, with the parameters in the query string or a form body.
pub(crate) async fn token_post(
    State(sandbox): State<Sandbox>,
    Query(query): Query<TokenRequest>,
    form: Result<Form<TokenRequest>, FormRejection>,
) -> Response {
    let body = form.map(|Form(f)| f).unwrap_or_default();
    grant(&sandbox, query.or(body))
}

fn grant(sandbox: &Sandbox, request: TokenRequest) -> Response {
    if request.grant_type.as_deref() != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": "unsupported_grant_type",
                "error_description": "grant_type must be client_credentials"
            })),
        )
            .into_response();
    }
    let (Some(client_id), Some(client_secret)) = (request.client_id, request.client_secret) else {
        return bad_credentials();
    };
    let ttl = chrono::Duration::from_std(sandbox.shared.config.token_ttl)
        .unwrap_or(chrono::Duration::hours(1));
    let now = sandbox.now();
    match sandbox
        .world()
        .grant_token(&client_id, &client_secret, now, ttl)
    {
        Ok(grant) => Json(json!({
            "access_token": grant.access_token,
            "token_type": "bearer",
            "expires_in": grant.expires_in,
            "scope": grant.scope,
        }))
        .into_response(),
        Err(IdentityRefusal::BadCredentials) => bad_credentials(),
    }
}

fn bad_credentials() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "invalid_client", "error_description": "Bad client credentials" })),
    )
        .into_response()
}
