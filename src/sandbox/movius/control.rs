//! The control API under `/_sandbox/`: what a person does in the Administrators tool (add,
//! edit, delete API users) and in an integration's settings (enter the emailed credentials),
//! plus the credential-check endpoint a plan's check command can ask. Answers never carry a
//! password.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fixture::Fixture;
use super::world::{Details, Edit, ToolError};
use super::{Sandbox, ToolAnswer};
use crate::sandbox::FixtureError;

impl From<ToolError> for ToolAnswer {
    fn from(error: ToolError) -> Self {
        let status = match error {
            ToolError::NoSuchUser(_) | ToolError::NoSuchIntegration(_) => StatusCode::NOT_FOUND,
            ToolError::EmailTaken(_) => StatusCode::CONFLICT,
            ToolError::UnknownApplication(_)
            | ToolError::NoApplication
            | ToolError::WrongApplication { .. } => StatusCode::BAD_REQUEST,
        };
        ToolAnswer::new(status, "refused", error.to_string())
    }
}

/// `GET /_sandbox/info`
pub(crate) async fn info() -> Json<Value> {
    Json(json!({
        "sandbox": true,
        "emulates": "movius",
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// `GET /_sandbox/state`: API users and integrations, without passwords.
pub(crate) async fn state(State(sandbox): State<Sandbox>) -> Json<Value> {
    let world = sandbox.world();
    Json(json!({
        "applications": world.applications,
        "api_users": world.users.values().map(|u| json!({
            "email": u.email, "first_name": u.first_name, "last_name": u.last_name,
            "applications": u.applications, "username": u.username,
        })).collect::<Vec<_>>(),
        "integrations": world.integrations.iter().map(|(name, i)| json!({
            "name": name, "application": i.application, "username": i.username,
        })).collect::<Vec<_>>(),
    }))
}

/// The Add API User form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddUser {
    first_name: String,
    last_name: String,
    email: String,
    applications: Vec<String>,
}

/// `POST /_sandbox/api-users`: Add API User; Movius emails the credentials.
pub(crate) async fn add_user(
    State(sandbox): State<Sandbox>,
    Json(form): Json<AddUser>,
) -> Result<Response, ToolAnswer> {
    let username = sandbox.world().add_user(Details {
        first_name: form.first_name,
        last_name: form.last_name,
        email: form.email,
        applications: form.applications,
    })?;
    Ok((StatusCode::CREATED, Json(json!({ "username": username }))).into_response())
}

/// The Edit form: fields left out stay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EditUser {
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    applications: Option<Vec<String>>,
}

/// `POST /_sandbox/api-users/{email}/edit`
pub(crate) async fn edit_user(
    State(sandbox): State<Sandbox>,
    Path(email): Path<String>,
    Json(form): Json<EditUser>,
) -> Result<StatusCode, ToolAnswer> {
    sandbox.world().edit_user(
        &email,
        Edit {
            first_name: form.first_name,
            last_name: form.last_name,
            email: form.email,
            applications: form.applications,
        },
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /_sandbox/api-users/{email}`
pub(crate) async fn delete_user(
    State(sandbox): State<Sandbox>,
    Path(email): Path<String>,
) -> Result<StatusCode, ToolAnswer> {
    sandbox.world().delete_user(&email)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Body of a switch.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Switch {
    email: String,
}

/// `POST /_sandbox/integrations/{name}/switch` `{"email": …}`: a person enters the credentials
/// Movius emailed that API user into the integration's settings.
pub(crate) async fn switch(
    State(sandbox): State<Sandbox>,
    Path(name): Path<String>,
    Json(body): Json<Switch>,
) -> Result<StatusCode, ToolAnswer> {
    sandbox.world().switch(&name, &body.email)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /_sandbox/integrations/{name}/check` with Basic auth: 200 when the integration is
/// configured with that credential and an API user serving its application has it; 401
/// otherwise. Movius has no such API: this is what a plan's check command stands for.
pub(crate) async fn check(
    State(sandbox): State<Sandbox>,
    Path(name): Path<String>,
    request: Request,
) -> Result<StatusCode, ToolAnswer> {
    let refused = || {
        ToolAnswer::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "not authenticated",
        )
    };
    let Some((username, password)) = crate::sandbox::basic_auth(request.headers()) else {
        return Err(refused());
    };
    if sandbox
        .world()
        .integration_works(&name, &username, &password)?
    {
        Ok(StatusCode::OK)
    } else {
        Err(refused())
    }
}

/// `POST /_sandbox/fixture` with a fixture (YAML or JSON): replaces the organization's data.
pub(crate) async fn load_fixture(State(sandbox): State<Sandbox>, body: Bytes) -> Response {
    match Fixture::parse(&String::from_utf8_lossy(&body), "request body") {
        Ok(fixture) => {
            *sandbox.world() = fixture.world();
            StatusCode::NO_CONTENT.into_response()
        }
        Err(FixtureError::Invalid(diagnostics)) => {
            ToolAnswer::new(StatusCode::BAD_REQUEST, "invalid", diagnostics.to_string())
                .into_response()
        }
        Err(other) => {
            ToolAnswer::new(StatusCode::BAD_REQUEST, "invalid", other.to_string()).into_response()
        }
    }
}
