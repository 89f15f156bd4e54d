//! The dotdigital v2 API, as far as relinker needs it: whether a credential authenticates, and
//! to which account. Every call carries the API user's username and password in HTTP Basic
//! auth (there are no tokens); the answer to `GET /v2/account-info` names the account (its
//! `id`) and the region that serves it (`ApiEndpoint`). A wrong password, an unknown user and a
//! disabled user are all refused alike (401); a host of the wrong region answers 403. Throttled
//! calls (429) wait for the moment `X-RateLimit-Reset` names, within the retry budget; on the
//! older flat scheme (400 `ERROR_APIUSAGE_EXCEEDED`, no reset named) they back off and ask
//! again until the budget is spent. A
//! redirect is never followed (it would carry the Basic auth elsewhere): it is an error naming
//! where it pointed. Nothing of an answer's body is shown but dotdigital's `message`.

use std::time::Duration;

use backon::Retryable;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::plan::ProviderKind;
use crate::provider::ProviderError;
use crate::retry::{Budget, RetryPolicy};
use crate::secret::Secret;

/// How errors name the platform.
const PLATFORM: ProviderKind = ProviderKind::Dotdigital;
/// The older flat rate-limit scheme's refusal (HTTP 400): the account's 2,000 calls of the
/// hour are used up.
pub(crate) const USAGE_EXCEEDED: &str = "ERROR_APIUSAGE_EXCEEDED";
/// The one endpoint relinker reads.
const ACCOUNT_INFO: &str = "/v2/account-info";

/// The account a credential belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The account id: what proves two credentials belong to the same account.
    pub id: u64,
    /// The account's name, when it says.
    pub name: Option<String>,
    /// The API host of the account's region (`https://r2-api.dotdigital.com`), when it says.
    pub endpoint: Option<String>,
}

/// What dotdigital says of a credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// It authenticates, to this account.
    Account(Account),
    /// It is refused: wrong username or password, or the API user is disabled or deleted.
    Refused {
        /// What dotdigital said.
        reason: String,
    },
    /// This host does not serve the account's region.
    WrongRegion {
        /// What dotdigital said.
        reason: String,
    },
}

/// A client for one dotdigital API host.
#[derive(Debug, Clone)]
pub struct DotdigitalClient {
    http: reqwest::Client,
    base: String,
    /// Whether the host has answered this command (see [`crate::endpoint::Heard`]).
    heard: crate::endpoint::Heard,
    retry: RetryPolicy,
    timeout: Duration,
}

#[derive(Debug, Deserialize)]
struct WireAccount {
    id: u64,
    #[serde(default)]
    properties: Vec<WireProperty>,
}

#[derive(Debug, Deserialize)]
struct WireProperty {
    name: String,
    #[serde(default)]
    value: serde_json::Value,
}

#[derive(Debug, Default, Deserialize)]
struct WireError {
    #[serde(default)]
    message: String,
}

/// How one attempt ended, when not with an answer.
struct Failed {
    error: ProviderError,
    retry: bool,
    /// A wait the server asked for (429 with `X-RateLimit-Reset`).
    wait: Option<Duration>,
}

impl DotdigitalClient {
    /// A client for `base_url` (`https://r1-api.dotdigital.com`, or a sandbox).
    pub fn new(base_url: &str, retry: RetryPolicy) -> Result<Self, ProviderError> {
        let url =
            crate::endpoint::check_base_url(base_url.trim()).map_err(ProviderError::Config)?;
        let base = url.as_str().trim_end_matches('/').to_owned();
        // dotdigital asks clients to allow two minutes before treating a call as timed out.
        let timeout = Duration::from_secs(121);
        let http = crate::endpoint::client_builder(&url)
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                ProviderError::Config(format!("cannot start the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self {
            http,
            base,
            heard: crate::endpoint::Heard::default(),
            retry,
            timeout,
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Whether a credential authenticates, and to which account. Reads only.
    pub async fn access(&self, username: &str, password: &Secret) -> Result<Access, ProviderError> {
        let budget = Budget::new(self.retry, self.timeout);
        let what = format!("GET {ACCOUNT_INFO}");
        let attempt = || self.attempt(username, password, budget.attempt_timeout());
        attempt
            .retry(self.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(|f: &Failed| f.retry)
            .adjust(|f: &Failed, backoff| budget.next_wait(&f.error, backoff, f.wait, &what))
            .await
            .map_err(|f| f.error)
    }

    async fn attempt(
        &self,
        username: &str,
        password: &Secret,
        timeout: Duration,
    ) -> Result<Access, Failed> {
        let sent = self
            .http
            .get(format!("{}{ACCOUNT_INFO}", self.base))
            .timeout(timeout)
            .basic_auth(username, Some(password.expose()))
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => {
                if let Some(reason) = self.heard.never(&error) {
                    return Err(Failed {
                        error: ProviderError::NoAnswer {
                            platform: PLATFORM,
                            host: self.base.clone(),
                            reason,
                        },
                        retry: false,
                        wait: None,
                    });
                }
                return Err(Failed {
                    error: unreachable(&error),
                    retry: true,
                    wait: None,
                });
            }
        };
        self.heard.answered();
        let status = response.status();
        if status.is_redirection() {
            return Err(Failed {
                error: ProviderError::Redirected {
                    platform: PLATFORM,
                    method: "GET".into(),
                    path: ACCOUNT_INFO.into(),
                    status: status.as_u16(),
                    to: crate::endpoint::redirect_target(response.url(), response.headers()),
                },
                retry: false,
                wait: None,
            });
        }
        let reset = response
            .headers()
            .get("x-ratelimit-reset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<i64>().ok());
        let bytes = response.bytes().await.map_err(|e| Failed {
            error: unreachable(&e),
            retry: true,
            wait: None,
        })?;
        let message = || {
            serde_json::from_slice::<WireError>(&bytes)
                .map(|e| e.message)
                .ok()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").into())
        };
        match status {
            StatusCode::OK => parse(&bytes).map_err(|error| Failed {
                error,
                retry: false,
                wait: None,
            }),
            StatusCode::UNAUTHORIZED => Ok(Access::Refused { reason: message() }),
            StatusCode::FORBIDDEN => Ok(Access::WrongRegion { reason: message() }),
            StatusCode::TOO_MANY_REQUESTS => {
                let wait = reset.map(|at| {
                    let seconds = at.saturating_sub(chrono::Utc::now().timestamp()).max(1);
                    Duration::from_secs(seconds.unsigned_abs())
                });
                Err(Failed {
                    error: api_error(status, message()),
                    retry: true,
                    wait,
                })
            }
            _ => {
                // The older flat scheme's "calls of the hour used up" says nothing of when it
                // lifts: backed off and asked again within the budget, as a 5xx is.
                let error = api_error(status, message());
                let retry = status.is_server_error() || error.code() == Some(USAGE_EXCEEDED);
                Err(Failed {
                    error,
                    retry,
                    wait: None,
                })
            }
        }
    }
}

fn parse(bytes: &[u8]) -> Result<Access, ProviderError> {
    let wire: WireAccount = serde_json::from_slice(bytes).map_err(|e| ProviderError::Protocol {
        method: "GET".into(),
        path: ACCOUNT_INFO.into(),
        reason: format!("the answer is not account information: {e}"),
    })?;
    let property = |name: &str| {
        wire.properties
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .and_then(|p| p.value.as_str())
            .map(str::to_owned)
    };
    Ok(Access::Account(Account {
        id: wire.id,
        name: property("Name"),
        endpoint: property("ApiEndpoint"),
    }))
}

fn api_error(status: StatusCode, message: String) -> ProviderError {
    // v2 errors carry their `ERROR_*` token in the message.
    let code = message
        .split(|c: char| !(c.is_ascii_uppercase() || c == '_'))
        .find(|w| w.starts_with("ERROR_"))
        .map(str::to_owned);
    ProviderError::Api {
        platform: PLATFORM,
        method: "GET".into(),
        path: ACCOUNT_INFO.into(),
        status: status.as_u16(),
        code,
        message,
    }
}

fn unreachable(error: &reqwest::Error) -> ProviderError {
    // Described without the URL: nothing secret is in it, but the rule is one rule.
    let mut reason = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        "the connection failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.source().is_none() {
            reason = format!("{reason}: {cause}");
        }
        source = cause.source();
    }
    ProviderError::Unreachable {
        platform: PLATFORM,
        method: "GET".into(),
        path: ACCOUNT_INFO.into(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_information_names_the_account_and_its_region() {
        let answer = br#"{"id": 123456, "properties": [
            {"name": "Name", "type": "String", "value": "Acme Ltd"},
            {"name": "ApiEndpoint", "type": "String", "value": "https://r2-api.dotdigital.com"},
            {"name": "ApiCallsRemaining", "type": "Int32", "value": 1999}]}"#;
        let Ok(Access::Account(account)) = parse(answer) else {
            panic!("an account")
        };
        assert_eq!(account.id, 123_456);
        assert_eq!(account.name.as_deref(), Some("Acme Ltd"));
        assert_eq!(
            account.endpoint.as_deref(),
            Some("https://r2-api.dotdigital.com")
        );
        let error = api_error(
            StatusCode::BAD_REQUEST,
            "Your API usage has exceeded the limit. ERROR_APIUSAGE_EXCEEDED".into(),
        );
        assert_eq!(error.code(), Some("ERROR_APIUSAGE_EXCEEDED"));
    }
}
