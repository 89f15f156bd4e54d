//! The sandbox operator: plays the person at manual steps through a sandbox's control API,
//! doing exactly what a person would do in the platform's UI, nothing more: relink a
//! LaunchPoint service in Marketo, create or disable an API user in dotdigital, add one in
//! Movius's Administrators tool. Each platform's moves have a module of their own; this one
//! holds the desk they work at. It refuses to work against anything that is not a relinker
//! sandbox, and it types in credentials the way a person would: from where the plan's secret
//! references point.

mod dotdigital;
mod marketo;
mod movius;

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::plan::{Login, ResolvedLogin, Secrets};
use crate::provider::Op;
use crate::provider::{Person, PersonError, PersonFuture};

/// Who the operator is, in attestations and messages.
const NAME: &str = "the sandbox operator";

/// Plays the person through a sandbox's control API.
#[derive(Debug, Clone)]
pub struct Operator {
    desk: Desk,
}

/// `base` is not a relinker sandbox.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{base}` is not a relinker sandbox (no `/_sandbox/info`); --sandbox-operator only works against one"
)]
pub struct NotASandbox {
    /// The base URL.
    pub base: String,
}

/// What the operator works with: the control API, and the credentials a person would have.
#[derive(Debug, Clone)]
pub(crate) struct Desk {
    http: reqwest::Client,
    base: String,
    secrets: Secrets,
}

/// A path segment, encoded.
pub(crate) fn segment(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

impl Desk {
    /// An error for `action`.
    pub(crate) fn refused(action: impl Into<String>, reason: impl Into<String>) -> PersonError {
        PersonError {
            what: NAME.into(),
            action: action.into(),
            reason: reason.into(),
        }
    }

    /// The values of a credential, as a person finds them.
    pub(crate) fn login(&self, action: &str, login: &Login) -> Result<ResolvedLogin, PersonError> {
        self.secrets
            .login(login)
            .map_err(|e| Self::refused(action, e.to_string()))
    }

    /// Sends a control request; `body` is JSON, or nothing for a DELETE.
    pub(crate) async fn send(
        &self,
        action: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, PersonError> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Self::refused(action, e.without_url().to_string()))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
        } else {
            Err(Self::refused(
                action,
                format!("HTTP {}: {text}", status.as_u16()),
            ))
        }
    }

    /// POSTs JSON to a control path.
    pub(crate) async fn post(
        &self,
        action: &str,
        path: &str,
        body: Value,
    ) -> Result<Value, PersonError> {
        self.send(action, reqwest::Method::POST, path, Some(body))
            .await
    }

    /// DELETEs a control path.
    pub(crate) async fn delete(&self, action: &str, path: &str) -> Result<(), PersonError> {
        self.send(action, reqwest::Method::DELETE, path, None)
            .await
            .map(|_| ())
    }
}

impl Operator {
    /// Connects after checking that `base` is a sandbox; credentials come from `secrets`.
    pub async fn connect(base: &str, secrets: Secrets) -> Result<Self, NotASandbox> {
        let not_a_sandbox = || NotASandbox {
            base: base.to_owned(),
        };
        let url = url::Url::parse(base).map_err(|_| not_a_sandbox())?;
        let http = crate::endpoint::client_builder(&url)
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|_| not_a_sandbox())?;
        let info: Option<Value> = match http.get(format!("{base}/_sandbox/info")).send().await {
            Ok(response) if response.status().is_success() => response.json().await.ok(),
            _ => None,
        };
        if info.is_none_or(|i| i["sandbox"] != true) {
            return Err(not_a_sandbox());
        }
        Ok(Self {
            desk: Desk {
                http,
                base: base.to_owned(),
                secrets,
            },
        })
    }
}

impl Person for Operator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn perform<'a>(&'a self, action: &'a Op) -> PersonFuture<'a> {
        Box::pin(async move {
            match action {
                Op::Marketo(op) => marketo::perform(&self.desk, op).await,
                Op::Dotdigital(op) => dotdigital::perform(&self.desk, op).await,
                Op::Movius(op) => movius::perform(&self.desk, op).await,
            }
        })
    }
}
