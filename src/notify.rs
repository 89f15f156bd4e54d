//! Notifications: one JSON message to a webhook when a run pauses for a person, fails, rolls
//! back or finishes.
//!
//! The body works as a Slack-compatible incoming webhook (its `text`) and carries the same
//! facts as structured fields under `relinker` for any other receiver. The webhook's URL is a
//! secret (whoever holds a Slack webhook URL may post to the channel): it is never printed,
//! logged or put in an error, and so it must be `https://`, or `http://` to a loopback host,
//! as base URLs must. A redirect is not followed (it would carry the notice elsewhere): it is
//! an error naming only the origin it pointed to. A notification never fails a run: the
//! caller reports a [`NotifyError`] as a warning and goes on.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::ids::{RunId, StepId};
use crate::secret::Secret;

/// How long a receiver may take to answer: a slow chat service must not hold a run's exit.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a notification was not delivered. Never names the URL.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The webhook is not an `http` or `https` URL.
    #[error("the notification webhook is not an http(s) URL")]
    NotAUrl,
    /// The webhook is `http://` to a host that is not loopback.
    #[error(
        "the notification webhook uses http:// to a non-loopback host; the notice and the webhook's URL (a secret) would cross the network in clear (use https://)"
    )]
    Cleartext,
    /// The receiver answered with a redirect, which is not followed.
    #[error(
        "the notification receiver answered HTTP {status}, a redirect to `{to}`; notifications follow no redirects"
    )]
    Redirected {
        /// HTTP status.
        status: u16,
        /// The origin it pointed to (the rest may be a secret, as the webhook's own URL is).
        to: String,
    },
    /// The request could not be sent or its answer was not read.
    #[error("the notification could not be sent: {0}")]
    Send(String),
    /// The receiver did not answer in time (it may still have taken the notice).
    #[error("the notification receiver did not answer within {0} s (timed out)")]
    TimedOut(u64),
    /// The receiver refused it.
    #[error("the notification receiver answered HTTP {0}")]
    Refused(u16),
}

/// What happened to a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEvent {
    /// Every step holds and every verification passed.
    Finished,
    /// Waiting for a person at manual steps.
    Paused,
    /// A step failed (what became of the run's changes is in the text).
    Failed,
    /// Everything the run did was undone.
    RolledBack,
}

/// A manual step a person is asked to do.
#[derive(Debug, Clone, Serialize)]
pub struct PendingStep {
    /// The step.
    pub step: StepId,
    /// What the person must do.
    pub action: String,
}

/// One notification.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// What happened.
    pub event: RunEvent,
    /// The run.
    pub run: RunId,
    /// The plan's name.
    pub plan: String,
    /// The instance the run changes.
    pub instance: String,
    /// The exit code the command ends with.
    pub exit_code: u8,
    /// Every manual step waited for, when paused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingStep>,
    /// The command that goes on, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Why, in words, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the run is being rolled back (what it waits for, when paused, undoes).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rolling_back: bool,
}

impl Notice {
    /// The message for people: what a chat channel shows.
    pub fn text(&self) -> String {
        let head = format!("relinker: run `{}` (plan `{}`)", self.run, self.plan);
        let mut text = match self.event {
            RunEvent::Finished => format!("{head} finished: every rotation is proven."),
            RunEvent::RolledBack => format!("{head} was rolled back."),
            RunEvent::Failed => format!(
                "{head} failed{}",
                self.reason
                    .as_ref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
            RunEvent::Paused => format!(
                "{head}{} waits for a person to do {} step{} in the platform's UI:",
                if self.rolling_back {
                    ": its rollback"
                } else {
                    ""
                },
                self.pending.len(),
                if self.pending.len() == 1 { "" } else { "s" }
            ),
        };
        for pending in &self.pending {
            let _ = write!(text, "\n• `{}`: {}", pending.step, pending.action);
        }
        if let Some(next) = &self.next {
            let _ = write!(text, "\nThen: `{next}`");
        }
        text
    }

    /// What the notice is about, in a few bytes for the journal: the event and a digest of
    /// what it says. Two notices with the same `about` tell people nothing new.
    pub fn about(&self) -> String {
        let event = serde_json::to_value(self.event)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let digest = crate::secret::Fingerprint::of(self.text().as_bytes());
        format!("{event} {}", digest.as_str())
    }

    /// The request body: Slack's `text`, and every fact under `relinker`.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({ "text": self.text(), "relinker": self })
    }
}

/// A webhook notifications go to.
#[derive(Debug, Clone)]
pub struct Webhook {
    url: Secret,
    http: reqwest::Client,
}

impl Webhook {
    /// A webhook at `url` (`http` or `https`).
    pub fn new(url: Secret) -> Result<Self, NotifyError> {
        let parsed = url::Url::parse(url.expose()).map_err(|_| NotifyError::NotAUrl)?;
        match parsed.scheme() {
            "https" => {}
            "http" if crate::endpoint::is_loopback(&parsed) => {}
            "http" => return Err(NotifyError::Cleartext),
            _ => return Err(NotifyError::NotAUrl),
        }
        let http = crate::endpoint::client_builder(&parsed)
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| NotifyError::Send(e.without_url().to_string()))?;
        Ok(Self { url, http })
    }

    /// Posts `notice`; the receiver must answer 2xx.
    pub async fn send(&self, notice: &Notice) -> Result<(), NotifyError> {
        self.post(&notice.body()).await
    }

    /// Posts a message that is no notice of a run (`relinker doctor`'s test), as Slack's
    /// `text`; the receiver must answer 2xx.
    pub async fn send_text(&self, text: &str) -> Result<(), NotifyError> {
        self.post(&serde_json::json!({ "text": text })).await
    }

    async fn post(&self, body: &serde_json::Value) -> Result<(), NotifyError> {
        let answer = self
            .http
            .post(self.url.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    NotifyError::TimedOut(TIMEOUT.as_secs())
                } else {
                    NotifyError::Send(e.without_url().to_string())
                }
            })?;
        if answer.status().is_success() {
            Ok(())
        } else if answer.status().is_redirection() {
            let to = crate::endpoint::redirect_location(answer.url(), answer.headers())
                .map_or_else(
                    || crate::endpoint::NOWHERE.to_owned(),
                    |target| crate::endpoint::origin(&target),
                );
            Err(NotifyError::Redirected {
                status: answer.status().as_u16(),
                to,
            })
        } else {
            Err(NotifyError::Refused(answer.status().as_u16()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(event: RunEvent) -> Notice {
        Notice {
            event,
            run: RunId::parse("acme-20261204-1").unwrap(),
            plan: "acme".into(),
            instance: "https://x.mktorest.com".into(),
            exit_code: 4,
            pending: vec![PendingStep {
                step: StepId::new("r0-link-crm"),
                action: "link service `crm` to `t@x.test`".into(),
            }],
            next: Some("relinker resume acme-20261204-1".into()),
            reason: None,
            rolling_back: false,
        }
    }

    #[test]
    fn a_pause_lists_every_step_and_the_command_that_goes_on() {
        let body = notice(RunEvent::Paused).body();
        assert_eq!(
            body["text"],
            "relinker: run `acme-20261204-1` (plan `acme`) waits for a person to do 1 step in the platform's UI:\n• `r0-link-crm`: link service `crm` to `t@x.test`\nThen: `relinker resume acme-20261204-1`"
        );
        assert_eq!(body["relinker"]["event"], "paused");
        assert_eq!(body["relinker"]["exit_code"], 4);
        assert_eq!(body["relinker"]["pending"][0]["step"], "r0-link-crm");
    }

    #[test]
    fn only_web_urls_are_webhooks() {
        assert!(Webhook::new(Secret::new("https://hooks.example/x")).is_ok());
        assert!(Webhook::new(Secret::new("http://127.0.0.1:9/hook")).is_ok());
        for bad in [
            "file:///etc/passwd",
            "not a url",
            "ftp://x.example/",
            "http://hooks.example/T000/secret-token",
        ] {
            let error = Webhook::new(Secret::new(bad)).unwrap_err();
            assert!(!error.to_string().contains(bad), "the URL is a secret");
            assert!(
                !error.to_string().contains("secret-token"),
                "the URL is a secret"
            );
        }
        assert!(matches!(
            Webhook::new(Secret::new("http://hooks.example/T000/secret-token")),
            Err(NotifyError::Cleartext)
        ));
    }
}
