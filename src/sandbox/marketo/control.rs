//! The control API under `/_sandbox/`: what a person would do in Marketo's UI, and what tests
//! need to set up and observe the instance. relinker's Marketo client never calls it; only the
//! sandbox operator (which plays the person at manual steps) and tests do.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::dates;
use super::error::ApiError;
use super::fixture::{Fixture, FixtureError};
use super::model::RoleAssignment;
use super::state::Sandbox;
use super::wire;

/// `GET /_sandbox/info`
pub(crate) async fn info(State(sandbox): State<Sandbox>) -> Json<Value> {
    let config = &sandbox.shared.config;
    let behaviours = sandbox.world().behaviours.settings();
    Json(json!({
        "sandbox": true,
        "emulates": "marketo",
        "version": env!("CARGO_PKG_VERSION"),
        "now": dates::user_record(sandbox.now()),
        "limits": {
            "rate": config.rate_limit.to_string(),
            "concurrency": config.concurrency,
            "daily_quota": config.daily_quota,
            "used_today": sandbox.shared.limits.used_today(),
        },
        "token_ttl_secs": config.token_ttl.as_secs(),
        "behaviours": behaviours,
    }))
}

/// `GET /_sandbox/state`: everything but secrets and tokens.
pub(crate) async fn state(State(sandbox): State<Sandbox>) -> Json<Value> {
    let now = sandbox.now();
    let mut world = sandbox.world();
    world.expire_invitations(now);
    let pairs = |roles: &[RoleAssignment]| {
        serde_json::to_value(wire::role_workspaces(&world, roles)).unwrap_or_default()
    };
    let users: Vec<Value> = world
        .page_of_users(0, usize::MAX)
        .into_iter()
        .map(|u| {
            json!({
                "id": u.id,
                "userid": u.userid,
                "emailAddress": u.email,
                "firstName": u.first_name,
                "lastName": u.last_name,
                "apiOnly": u.api_only,
                "expiresAt": u.expires_at.map(dates::user_record),
                "roles": pairs(&u.roles),
            })
        })
        .collect();
    let invitations: Vec<Value> = world
        .invitations
        .values()
        .map(|i| {
            json!({
                "userid": i.userid,
                "emailAddress": i.email,
                "firstName": i.first_name,
                "lastName": i.last_name,
                "expiresAt": dates::compact(i.expires_at),
                "roles": pairs(&i.roles),
            })
        })
        .collect();
    let services: Vec<Value> = world
        .services
        .values()
        .map(|s| json!({ "name": s.name, "clientId": s.client_id, "linkedUser": s.userid }))
        .collect();
    Json(json!({
        "users": users,
        "invitations": invitations,
        "services": services,
        "roles": world.roles.iter().map(wire::role_record).collect::<Vec<_>>(),
        "workspaces": world.workspaces.iter().map(wire::workspace_record).collect::<Vec<_>>(),
    }))
}

/// Body of a link request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkRequest {
    userid: String,
}

/// `POST /_sandbox/services/{name}/link` `{"userid": ".."}`: the UI's relink.
pub(crate) async fn link(
    State(sandbox): State<Sandbox>,
    Path(name): Path<String>,
    Json(request): Json<LinkRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut world = sandbox.world();
    let service = world.link_service(&name, &request.userid)?;
    Ok(Json(
        json!({ "name": service.name, "clientId": service.client_id, "linkedUser": service.userid }),
    ))
}

/// `POST /_sandbox/invitations/{userid}/accept`: the invited person sets a password.
pub(crate) async fn accept(
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = sandbox.now();
    let mut world = sandbox.world();
    let user = world.accept_invitation(&userid, now)?.clone();
    Ok(Json(
        serde_json::to_value(wire::user_record(&world, &user)).unwrap_or_default(),
    ))
}

/// `POST /_sandbox/fixture` with a fixture (YAML or JSON): replaces the instance's data.
pub(crate) async fn load_fixture(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body);
    match Fixture::parse(&text, "request body") {
        Ok(fixture) => {
            sandbox.reseed(&fixture);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(FixtureError::Invalid(diagnostics)) => {
            ApiError::invalid_value(diagnostics.to_string()).into_response()
        }
        Err(other) => ApiError::invalid_value(other.to_string()).into_response(),
    }
}

/// Body of a clock request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClockRequest {
    advance_secs: i64,
}

/// `POST /_sandbox/clock` `{"advance_secs": N}`: moves the instance's time forward.
pub(crate) async fn clock(
    State(sandbox): State<Sandbox>,
    Json(request): Json<ClockRequest>,
) -> Result<Json<Value>, ApiError> {
    if request.advance_secs < 0 {
        return Err(ApiError::invalid_value("the clock only moves forward"));
    }
    sandbox
        .shared
        .clock
        .advance(chrono::Duration::seconds(request.advance_secs));
    Ok(Json(json!({ "now": dates::user_record(sandbox.now()) })))
}
