//! The emulator of Marketo's identity and User Management APIs.
//!
//! It owns everything about the emulated instance: its data and business rules (`World`),
//! the documented limits, and the control API under `/_sandbox/` that stands in for Marketo's
//! UI. It must stay faithful to Marketo's User Management API reference; where the reference is
//! silent, docs/sandbox.md states the choice made here.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use relinker::sandbox::SandboxHandle;
//! use relinker::sandbox::marketo::{Fixture, Sandbox, SandboxConfig};
//! let sandbox = Sandbox::new(SandboxConfig::default(), &Fixture::default());
//! let handle = SandboxHandle::start(sandbox, "127.0.0.1:0").await?;
//! println!("listening on {}", handle.base_url());
//! handle.stop().await;
//! # Ok(()) }
//! ```

mod behaviours;
mod control;
mod dates;
mod error;
mod fixture;
mod identity;
mod limits;
mod model;
mod state;
mod stats;
mod users;
mod wire;
mod world;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use behaviours::{Behaviours, KEYS as BEHAVIOURS, Setting, SettingError};
pub use fixture::{Fixture, FixtureError, FixtureService};
pub use model::ALL_ZONES_ID;
pub use state::{Sandbox, SandboxConfig};
pub use world::USAGE_DAYS;

use super::faults;
use super::traffic::Dialect;
use error::ApiError;

/// How Marketo's errors look, and whom a request authenticates as: the identity call's
/// `client_id`.
pub(super) const DIALECT: Dialect = Dialect {
    error: |status, code, message| ApiError::injected(status, code, message).into_response(),
    invalid_code: "1001",
    caller: |request| {
        request.uri().query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "client_id")
                .map(|(_, value)| value.into_owned())
        })
    },
};

/// Prefix of every User Management path.
const USERS: &str = "/userservice/management/v1/users";

/// The sandbox's routes: the Marketo APIs (faults, log, limits) and the control API.
pub(crate) fn app(sandbox: Sandbox) -> Router {
    let users = Router::new()
        .route(&format!("{USERS}/allusers.json"), get(users::all_users))
        .route(&format!("{USERS}/roles.json"), get(users::roles))
        .route(&format!("{USERS}/workspaces.json"), get(users::workspaces))
        .route(&format!("{USERS}/invite.json"), post(users::invite))
        .route(&format!("{USERS}/{{userid}}/user.json"), get(users::user))
        .route(
            &format!("{USERS}/{{userid}}/invite.json"),
            get(users::invitation),
        )
        .route(
            &format!("{USERS}/{{userid}}/roles.json"),
            get(users::user_roles),
        )
        .route(
            &format!("{USERS}/{{userid}}/update.json"),
            post(users::update),
        )
        .route(
            &format!("{USERS}/{{userid}}/delete.json"),
            post(users::delete_user),
        )
        .route(
            &format!("{USERS}/{{userid}}/invite/delete.json"),
            post(users::delete_invitation),
        )
        .route(
            &format!("{USERS}/{{userid}}/roles/create.json"),
            post(users::add_roles),
        )
        .route(
            &format!("{USERS}/{{userid}}/roles/delete.json"),
            post(users::remove_roles),
        )
        .route_layer(from_fn(faults::apply_latency))
        .route_layer(from_fn_with_state(sandbox.clone(), limits::enforce));
    let stats = Router::new()
        .route("/rest/v1/stats/usage.json", get(stats::today))
        .route(
            "/rest/v1/stats/usage/last7days.json",
            get(stats::last_7_days),
        )
        .route_layer(from_fn(faults::apply_latency))
        .route_layer(from_fn_with_state(sandbox.clone(), limits::enforce))
        .route_layer(from_fn(stats::envelope));
    let identity = Router::new()
        .route(
            "/identity/oauth/token",
            get(identity::token_get).post(identity::token_post),
        )
        .route_layer(from_fn(faults::apply_latency));
    let marketo = users
        .merge(stats)
        .merge(identity)
        .method_not_allowed_fallback(method_not_supported)
        .route_layer(from_fn(limits::sizes))
        .route_layer(from_fn_with_state(sandbox.clone(), error::dialect))
        .route_layer(from_fn_with_state(
            sandbox.shared.traffic.clone(),
            faults::observe,
        ));
    let control = Router::new()
        .route("/_sandbox/info", get(control::info))
        .route("/_sandbox/state", get(control::state))
        .route("/_sandbox/services/{name}/link", post(control::link))
        .route(
            "/_sandbox/invitations/{userid}/accept",
            post(control::accept),
        )
        .route("/_sandbox/fixture", post(control::load_fixture))
        .route("/_sandbox/clock", post(control::clock));
    let traffic = sandbox.shared.traffic.routes();
    marketo
        .merge(control)
        .with_state(sandbox)
        .merge(traffic)
        .fallback(not_found)
}

async fn method_not_supported() -> Response {
    ApiError::method_not_supported().into_response()
}

async fn not_found(_: Request) -> Response {
    ApiError::no_such_resource().into_response()
}
