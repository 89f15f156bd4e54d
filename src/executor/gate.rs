//! Manual gates: how long to wait for a person, and the sandbox operator that plays one.

use std::time::Duration;

use tokio::time::Instant;

/// How long a manual step waits for its verification to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GateWait {
    /// Check once; if not done, record the pause and stop (exit 4).
    Pause,
    /// Poll for at most this long.
    For(Duration),
    /// Poll until it holds (a person at a terminal).
    Forever,
}

impl GateWait {
    /// When to give up, from now; `None` means check only once. An operator acts at once, so
    /// even `Pause` gives it a short while to be seen.
    pub(crate) fn deadline(self, operator: bool) -> Option<Instant> {
        match self {
            GateWait::Pause if operator => Some(Instant::now() + Duration::from_secs(10)),
            GateWait::Pause => None,
            GateWait::For(wait) => Some(Instant::now() + wait),
            GateWait::Forever => Some(Instant::now() + Duration::from_secs(365 * 24 * 3600)),
        }
    }
}

/// Plays the person at manual steps through the sandbox's control API.
#[derive(Debug, Clone)]
pub struct Operator {
    http: reqwest::Client,
    base: String,
}

/// The operator could not act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OperatorError {
    /// `/_sandbox/info` did not say it is a sandbox.
    #[error(
        "`{base}` is not a relinker sandbox (no `/_sandbox/info`); --sandbox-operator only works against one"
    )]
    NotASandbox {
        /// The base URL.
        base: String,
    },
    /// The control API refused.
    #[error("the sandbox operator could not link `{service}` to `{userid}`: {reason}")]
    Refused {
        /// The service.
        service: String,
        /// The user.
        userid: String,
        /// Why.
        reason: String,
    },
}

impl Operator {
    /// Connects after checking that `base` is a sandbox.
    pub async fn connect(base: &str) -> Result<Self, OperatorError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|_| OperatorError::NotASandbox {
                base: base.to_owned(),
            })?;
        let info: Option<serde_json::Value> =
            match http.get(format!("{base}/_sandbox/info")).send().await {
                Ok(response) if response.status().is_success() => response.json().await.ok(),
                _ => None,
            };
        if info.is_none_or(|i| i["sandbox"] != true) {
            return Err(OperatorError::NotASandbox {
                base: base.to_owned(),
            });
        }
        Ok(Self {
            http,
            base: base.to_owned(),
        })
    }

    /// Links `service` to `userid`, as a person would in the UI.
    pub async fn link(&self, service: &str, userid: &str) -> Result<(), OperatorError> {
        let refused = |reason: String| OperatorError::Refused {
            service: service.to_owned(),
            userid: userid.to_owned(),
            reason,
        };
        let segment = crate::provider::marketo::encode::segment(service);
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
