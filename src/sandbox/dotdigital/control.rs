//! The control API under `/_sandbox/`: what a person does in Settings > Access > API users and
//! in an integration's settings, and what tests need to observe. relinker's client never calls
//! it; the sandbox operator and tests do. Answers never carry a password.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Sandbox;
use super::error::{Body, V2Error};
use super::fixture::Fixture;
use super::world::{Edit, UiError};
use crate::sandbox::FixtureError;
use crate::sandbox::basic_auth;
use crate::secret::Secret;

impl From<UiError> for V2Error {
    fn from(error: UiError) -> Self {
        match error {
            UiError::NoSuchUser(_) | UiError::NoSuchIntegration(_) | UiError::NoSuchAccount(_) => {
                V2Error::not_found(error.to_string())
            }
            UiError::WeakPassword(_) | UiError::WhichAccount => V2Error::invalid(error.to_string()),
        }
    }
}

/// `GET /_sandbox/info`
pub(crate) async fn info(State(sandbox): State<Sandbox>) -> Json<Value> {
    let rate = sandbox.shared.rate_limit;
    Json(json!({
        "sandbox": true,
        "emulates": "dotdigital",
        "version": env!("CARGO_PKG_VERSION"),
        "region": sandbox.world().host.name(),
        "limits": { "rate": rate.to_string() },
        "behaviours": [sandbox.shared.scheme.to_string()],
    }))
}

/// `GET /_sandbox/state`: accounts, API users and integrations, without passwords.
pub(crate) async fn state(State(sandbox): State<Sandbox>) -> Json<Value> {
    let world = sandbox.world();
    Json(json!({
        "region": world.host.name(),
        "accounts": world.accounts.values().map(|a| json!({
            "id": a.id, "name": a.name, "region": a.region.name(),
        })).collect::<Vec<_>>(),
        "api_users": world.users.values().map(|u| json!({
            "username": u.username, "enabled": u.enabled, "account": u.account,
            "description": u.description,
        })).collect::<Vec<_>>(),
        "integrations": world.integrations.iter().map(|(name, i)| json!({
            "name": name, "username": i.username,
        })).collect::<Vec<_>>(),
    }))
}

/// Body of a new API user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    password: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    account: Option<u64>,
}

/// `POST /_sandbox/api-users`: New user; the username is generated.
pub(crate) async fn create_user(
    State(sandbox): State<Sandbox>,
    Body(new): Body<NewUser>,
) -> Result<Response, V2Error> {
    let username =
        sandbox
            .world()
            .create_user(Secret::new(new.password), new.description, new.account)?;
    Ok((StatusCode::CREATED, Json(json!({ "username": username }))).into_response())
}

/// Body of a password change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewPassword {
    password: String,
}

/// `POST /_sandbox/api-users/{username}/password`
pub(crate) async fn set_password(
    State(sandbox): State<Sandbox>,
    Path(username): Path<String>,
    Body(body): Body<NewPassword>,
) -> Result<StatusCode, V2Error> {
    sandbox
        .world()
        .set_password(&username, Secret::new(body.password))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of an Enabled tick.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Enabled {
    enabled: bool,
}

/// `POST /_sandbox/api-users/{username}/enabled`
pub(crate) async fn set_enabled(
    State(sandbox): State<Sandbox>,
    Path(username): Path<String>,
    Body(body): Body<Enabled>,
) -> Result<StatusCode, V2Error> {
    sandbox.world().set_enabled(&username, body.enabled)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a description change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Description {
    description: String,
}

/// `POST /_sandbox/api-users/{username}/description`
pub(crate) async fn set_description(
    State(sandbox): State<Sandbox>,
    Path(username): Path<String>,
    Body(body): Body<Description>,
) -> Result<StatusCode, V2Error> {
    sandbox
        .world()
        .set_description(&username, body.description)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of the Edit pencil's page: any of its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditPage {
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// `POST /_sandbox/api-users/{username}/edit`: the Edit pencil, then Save.
pub(crate) async fn edit(
    State(sandbox): State<Sandbox>,
    Path(username): Path<String>,
    Body(body): Body<EditPage>,
) -> Result<StatusCode, V2Error> {
    let edit = Edit {
        description: body.description,
        password: body.password.map(Secret::new),
        enabled: body.enabled,
    };
    sandbox.world().edit(&username, edit)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /_sandbox/api-users/{username}`
pub(crate) async fn delete_user(
    State(sandbox): State<Sandbox>,
    Path(username): Path<String>,
) -> Result<StatusCode, V2Error> {
    sandbox.world().delete_user(&username)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of an integration's new credential.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Credential {
    username: String,
    password: String,
}

/// `POST /_sandbox/integrations/{name}/credential`: a person types a credential into the
/// integration's settings.
pub(crate) async fn configure(
    State(sandbox): State<Sandbox>,
    Path(name): Path<String>,
    Body(body): Body<Credential>,
) -> Result<StatusCode, V2Error> {
    sandbox
        .world()
        .configure(&name, &body.username, Secret::new(body.password))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /_sandbox/integrations/{name}/check` with Basic auth: 200 when the integration is
/// configured with that credential and it authenticates, 401 otherwise. What a plan's check
/// command asks (`relinker check-credential --path /_sandbox/integrations/NAME/check`).
pub(crate) async fn check(
    State(sandbox): State<Sandbox>,
    Path(name): Path<String>,
    request: Request,
) -> Result<StatusCode, V2Error> {
    let Some((username, password)) = basic_auth(request.headers()) else {
        return Err(V2Error::invalid_login());
    };
    if sandbox
        .world()
        .integration_works(&name, &username, &password)?
    {
        Ok(StatusCode::OK)
    } else {
        Err(V2Error::invalid_login())
    }
}

/// `POST /_sandbox/fixture` with a fixture (YAML or JSON): replaces the accounts' data.
pub(crate) async fn load_fixture(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    match Fixture::parse(&String::from_utf8_lossy(&body), "request body") {
        Ok(fixture) => {
            *sandbox.world() = fixture.world();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(FixtureError::Invalid(diagnostics)) => {
            V2Error::invalid(diagnostics.to_string()).into_response()
        }
        Err(other) => V2Error::invalid(other.to_string()).into_response(),
    }
}
