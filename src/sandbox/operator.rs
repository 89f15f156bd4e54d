//! The sandbox operator: plays the person at manual steps through the sandbox's control API,
//! doing exactly what a person would do in the UI (relink a LaunchPoint service), nothing more.
//! It is what `--sandbox` and `--sandbox-operator` runs use; it refuses to work against
//! anything that is not a relinker sandbox.

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::executor::{Person, PersonError, PersonFuture};
use crate::provider::{Op, marketo};

/// Plays the person through a sandbox's control API.
#[derive(Debug, Clone)]
pub struct Operator {
    http: reqwest::Client,
    base: String,
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

impl Operator {
    /// Connects after checking that `base` is a sandbox.
    pub async fn connect(base: &str) -> Result<Self, NotASandbox> {
        let not_a_sandbox = || NotASandbox {
            base: base.to_owned(),
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|_| not_a_sandbox())?;
        let info: Option<serde_json::Value> =
            match http.get(format!("{base}/_sandbox/info")).send().await {
                Ok(response) if response.status().is_success() => response.json().await.ok(),
                _ => None,
            };
        if info.is_none_or(|i| i["sandbox"] != true) {
            return Err(not_a_sandbox());
        }
        Ok(Self {
            http,
            base: base.to_owned(),
        })
    }

    async fn link(&self, service: &str, userid: &str) -> Result<(), PersonError> {
        let refused = |reason: String| PersonError {
            what: "the sandbox operator".into(),
            action: format!("link `{service}` to `{userid}`"),
            reason,
        };
        let segment = utf8_percent_encode(service, NON_ALPHANUMERIC);
        let response = self
            .http
            .post(format!("{}/_sandbox/services/{segment}/link", self.base))
            .json(&serde_json::json!({ "userid": userid }))
            .send()
            .await
            .map_err(|e| refused(e.without_url().to_string()))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refused(response.text().await.unwrap_or_default()))
        }
    }
}

impl Person for Operator {
    fn name(&self) -> &'static str {
        "the sandbox operator"
    }

    fn perform<'a>(&'a self, action: &'a Op) -> PersonFuture<'a> {
        Box::pin(async move {
            match action {
                Op::Marketo(marketo::Op::LinkService { service, to, .. }) => {
                    self.link(service.as_str(), to.as_str()).await
                }
                other => Err(PersonError {
                    what: "the sandbox operator".into(),
                    action: other.describe(),
                    reason: "only relinking a service is a person's step in Marketo".into(),
                }),
            }
        })
    }
}
