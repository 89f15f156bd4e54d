//! The emulator of dotdigital's v2 API as relinker uses it (`/v2/account-info`,
//! `/v2/server-time`: Basic auth, v2 errors, regions, per-account rate limits on either
//! scheme (`behaviours`); and
//! `POST /v2/accounts/{id}/api-users`, which refuses an ordinary account), and a control
//! API that plays Settings > Access > API users and each integration's settings: dotdigital
//! manages API users only in its UI. Faithful to ../shared/reference/dotdigital-create-api-user.txt
//! and NOTES.md; docs/sandbox.md states the choices where they are silent.

mod api;
mod behaviours;
mod control;
mod error;
mod fixture;
mod world;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use behaviours::{RateLimitScheme, Setting, SettingError};
pub use fixture::Fixture;

use super::traffic::{Dialect, Traffic};
use super::{Emulator, faults, lock};
use crate::limits::RateLimit;
use error::V2Error;
use world::World;

/// How dotdigital's errors look; a request authenticates as its Basic-auth username.
const DIALECT: Dialect = Dialect {
    error: |status, code, message| V2Error::new(status, code, message).into_response(),
    invalid_code: "ERROR_PARAMETER_INVALID",
    caller: |request| super::basic_auth(request.headers()).map(|(username, _)| username),
};

#[derive(Debug)]
struct Shared {
    world: Mutex<World>,
    rate_limit: RateLimit,
    /// Which scheme the limit follows: how a call over it is answered.
    scheme: RateLimitScheme,
    /// Per account: the window's start (epoch seconds) and the calls made in it.
    windows: Mutex<BTreeMap<u64, (i64, u32)>>,
    traffic: Traffic,
}

/// An emulated dotdigital host; cheap to clone, all clones share one state.
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
                rate_limit: fixture.rate_limit(),
                scheme: fixture.scheme(),
                windows: Mutex::new(BTreeMap::new()),
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
        let api = Router::new()
            .route("/v2/account-info", get(api::account_info))
            .route("/v2/server-time", get(api::server_time))
            .route(
                "/v2/accounts/{account}/api-users",
                post(api::create_api_user),
            )
            .route("/_sandbox/integrations/{name}/check", get(control::check))
            .route_layer(from_fn(faults::apply_latency))
            .route_layer(from_fn_with_state(
                self.shared.traffic.clone(),
                faults::observe,
            ));
        let control = Router::new()
            .route("/_sandbox/info", get(control::info))
            .route("/_sandbox/state", get(control::state))
            .route("/_sandbox/api-users", post(control::create_user))
            .route(
                "/_sandbox/api-users/{username}",
                axum::routing::delete(control::delete_user),
            )
            .route(
                "/_sandbox/api-users/{username}/password",
                post(control::set_password),
            )
            .route(
                "/_sandbox/api-users/{username}/enabled",
                post(control::set_enabled),
            )
            .route(
                "/_sandbox/api-users/{username}/description",
                post(control::set_description),
            )
            .route("/_sandbox/api-users/{username}/edit", post(control::edit))
            .route(
                "/_sandbox/integrations/{name}/credential",
                post(control::configure),
            )
            .route("/_sandbox/fixture", post(control::load_fixture));
        let traffic = self.shared.traffic.routes();
        // Set last, so every route above (control API included) answers a wrong method in
        // the v2 shape too.
        api.merge(control)
            .with_state(self)
            .merge(traffic)
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
    }
}

async fn method_not_allowed(request: Request) -> Response {
    V2Error::method_not_allowed(request.method()).into_response()
}

async fn not_found(request: Request) -> Response {
    V2Error::not_found(format!("no resource at {}", request.uri().path())).into_response()
}
