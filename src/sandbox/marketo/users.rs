//! The User Management endpoints, `/userservice/management/v1/users/...`.
//!
//! Each handler checks the caller (bearer token in the header only, User Management permission),
//! turns the request into a [`World`](super::world::World) call, and answers with the reference's
//! JSON shapes. Success is a bare 200 with no `success` field; failures are [`ApiError`]s.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::behaviours::PageOffset;
use super::dates::{self, quota_day};
use super::error::ApiError;
use super::model::RoleAssignment;
use super::state::Sandbox;
use super::wire;
use super::world::{NewUser, UserChanges};
use crate::sandbox::requests::StateChanged;

/// Default and largest `pageSize` of `allusers.json`.
const DEFAULT_PAGE_SIZE: usize = 20;
const MAX_PAGE_SIZE: usize = 200;

/// Proof that the request carried a live token, in the header, of a permitted service.
pub(crate) struct Authorized;

impl FromRequestParts<Sandbox> for Authorized {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, sandbox: &Sandbox) -> Result<Self, ApiError> {
        // The User Management API never takes the token as a query parameter, even alongside a
        // good header: a client that sends it there has a bug worth surfacing.
        if query_token(parts).is_some() {
            return Err(ApiError::token_invalid());
        }
        let token = header_token(parts).ok_or_else(ApiError::token_invalid)?;
        let now = sandbox.now();
        let mut world = sandbox.world();
        let caller = world.caller(token, now)?;
        // A call with a live token counts for its user, whatever it is answered.
        world.count_calls(&caller, quota_day(now), 1);
        world.may_manage_users(&caller)?;
        Ok(Authorized)
    }
}

/// The bearer token of the Authorization header.
pub(crate) fn header_token(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
}

/// The `access_token` query parameter, which only Marketo's older REST endpoints still take.
pub(crate) fn query_token(parts: &Parts) -> Option<String> {
    url::form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(name, _)| name == "access_token")
        .map(|(_, value)| value.into_owned())
}

/// A JSON body, refused with Marketo's 612 (content type) or 609 (JSON) answers.
pub(crate) struct ApiJson<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Sandbox> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, sandbox: &Sandbox) -> Result<Self, ApiError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| {
                value
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if !is_json {
            return Err(ApiError::invalid_content_type());
        }
        let bytes = Bytes::from_request(request, sandbox)
            .await
            .map_err(|e| ApiError::invalid_json(e.body_text()))?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(ApiError::invalid_json)
    }
}

/// Marks a successful answer as one that changed the instance, for the request log.
fn changed(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.extensions_mut().insert(StateChanged);
    response
}

/// `GET users/{userid}/user.json`
pub(crate) async fn user(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
) -> Result<Response, ApiError> {
    let world = sandbox.world();
    let user = world.user(&userid)?;
    Ok(Json(wire::user_record(&world, user)).into_response())
}

/// `GET users/{userid}/invite.json`
pub(crate) async fn invitation(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
) -> Result<Response, ApiError> {
    let now = sandbox.now();
    let mut world = sandbox.world();
    world.expire_invitations(now);
    let invitation = world.invitation(&userid)?;
    Ok(Json(wire::invitation_record(&world, invitation)).into_response())
}

/// `GET users/{userid}/roles.json`
pub(crate) async fn user_roles(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
) -> Result<Response, ApiError> {
    let world = sandbox.world();
    let user = world.user(&userid)?;
    Ok(Json(wire::role_workspaces(&world, &user.roles)).into_response())
}

/// Paging parameters, kept as text so a bad value gets Marketo's answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Paging {
    page_size: Option<String>,
    page_offset: Option<String>,
}

fn parse_count(name: &str, value: Option<&str>, default: usize) -> Result<usize, ApiError> {
    value.map_or(Ok(default), |text| {
        text.trim().parse().map_err(|_| {
            ApiError::invalid_value(format!(
                "{name} must be a non-negative integer, not `{text}`"
            ))
        })
    })
}

/// `GET users/allusers.json?pageSize=..&pageOffset=..`
pub(crate) async fn all_users(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Query(paging): Query<Paging>,
) -> Result<Response, ApiError> {
    let size = parse_count("pageSize", paging.page_size.as_deref(), DEFAULT_PAGE_SIZE)?;
    if !(1..=MAX_PAGE_SIZE).contains(&size) {
        return Err(ApiError::invalid_value(format!(
            "pageSize must be between 1 and {MAX_PAGE_SIZE}, not {size}"
        )));
    }
    let offset = parse_count("pageOffset", paging.page_offset.as_deref(), 0)?;
    let world = sandbox.world();
    let offset = match world.behaviours.page_offset {
        PageOffset::Entries => offset,
        PageOffset::Pages => offset.saturating_mul(size),
    };
    let page: Vec<_> = world
        .page_of_users(offset, size)
        .into_iter()
        .map(wire::user_summary)
        .collect();
    Ok(Json(page).into_response())
}

/// `GET users/roles.json`
pub(crate) async fn roles(_: Authorized, State(sandbox): State<Sandbox>) -> Response {
    let world = sandbox.world();
    Json(
        world
            .roles
            .iter()
            .map(wire::role_record)
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// `GET users/workspaces.json`
pub(crate) async fn workspaces(_: Authorized, State(sandbox): State<Sandbox>) -> Response {
    let world = sandbox.world();
    Json(
        world
            .workspaces
            .iter()
            .map(wire::workspace_record)
            .collect::<Vec<_>>(),
    )
    .into_response()
}

/// The body of `invite.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct InviteRequest {
    email_address: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    userid: Option<String>,
    api_only: Option<bool>,
    expires_at: Option<String>,
    reason: Option<String>,
    user_role_workspaces: Option<Vec<RoleAssignment>>,
}

fn required(name: &str, value: Option<String>) -> Result<String, ApiError> {
    value
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| ApiError::invalid_value(format!("{name} is required")))
}

fn email(name: &str, value: String) -> Result<String, ApiError> {
    match crate::address::check(&value) {
        Ok(()) => Ok(value),
        Err(why) => Err(ApiError::invalid_value(format!(
            "{name} must be an email address, not {}: {why}",
            crate::address::shown(&value)
        ))),
    }
}

fn date(name: &str, value: Option<String>) -> Result<Option<DateTime<Utc>>, ApiError> {
    value
        .map(|text| {
            dates::parse(&text).map_err(|e| ApiError::invalid_value(format!("{name}: {e}")))
        })
        .transpose()
}

/// `POST users/invite.json`; answers `true`.
pub(crate) async fn invite(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    ApiJson(request): ApiJson<InviteRequest>,
) -> Result<Response, ApiError> {
    let email_address = email(
        "emailAddress",
        required("emailAddress", request.email_address)?,
    )?;
    let first_name = required("firstName", request.first_name)?;
    let last_name = required("lastName", request.last_name)?;
    let roles = request
        .user_role_workspaces
        .ok_or_else(|| ApiError::invalid_value("userRoleWorkspaces is required"))?;
    let userid = match request.userid {
        Some(userid) => email("userid", userid)?,
        None => email_address.clone(),
    };
    // Marketo puts `reason` in the invitation email; the sandbox sends no email.
    drop(request.reason);
    let new = NewUser {
        userid,
        email: email_address,
        first_name,
        last_name,
        api_only: request.api_only.unwrap_or(false),
        roles,
        expires_at: date("expiresAt", request.expires_at)?,
    };
    let now = sandbox.now();
    sandbox.world().invite(new, now)?;
    Ok(changed(Json(true)))
}

/// The body of `update.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct UpdateRequest {
    email_address: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    expires_at: Option<String>,
}

/// `POST users/{userid}/update.json`; answers the updated record.
pub(crate) async fn update(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
    ApiJson(request): ApiJson<UpdateRequest>,
) -> Result<Response, ApiError> {
    let non_empty =
        |name: &str, value: Option<String>| value.map(|v| required(name, Some(v))).transpose();
    let changes = UserChanges {
        email: non_empty("emailAddress", request.email_address)?
            .map(|v| email("emailAddress", v))
            .transpose()?,
        first_name: non_empty("firstName", request.first_name)?,
        last_name: non_empty("lastName", request.last_name)?,
        expires_at: date("expiresAt", request.expires_at)?,
    };
    if changes.email.is_none()
        && changes.first_name.is_none()
        && changes.last_name.is_none()
        && changes.expires_at.is_none()
    {
        return Err(ApiError::invalid_value(
            "give at least one of emailAddress, firstName, lastName, expiresAt",
        ));
    }
    let mut world = sandbox.world();
    let user = world.update(&userid, changes)?.clone();
    Ok(changed(Json(wire::user_record(&world, &user))))
}

/// `POST users/{userid}/delete.json`
pub(crate) async fn delete_user(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
) -> Result<Response, ApiError> {
    sandbox.world().delete_user(&userid)?;
    Ok(changed(()))
}

/// `POST users/{userid}/invite/delete.json`
pub(crate) async fn delete_invitation(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
) -> Result<Response, ApiError> {
    let now = sandbox.now();
    sandbox.world().delete_invitation(&userid, now)?;
    Ok(changed(()))
}

/// A role list as the page writes it (a bare array) or as the published spec does
/// (`{"input": [...]}`); both are accepted.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RoleList {
    Bare(Vec<RoleAssignment>),
    Wrapped { input: Vec<RoleAssignment> },
}

impl RoleList {
    fn into_pairs(self) -> Result<Vec<RoleAssignment>, ApiError> {
        let pairs = match self {
            RoleList::Bare(pairs) | RoleList::Wrapped { input: pairs } => pairs,
        };
        if pairs.is_empty() {
            return Err(ApiError::invalid_value(
                "give at least one accessRoleId/workspaceId pair",
            ));
        }
        Ok(pairs)
    }
}

/// `POST users/{userid}/roles/create.json`; answers every pair the user now holds.
pub(crate) async fn add_roles(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
    ApiJson(list): ApiJson<RoleList>,
) -> Result<Response, ApiError> {
    let pairs = list.into_pairs()?;
    let mut world = sandbox.world();
    let held = world.add_roles(&userid, &pairs)?;
    Ok(changed(Json(wire::role_workspaces(&world, &held))))
}

/// `POST users/{userid}/roles/delete.json`; answers the pairs that remain.
pub(crate) async fn remove_roles(
    _: Authorized,
    State(sandbox): State<Sandbox>,
    Path(userid): Path<String>,
    ApiJson(list): ApiJson<RoleList>,
) -> Result<Response, ApiError> {
    let pairs = list.into_pairs()?;
    let mut world = sandbox.world();
    let held = world.remove_roles(&userid, &pairs)?;
    Ok(changed(Json(wire::role_workspaces(&world, &held))))
}
