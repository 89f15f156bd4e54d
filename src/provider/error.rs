//! Errors a provider reports. Messages name the platform, and the request by method and path
//! only: never a token, a secret, or a query string.

use chrono::{DateTime, Utc};

use crate::plan::ProviderKind;

/// A failed provider call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The API answered with an error.
    #[error("{method} {path} failed: HTTP {status}{}: {message}", code.as_ref().map(|c| format!(", {} error {c}", platform.label())).unwrap_or_default())]
    Api {
        /// The platform.
        platform: ProviderKind,
        /// Request method.
        method: String,
        /// Request path (no query string).
        path: String,
        /// HTTP status.
        status: u16,
        /// The platform's error code, when the body had one.
        code: Option<String>,
        /// The platform's message, or the body's text.
        message: String,
    },
    /// The daily quota is used up; no retry helps before it resets.
    #[error(
        "{method} {path}: Marketo's daily API quota is used up (error 607); it resets at {resets_at} (midnight US Central)"
    )]
    QuotaExhausted {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// When the quota resets.
        resets_at: DateTime<Utc>,
    },
    /// A change was sent and no answer came back: it may or may not have been applied.
    #[error(
        "{method} {path}: no answer ({reason}); the change may or may not have been applied, so live state must be read before sending it again"
    )]
    OutcomeUnknown {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// What happened to the answer.
        reason: String,
    },
    /// The platform could not be reached (after retries).
    #[error("{method} {path}: cannot reach {}: {reason}", .platform.label())]
    Unreachable {
        /// The platform.
        platform: ProviderKind,
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// Why.
        reason: String,
    },
    /// The platform's host has not answered this command at all: its name does not resolve,
    /// or nothing listens there. Not retried (retries are for a platform that answered
    /// before); the message names the host, so the address the plan gives can be checked.
    #[error("{} at `{host}` does not answer: {reason}", .platform.label())]
    NoAnswer {
        /// The platform.
        platform: ProviderKind,
        /// `scheme://host[:port]` the plan's base URL names.
        host: String,
        /// Why, in words.
        reason: String,
    },
    /// The API answered with a redirect, which relinker never follows: it would carry the
    /// request's credentials to a host nobody reviewed.
    #[error(
        "{method} {path}: {} answered HTTP {status}, a redirect to `{to}`; relinker follows no redirects (credentials would go where nobody reviewed): check the base URL",
        .platform.label()
    )]
    Redirected {
        /// The platform.
        platform: ProviderKind,
        /// Request method.
        method: String,
        /// Request path (no query string).
        path: String,
        /// HTTP status.
        status: u16,
        /// Where it pointed: scheme, host, port and path, never a query.
        to: String,
    },
    /// The platform refused a credential.
    #[error("{} refused the credentials of {whom} (HTTP {status}{})", .platform.label(), description.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    BadCredentials {
        /// The platform.
        platform: ProviderKind,
        /// Which credentials: "the admin service" or `service \`name\``.
        whom: String,
        /// HTTP status.
        status: u16,
        /// The `error_description`, when there was one.
        description: Option<String>,
    },
    /// An answer that does not have the documented shape.
    #[error("{method} {path}: unexpected answer: {reason}")]
    Protocol {
        /// Request method.
        method: String,
        /// Request path.
        path: String,
        /// What was wrong with it.
        reason: String,
    },
    /// The platform refuses the change until a person does something first (relinks a
    /// service that still runs as the user, say); asking again once they have may succeed.
    #[error("{reason}")]
    Blocked {
        /// What the platform said, and what a person can do about it.
        reason: String,
    },
    /// A check command could not be run.
    #[error("{0}")]
    Command(String),
    /// The run's lock was lost before a request that changes state: it was not sent.
    #[error(transparent)]
    LockLost(#[from] super::fence::LockLost),
    /// The client was configured wrongly (a bad base URL, say).
    #[error("{0}")]
    Config(String),
}

impl ProviderError {
    /// The platform's error code, when the API gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ProviderError::Api { code, .. } => code.as_deref(),
            ProviderError::QuotaExhausted { .. } => Some("607"),
            _ => None,
        }
    }

    /// Whether the API said the thing asked about does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ProviderError::Api { status: 404, .. })
    }

    /// Whether the platform was not well enough to answer: no answer at all (it could not be
    /// reached, or never answered this command), an answer lost, a server error, a rate or
    /// quota limit (dotdigital's older flat scheme answers 400 `ERROR_APIUSAGE_EXCEEDED`), or
    /// Marketo's own "try later" codes (604 timed out, 606 and 615 limits, 608 unavailable,
    /// 611 system error). Such an error, once the retry budget is spent, says nothing about
    /// the step: what was asked was not refused.
    pub fn is_transient(&self) -> bool {
        match self {
            ProviderError::Unreachable { .. }
            | ProviderError::NoAnswer { .. }
            | ProviderError::OutcomeUnknown { .. }
            | ProviderError::QuotaExhausted { .. } => true,
            ProviderError::Api {
                platform,
                status,
                code,
                ..
            } => {
                *status >= 500
                    || *status == 429
                    || match platform {
                        ProviderKind::Marketo => {
                            matches!(code.as_deref(), Some("604" | "606" | "608" | "611" | "615"))
                        }
                        ProviderKind::Dotdigital => {
                            code.as_deref() == Some("ERROR_APIUSAGE_EXCEEDED")
                        }
                        // No API: no answer to retry.
                        ProviderKind::Movius => false,
                    }
            }
            _ => false,
        }
    }

    /// Whether the platform refused a credential relinker holds (the admin service's or a
    /// service's). That says nothing of a step: the value the plan's reference gives is wrong,
    /// or a person reset the secret in the platform (relinker never does), and neither a retry
    /// nor an undo, which needs the same credential, helps.
    pub fn is_credential_refused(&self) -> bool {
        matches!(self, ProviderError::BadCredentials { .. })
    }

    /// Whether a change may have been applied without an answer saying so.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, ProviderError::OutcomeUnknown { .. })
    }

    /// Whether a change that ended with this error may still have been applied: its answer
    /// was lost, came back in a shape nobody can read, or redirected elsewhere (a server may
    /// redirect after doing what was asked). Live state must be read to know.
    pub fn may_have_applied(&self) -> bool {
        matches!(
            self,
            ProviderError::OutcomeUnknown { .. }
                | ProviderError::Protocol { .. }
                | ProviderError::Redirected { .. }
        )
    }
}
