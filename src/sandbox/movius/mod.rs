//! The emulator of Movius MultiLine's Administrators tool: an in-memory model of its API users
//! and the integrations that use them, driven through a control API the way a person uses the
//! tool, plus an optional credential-check endpoint so the check-by-command path is tested.
//! Movius offers no public API for API users (../shared/reference/movius-multiline-add-api-user.txt),
//! so nothing here emulates one.

mod control;
mod fixture;
mod world;

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::json;

pub use fixture::Fixture;

use super::traffic::{Dialect, Traffic};
use super::{Emulator, faults, lock};
use crate::sandbox::requests::ErrorCode;
use world::World;

/// An error answer of the sandbox: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub(crate) struct ToolAnswer {
    status: StatusCode,
    code: String,
    message: String,
}

impl ToolAnswer {
    fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }
}

impl IntoResponse for ToolAnswer {
    fn into_response(self) -> Response {
        let body = json!({ "error": { "code": self.code, "message": self.message } });
        let mut response = (self.status, Json(body)).into_response();
        response
            .extensions_mut()
            .insert(ErrorCode(self.code.into()));
        response
    }
}

/// The check endpoint's errors; a request authenticates as its Basic-auth username.
const DIALECT: Dialect = Dialect {
    error: |status, code, message| ToolAnswer::new(status, code, message).into_response(),
    invalid_code: "invalid",
    caller: |request| super::basic_auth(request.headers()).map(|(username, _)| username),
};

#[derive(Debug)]
struct Shared {
    world: Mutex<World>,
    traffic: Traffic,
}

/// An emulated Movius organization; cheap to clone, all clones share one state.
#[derive(Debug, Clone)]
pub struct Sandbox {
    shared: Arc<Shared>,
}

impl Sandbox {
    /// A sandbox seeded from a fixture.
    pub fn new(fixture: &Fixture) -> Self {
        Self {
            shared: Arc::new(Shared {
                world: Mutex::new(fixture.world()),
                traffic: Traffic::new(DIALECT),
            }),
        }
    }

    fn world(&self) -> MutexGuard<'_, World> {
        lock(&self.shared.world)
    }
}

impl Emulator for Sandbox {
    fn router(self) -> Router {
        let checks = Router::new()
            .route("/_sandbox/integrations/{name}/check", get(control::check))
            .route_layer(from_fn(faults::apply_latency))
            .route_layer(from_fn_with_state(
                self.shared.traffic.clone(),
                faults::observe,
            ));
        let control = Router::new()
            .route("/_sandbox/info", get(control::info))
            .route("/_sandbox/state", get(control::state))
            .route("/_sandbox/api-users", post(control::add_user))
            .route("/_sandbox/api-users/{email}", delete(control::delete_user))
            .route("/_sandbox/api-users/{email}/edit", post(control::edit_user))
            .route(
                "/_sandbox/integrations/{name}/switch",
                post(control::switch),
            )
            .route("/_sandbox/fixture", post(control::load_fixture));
        let traffic = self.shared.traffic.routes();
        checks
            .merge(control)
            .with_state(self)
            .merge(traffic)
            .fallback(not_found)
    }
}

async fn not_found(request: Request) -> Response {
    ToolAnswer::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no resource at {}", request.uri().path()),
    )
    .into_response()
}
