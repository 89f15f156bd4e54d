//! The Marketo REST client: one instance, one admin service, one shared limiter.
//!
//! Every User Management call goes through [`MarketoClient::call`]: get a token (renewing it
//! once if the API says 601/602), take a limiter permit, send, classify the answer, and retry
//! with exponential backoff and jitter what is safe to retry, until the call's time budget
//! ([`RetryPolicy::give_up_after`]) is spent. Nothing retries inside a retry: minting the
//! admin token is one attempt of the call it serves. A 606 waits out a whole rate window. A
//! change whose answer was lost is never sent again from here: it becomes
//! [`ProviderError::OutcomeUnknown`] and the executor re-reads live state to learn whether it
//! applied. A change that never reached the server (a refused connection, a 606, a renewed
//! token) is sent again from here, and so every send of a change first asks the run's
//! [`Fence`]: carrying the fence into the client keeps those re-sends (and their rate-window
//! waits) where they are, rather than moving them into the executor so that it could fence
//! them. Each wait is one warning line saying what it waits for.
//!
//! The identity call carries the client secret in its query string (the documented wire
//! format), so nothing of an identity answer's body is ever shown but the documented fields
//! (`error`, `error_description`, Marketo's `errors`), with the secret struck out: a proxy's
//! error page that echoes the request would otherwise print the secret. Redirects are never
//! followed and loopback is never proxied ([`crate::endpoint::client_builder`]).

use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::api::Api;
use super::auth::TokenCache;
use super::encode::segment;
use super::limiter::{Answer, Limiter};
use super::types::{
    DailyUsage, Listing, NewApiUser, PendingInvitation, RoleInfo, RoleNames, RolePair,
    ServiceCredentials, UserActivity, UserRecord, UserSummary, UserUpdate, WorkspaceInfo,
};
use super::wire::{self, ErrorEnvelope, TokenGrant, TokenRefusal};
use super::{dates, quota};
use crate::ids::{ServiceName, UserId};
use crate::limits::Limits;
use crate::plan::ProviderKind;
use crate::provider::{Fence, ManualAction, ProviderError};
use crate::retry::{Budget, RetryPolicy};
use crate::secret::Secret;
use crate::sync::lock;

/// How long an access token lives, in seconds: the identity endpoint's documented lifetime.
pub(crate) const TOKEN_LIFETIME_SECS: i64 = 3600;

/// How errors name the platform.
const PLATFORM: ProviderKind = ProviderKind::Marketo;

/// The identity endpoint.
const IDENTITY: &str = "/identity/oauth/token";
/// What an error says of an answer that is neither of the documented shapes: its body is
/// never shown (it may echo the request, and the identity request carries a secret).
const NOT_MARKETO: &str = "an answer that is not Marketo's";

/// Prefix of every User Management path.
const USERS: &str = "/userservice/management/v1/users";
/// The usage statistics of the last seven days (a REST API endpoint, not User Management).
const USAGE_LAST_7_DAYS: &str = "/rest/v1/stats/usage/last7days.json";
/// `allusers.json` serves at most this many users a page.
const MAX_PAGE_SIZE: usize = 200;

/// Everything needed to talk to one instance.
#[derive(Debug, Clone)]
pub struct MarketoConfig {
    /// `https://123-ABC-456.mktorest.com`; `http://` only for loopback addresses.
    pub base_url: String,
    /// The admin service's client id.
    pub client_id: String,
    /// The admin service's client secret.
    pub client_secret: Secret,
    /// Rate and concurrency limits of the instance.
    pub limits: Limits,
    /// Retry behaviour.
    pub retry: RetryPolicy,
    /// Per-request timeout.
    pub timeout: Duration,
}

impl MarketoConfig {
    /// A configuration with default limits, retries and a 30 s timeout.
    pub fn new(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Self {
        Self {
            base_url: base_url.into(),
            client_id: client_id.into(),
            client_secret,
            limits: Limits::default(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// Whether a call changes state: decides what is safe to send twice, and whether the run's
/// fence must be asked before each send.
#[derive(Clone, Copy)]
enum Effect<'a> {
    Read,
    Change(&'a dyn Fence),
}

impl std::fmt::Debug for Effect<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Effect::Read => "Read",
            Effect::Change(_) => "Change",
        })
    }
}

/// One request, described without its token.
#[derive(Debug)]
struct Call<'a> {
    method: Method,
    path: String,
    query: &'a [(&'a str, String)],
    body: Option<Value>,
    effect: Effect<'a>,
}

/// How one attempt ended, when not with success.
#[derive(Debug)]
struct Failed {
    error: ProviderError,
    retry: bool,
}

impl Failed {
    fn retry(error: ProviderError) -> Self {
        Self { error, retry: true }
    }
    fn stop(error: ProviderError) -> Self {
        Self {
            error,
            retry: false,
        }
    }
}

/// A client for one Marketo instance; clones share the token cache and the limiter.
#[derive(Debug, Clone)]
pub struct MarketoClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// What `pageOffset` counts on this instance, once a listing has shown it.
    page_offset: std::sync::Mutex<Option<PageReading>>,
    /// Every user, once read for planning, kept current by this client's own changes; `None`
    /// until read, and again after a change whose outcome is unknown.
    listing: tokio::sync::Mutex<Option<Arc<Listing>>>,
    /// Role and workspace names, as answers carried them.
    names: std::sync::Mutex<RoleNames>,
    http: reqwest::Client,
    base: String,
    /// Whether the instance has answered this command: until it has, a failed connection is
    /// final (a wrong host), after, it is retried (a blip).
    heard: crate::endpoint::Heard,
    client_id: String,
    client_secret: Secret,
    tokens: TokenCache,
    limiter: Limiter,
    retry: RetryPolicy,
    timeout: Duration,
}

impl MarketoClient {
    /// What this client's calls cost so far (shared by its clones).
    pub fn spent(&self) -> super::limiter::Spent {
        self.inner.limiter.spent()
    }

    /// A client; fails only on a bad base URL or an HTTP stack that cannot start.
    pub fn new(config: MarketoConfig) -> Result<Self, ProviderError> {
        let url = crate::endpoint::check_base_url(config.base_url.trim())
            .map_err(ProviderError::Config)?;
        let base = url.as_str().trim_end_matches('/').to_owned();
        let http = crate::endpoint::client_builder(&url)
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                ProviderError::Config(format!("cannot start the HTTP client: {}", e.without_url()))
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                page_offset: std::sync::Mutex::new(None),
                listing: tokio::sync::Mutex::new(None),
                names: std::sync::Mutex::new(RoleNames::default()),
                http,
                base,
                heard: crate::endpoint::Heard::default(),
                client_id: config.client_id,
                client_secret: config.client_secret,
                tokens: TokenCache::default(),
                limiter: Limiter::new(config.limits),
                retry: config.retry,
                timeout: config.timeout,
            }),
        })
    }

    /// What a request that got no answer means: a host that never answered is named at once;
    /// a read, or a change that never reached the server, is tried again; a change whose
    /// answer was lost may have been applied.
    fn transport_failure(
        &self,
        effect: Effect,
        method: &str,
        path: &str,
        error: &reqwest::Error,
    ) -> Failed {
        if let Some(reason) = self.inner.heard.never(error) {
            return Failed::stop(ProviderError::NoAnswer {
                platform: PLATFORM,
                host: self.inner.base.clone(),
                reason,
            });
        }
        if error.is_connect() {
            // Never reached the server: safe to send again, change or not.
            return Failed::retry(unreachable(method, path, error));
        }
        match effect {
            Effect::Read => Failed::retry(unreachable(method, path, error)),
            Effect::Change(_) => Failed::stop(ProviderError::OutcomeUnknown {
                method: method.to_owned(),
                path: path.to_owned(),
                reason: describe(error),
            }),
        }
    }

    // ---- identity --------------------------------------------------------------------------

    /// Mints a token with some credentials, retrying within the budget; identity calls are not
    /// rate-limited.
    async fn mint(
        &self,
        client_id: &str,
        secret: &Secret,
        whom: &str,
    ) -> Result<TokenGrant, ProviderError> {
        let budget = self.budget();
        let attempt = || self.mint_once(client_id, secret, whom, budget.attempt_timeout());
        attempt
            .retry(self.inner.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(|f: &Failed| f.retry)
            .adjust(|f: &Failed, backoff| {
                self.next_wait(&budget, f, backoff, "GET /identity/oauth/token")
            })
            .await
            .map_err(|f| f.error)
    }

    /// One identity call.
    async fn mint_once(
        &self,
        client_id: &str,
        secret: &Secret,
        whom: &str,
        timeout: Duration,
    ) -> Result<TokenGrant, Failed> {
        let path = IDENTITY;
        let url = format!("{}{path}", self.inner.base);
        let sent = self
            .inner
            .http
            .get(&url)
            .timeout(timeout)
            .query(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", secret.expose()),
            ])
            .send()
            .await;
        let response = match sent {
            Ok(response) => response,
            Err(error) => return Err(self.transport_failure(Effect::Read, "GET", path, &error)),
        };
        self.inner.heard.answered();
        let status = response.status();
        if status.is_redirection() {
            return Err(Failed::stop(redirected(
                "GET",
                path,
                status,
                response.url(),
                response.headers(),
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Failed::retry(unreachable("GET", path, &e)))?;
        if status == StatusCode::UNAUTHORIZED
            || status == StatusCode::BAD_REQUEST
            || status == StatusCode::FORBIDDEN
        {
            return Err(Failed::stop(ProviderError::BadCredentials {
                platform: PLATFORM,
                whom: whom.to_owned(),
                status: status.as_u16(),
                description: IdentityAnswer::read(&bytes, secret).refusal(),
            }));
        }
        if !status.is_success() {
            let answer = IdentityAnswer::read(&bytes, secret);
            let error = ProviderError::Api {
                platform: PLATFORM,
                method: "GET".into(),
                path: path.into(),
                status: status.as_u16(),
                code: answer.code.clone(),
                message: answer.summary(),
            };
            let retry = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
            return Err(Failed { error, retry });
        }
        serde_json::from_slice::<TokenGrant>(&bytes).map_err(|e| {
            // serde's message may quote the answer, and the answer may echo the secret: only
            // where the answer stopped making sense is told.
            Failed::stop(ProviderError::Protocol {
                method: "GET".into(),
                path: path.into(),
                reason: format!(
                    "the identity answer is not a token grant ({NOT_MARKETO}; unreadable at line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })
        })
    }

    fn budget(&self) -> Budget {
        Budget::new(self.inner.retry, self.inner.timeout)
    }

    /// How long to wait after a failed attempt: a 606 waits out a whole rate window (the
    /// server does not say how long), anything else backs off.
    fn next_wait(
        &self,
        budget: &Budget,
        failed: &Failed,
        backoff: Option<Duration>,
        what: &str,
    ) -> Option<Duration> {
        let window = self.inner.limiter.window();
        let at_least = (failed.error.code() == Some("606")).then(|| window + window / 10);
        budget.next_wait(&failed.error, backoff, at_least, what)
    }

    /// The admin token: cached, or minted in one attempt (the call it serves does the
    /// retrying, so retries never nest).
    async fn admin_token(&self, timeout: Duration) -> Result<Secret, Failed> {
        self.inner
            .tokens
            .token(|| async {
                let grant = self
                    .mint_once(
                        &self.inner.client_id,
                        &self.inner.client_secret,
                        "the admin service",
                        timeout,
                    )
                    .await?;
                let lifetime =
                    Duration::from_secs(grant.expires_in.unwrap_or(3600).max(0).unsigned_abs());
                Ok((Secret::new(grant.access_token), lifetime))
            })
            .await
    }

    // ---- the call pipeline -----------------------------------------------------------------

    async fn call(&self, call: Call<'_>) -> Result<bytes::Bytes, ProviderError> {
        let budget = self.budget();
        let what = format!("{} {}", call.method, call.path);
        let attempt = || self.attempt(&call, &budget);
        attempt
            .retry(self.inner.retry.backoff())
            .sleep(tokio::time::sleep)
            .when(|f: &Failed| f.retry)
            .adjust(|f: &Failed, backoff| self.next_wait(&budget, f, backoff, &what))
            .await
            .map_err(|f| f.error)
    }

    async fn attempt(&self, call: &Call<'_>, budget: &Budget) -> Result<bytes::Bytes, Failed> {
        // Token first: the limiter stamps a call when it grants the permit, and the server when
        // the call arrives, so nothing slow (like minting a token) may come between the two.
        let token = self.admin_token(budget.attempt_timeout()).await?;
        match self.limited_send(call, &token, budget).await {
            Err(Rejected::Token) => {
                // 601/602: the token died early (revoked, or the clock drifted). Renew once.
                tracing::debug!(method = %call.method, path = %call.path, "token rejected; renewing it");
                self.inner.tokens.invalidate(&token).await;
                let token = self.admin_token(budget.attempt_timeout()).await?;
                self.limited_send(call, &token, budget)
                    .await
                    .map_err(|rejected| match rejected {
                        Rejected::Token => Failed::stop(ProviderError::Api {
                            platform: PLATFORM,
                            method: call.method.to_string(),
                            path: call.path.clone(),
                            status: 401,
                            code: Some("601".into()),
                            message: "a freshly minted access token was rejected".into(),
                        }),
                        Rejected::Other(failed) => failed,
                    })
            }
            Err(Rejected::Other(failed)) => Err(failed),
            Ok(bytes) => Ok(bytes),
        }
    }

    /// One send within the limiter, telling it how the instance counted the call. Waiting
    /// for the limiter is waiting for relinker's own other calls, not for the instance: it
    /// does not spend the call's budget.
    async fn limited_send(
        &self,
        call: &Call<'_>,
        token: &Secret,
        budget: &Budget,
    ) -> Result<bytes::Bytes, Rejected> {
        let queued = tokio::time::Instant::now();
        let permit = self.inner.limiter.acquire().await;
        budget.extend(queued.elapsed());
        // The fence is asked here, after the wait for a permit (which can last a rate window)
        // and before every send of a change: the first, a re-send after a refused connection or
        // a 606/615/608, and the one after a renewed token. The executor asks too before it
        // hands a change over, but only this client knows when it sends again on its own.
        if let Effect::Change(fence) = call.effect
            && let Err(lost) = fence.still_held()
        {
            permit.answered(Answer::NotCounted);
            return Err(Rejected::Other(Failed::stop(lost.into())));
        }
        let result = self.send(call, token, budget.attempt_timeout()).await;
        let answer = match &result {
            Err(Rejected::Token) => Answer::NotCounted,
            Err(Rejected::Other(failed)) => match failed.error.code() {
                Some("606") => Answer::RateLimited,
                Some("615") => Answer::ConcurrencyLimited,
                _ => Answer::Counted,
            },
            Ok(_) => Answer::Counted,
        };
        permit.answered(answer);
        result
    }

    async fn send(
        &self,
        call: &Call<'_>,
        token: &Secret,
        timeout: Duration,
    ) -> Result<bytes::Bytes, Rejected> {
        let method = call.method.as_str();
        let url = format!("{}{}", self.inner.base, call.path);
        let mut request = self
            .inner
            .http
            .request(call.method.clone(), &url)
            .timeout(timeout)
            .bearer_auth(token.expose());
        if !call.query.is_empty() {
            request = request.query(call.query);
        }
        if let Some(body) = &call.body {
            request = request.json(body);
        }
        let outcome = async {
            let response = request.send().await?;
            self.inner.heard.answered();
            let status = response.status();
            if status.is_redirection() {
                return Ok(Sent::Redirect(redirected(
                    method,
                    &call.path,
                    status,
                    response.url(),
                    response.headers(),
                )));
            }
            Ok::<_, reqwest::Error>(Sent::Body(status, response.bytes().await?))
        }
        .await;
        let (status, bytes) = match outcome {
            Ok(Sent::Body(status, bytes)) => (status, bytes),
            Ok(Sent::Redirect(error)) => return Err(Rejected::Other(Failed::stop(error))),
            Err(error) => {
                let method = call.method.as_str();
                let failed = self.transport_failure(call.effect, method, &call.path, &error);
                return Err(Rejected::Other(failed));
            }
        };
        tracing::debug!(method, path = %call.path, status = status.as_u16(), "marketo call");
        let envelope_failed = status.is_success()
            && bytes.first() == Some(&b'{')
            && serde_json::from_slice::<ErrorEnvelope>(&bytes)
                .is_ok_and(|e| e.success == Some(false));
        if status.is_success() && !envelope_failed {
            return Ok(bytes);
        }
        let error = api_error(method, &call.path, status, &bytes);
        Err(classify(call, status, error))
    }

    fn json<T: DeserializeOwned>(call: &str, path: &str, bytes: &[u8]) -> Result<T, ProviderError> {
        serde_json::from_slice(bytes).map_err(|e| ProviderError::Protocol {
            method: call.into(),
            path: path.into(),
            reason: e.to_string(),
        })
    }

    async fn get<T: DeserializeOwned>(
        &self,
        path: String,
        query: &[(&str, String)],
    ) -> Result<T, ProviderError> {
        let bytes = self
            .call(Call {
                method: Method::GET,
                path: path.clone(),
                query,
                body: None,
                effect: Effect::Read,
            })
            .await?;
        Self::json("GET", &path, &bytes)
    }

    /// A GET whose "not found" (HTTP 404, or error 1004 in an answer of any status: some
    /// instances answer errors with HTTP 200) means "there is none".
    async fn get_optional<T: DeserializeOwned>(
        &self,
        path: String,
    ) -> Result<Option<T>, ProviderError> {
        match self.get(path, &[]).await {
            Ok(value) => Ok(Some(value)),
            Err(error) if error.is_not_found() || error.code() == Some("1004") => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn change(
        &self,
        path: String,
        body: Option<Value>,
        fence: &dyn Fence,
    ) -> Result<bytes::Bytes, ProviderError> {
        self.call(Call {
            method: Method::POST,
            path,
            query: &[],
            body,
            effect: Effect::Change(fence),
        })
        .await
    }

    /// A change's result, the listing brought up to date with it: amended when the change was
    /// made, dropped (to be read again when next needed) when its outcome is unknown, left
    /// alone when it was refused.
    async fn amended<T>(
        &self,
        sent: Result<T, ProviderError>,
        amend: impl FnOnce(&mut Listing),
    ) -> Result<T, ProviderError> {
        let mut slot = self.inner.listing.lock().await;
        match &sent {
            Ok(_) => {
                if let Some(listing) = slot.as_mut() {
                    amend(Arc::make_mut(listing));
                }
            }
            Err(error) if error.may_have_applied() => *slot = None,
            Err(_) => {}
        }
        sent
    }

    /// Keeps the names role/workspace pairs carried.
    fn learn_names(&self, names: RoleNames) {
        lock(&self.inner.names).absorb(names);
    }

    /// Role/workspace pairs from an answer, their names learned.
    fn pairs(&self, pairs: Vec<wire::WireRolePair>) -> Vec<RolePair> {
        self.learn_names(wire::role_names(&pairs));
        wire::role_pairs(pairs)
    }

    /// A user record from an answer, its role names learned.
    fn record(&self, user: wire::WireUser) -> UserRecord {
        self.learn_names(user.role_names());
        UserRecord::from(user)
    }

    /// One page of `allusers.json`.
    pub async fn users_page(
        &self,
        offset: usize,
        size: usize,
    ) -> Result<Vec<UserSummary>, ProviderError> {
        let query = [
            ("pageSize", size.to_string()),
            ("pageOffset", offset.to_string()),
        ];
        let page: Vec<wire::WireUserSummary> =
            self.get(format!("{USERS}/allusers.json"), &query).await?;
        Ok(page.into_iter().map(UserSummary::from).collect())
    }
}

/// What `allusers.json`'s `pageOffset` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageReading {
    /// Users: the next page starts at offset 200.
    Entries,
    /// Pages: the next page is offset 1.
    Pages,
}

/// Tells the readings apart from the first full page and the answer at offset 1.
fn page_reading(
    first: &[UserSummary],
    probe: &[UserSummary],
) -> Result<PageReading, ProviderError> {
    let unclear = |what: &str| ProviderError::Protocol {
        method: "GET".into(),
        path: format!("{USERS}/allusers.json"),
        reason: format!(
            "cannot tell whether `pageOffset` counts users or pages: {what}; a listing could miss users, so none is made"
        ),
    };
    match probe.first() {
        // Exactly one full page of users: offset 1 is past the end only if it counts pages.
        None => Ok(PageReading::Pages),
        Some(start)
            if first
                .get(1)
                .is_some_and(|second| second.userid == start.userid) =>
        {
            Ok(PageReading::Entries)
        }
        Some(start) if first.iter().all(|u| u.userid != start.userid) => Ok(PageReading::Pages),
        Some(_) => Err(unclear(
            "offset 1 starts inside the first page, but not at its second user",
        )),
    }
}

/// What one send brought back: an answer to read, or a redirect (never followed).
enum Sent {
    Body(StatusCode, bytes::Bytes),
    Redirect(ProviderError),
}

/// An identity answer that is not a grant, read for what may be shown of it: the documented
/// `error` and `error_description`, or Marketo's `errors` envelope, with the client secret
/// struck out wherever it appears (an answer may echo the request). Nothing else of it.
#[derive(Debug, Default)]
struct IdentityAnswer {
    error: Option<String>,
    error_description: Option<String>,
    code: Option<String>,
    message: Option<String>,
}

impl IdentityAnswer {
    fn read(bytes: &[u8], secret: &Secret) -> Self {
        let strike = |text: String| {
            if secret.expose().is_empty() {
                text
            } else {
                text.replace(secret.expose(), "[redacted]")
            }
        };
        let refusal: TokenRefusal = serde_json::from_slice(bytes).unwrap_or_default();
        let first = serde_json::from_slice::<ErrorEnvelope>(bytes)
            .ok()
            .and_then(|envelope| envelope.errors.into_iter().next());
        Self {
            error: refusal.error.map(strike),
            error_description: refusal.error_description.map(strike),
            code: first.as_ref().and_then(|e| e.code.clone()).map(strike),
            message: first
                .map(|e| e.message)
                .filter(|m| !m.is_empty())
                .map(strike),
        }
    }

    /// What a refusal of credentials says: `error_description`, else `error`.
    fn refusal(&self) -> Option<String> {
        self.error_description
            .clone()
            .or_else(|| self.error.clone())
    }

    /// What any other failure says, or that the answer is not Marketo's.
    fn summary(&self) -> String {
        match (&self.error, &self.error_description, &self.message) {
            (Some(error), Some(description), _) => format!("{error}: {description}"),
            (Some(text), None, _) | (None, Some(text), _) | (None, None, Some(text)) => {
                text.clone()
            }
            (None, None, None) => NOT_MARKETO.to_owned(),
        }
    }
}

/// A redirect answer as an error naming where it pointed (never its query).
fn redirected(
    method: &str,
    path: &str,
    status: StatusCode,
    request: &url::Url,
    headers: &reqwest::header::HeaderMap,
) -> ProviderError {
    ProviderError::Redirected {
        platform: PLATFORM,
        method: method.into(),
        path: path.into(),
        status: status.as_u16(),
        to: crate::endpoint::redirect_target(request, headers),
    }
}

/// Why one send did not succeed.
enum Rejected {
    /// 601/602: renew the token and try again.
    Token,
    Other(Failed),
}

fn unreachable(method: &str, path: &str, error: &reqwest::Error) -> ProviderError {
    ProviderError::Unreachable {
        platform: PLATFORM,
        method: method.into(),
        path: path.into(),
        reason: describe(error),
    }
}

/// A transport error in words, without the URL (the identity URL carries the client secret).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the answer was cut off"
    } else {
        "the connection failed"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {detail}")
    }
}

fn api_error(method: &str, path: &str, status: StatusCode, bytes: &[u8]) -> ProviderError {
    let envelope: ErrorEnvelope = serde_json::from_slice(bytes).unwrap_or_default();
    let first = envelope.errors.into_iter().next();
    let code = first.as_ref().and_then(|e| e.code.clone());
    // Only the documented envelope's message is shown: any other body (a proxy's error page)
    // may echo the request, and with it the bearer token.
    let message = first
        .map(|e| e.message)
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                status.canonical_reason().unwrap_or("no message").to_owned()
            } else {
                format!(
                    "{} ({NOT_MARKETO})",
                    status.canonical_reason().unwrap_or("no message")
                )
            }
        });
    if code.as_deref() == Some("607") {
        return ProviderError::QuotaExhausted {
            method: method.into(),
            path: path.into(),
            resets_at: quota::next_reset(Utc::now()),
        };
    }
    ProviderError::Api {
        platform: PLATFORM,
        method: method.into(),
        path: path.into(),
        status: status.as_u16(),
        code,
        message,
    }
}

/// Decides what an error answer means for the call.
fn classify(call: &Call<'_>, status: StatusCode, error: ProviderError) -> Rejected {
    match error.code() {
        Some("601" | "602") => return Rejected::Token,
        // Refused before any processing: never applied, always safe to send again.
        Some("606" | "615" | "608") => return Rejected::Other(Failed::retry(error)),
        Some("607" | "603") => return Rejected::Other(Failed::stop(error)),
        _ => {}
    }
    let server_side = status.is_server_error() || matches!(error.code(), Some("604" | "611"));
    match (server_side, call.effect) {
        (true, Effect::Read) => Rejected::Other(Failed::retry(error)),
        (true, Effect::Change(_)) => Rejected::Other(Failed::stop(ProviderError::OutcomeUnknown {
            method: call.method.to_string(),
            path: call.path.clone(),
            reason: error.to_string(),
        })),
        (false, _) => Rejected::Other(Failed::stop(error)),
    }
}

fn pairs_json(pairs: &[RolePair]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|p| json!({ "accessRoleId": p.role_id, "workspaceId": p.workspace_id }))
            .collect(),
    )
}

fn user_path(userid: &UserId, endpoint: &str) -> String {
    format!("{USERS}/{}/{endpoint}", segment(userid.as_str()))
}

impl Api for MarketoClient {
    async fn user(&self, userid: &UserId) -> Result<Option<UserRecord>, ProviderError> {
        Ok(self
            .user_activity(userid)
            .await?
            .map(|activity| activity.record))
    }

    async fn user_activity(&self, userid: &UserId) -> Result<Option<UserActivity>, ProviderError> {
        let user: Option<wire::WireUser> =
            self.get_optional(user_path(userid, "user.json")).await?;
        Ok(user.map(|user| {
            self.learn_names(user.role_names());
            user.activity()
        }))
    }

    async fn invitation(
        &self,
        userid: &UserId,
    ) -> Result<Option<PendingInvitation>, ProviderError> {
        let invitation: Option<wire::WireInvitation> =
            self.get_optional(user_path(userid, "invite.json")).await?;
        Ok(invitation.map(PendingInvitation::from))
    }

    async fn user_roles(&self, userid: &UserId) -> Result<Option<Vec<RolePair>>, ProviderError> {
        let pairs: Option<Vec<wire::WireRolePair>> =
            self.get_optional(user_path(userid, "roles.json")).await?;
        Ok(pairs.map(|pairs| self.pairs(pairs)))
    }

    async fn all_users(&self) -> Result<Vec<UserSummary>, ProviderError> {
        let first = self.users_page(0, MAX_PAGE_SIZE).await?;
        if first.len() < MAX_PAGE_SIZE {
            return Ok(first);
        }
        let mut users = first;
        // The reference calls `pageOffset` "the integer offset to start returning records",
        // and instances have been read to count users and to count pages. Which one this
        // instance does shows at offset 1: the first user's successor (users), or the start of
        // the next page (pages). Anything else is neither, and a silent half listing would be
        // worse than an error.
        let known = *lock(&self.inner.page_offset);
        let reading = if let Some(reading) = known {
            reading
        } else {
            let probe = self.users_page(1, MAX_PAGE_SIZE).await?;
            let reading = page_reading(&users, &probe)?;
            *lock(&self.inner.page_offset) = Some(reading);
            if reading == PageReading::Pages {
                let last = probe.len() < MAX_PAGE_SIZE;
                users.extend(probe);
                if last {
                    return Ok(users);
                }
            }
            reading
        };
        // The rest in concurrent batches, in order: the first short page ends the listing and
        // pages after it (empty) are dropped, so the result is the one a page-by-page reading
        // gives. Batches double up to what the limiter lets fly, so a small instance wastes at
        // most a call or two past its end and a large one is read many pages at a time.
        let mut width = 1;
        loop {
            let pages_read = users.len() / MAX_PAGE_SIZE;
            width = (width * 2).min(self.inner.limiter.allowed().max(1));
            let batch = (pages_read..pages_read + width).map(|page| {
                let offset = match reading {
                    PageReading::Entries => page * MAX_PAGE_SIZE,
                    PageReading::Pages => page,
                };
                self.users_page(offset, MAX_PAGE_SIZE)
            });
            for page in futures_util::future::try_join_all(batch).await? {
                let last = page.len() < MAX_PAGE_SIZE;
                users.extend(page);
                if last {
                    return Ok(users);
                }
            }
        }
    }

    async fn listing(&self) -> Result<Arc<Listing>, ProviderError> {
        // Held while reading, so plans asking at once share one reading.
        let mut slot = self.inner.listing.lock().await;
        if let Some(listing) = slot.as_ref() {
            return Ok(listing.clone());
        }
        let listing = Arc::new(Listing::new(self.all_users().await?));
        *slot = Some(listing.clone());
        Ok(listing)
    }

    fn role_names(&self) -> RoleNames {
        lock(&self.inner.names).clone()
    }

    async fn roles(&self) -> Result<Vec<RoleInfo>, ProviderError> {
        let roles: Vec<wire::WireNamed> = self.get(format!("{USERS}/roles.json"), &[]).await?;
        Ok(roles.into_iter().map(RoleInfo::from).collect())
    }

    async fn workspaces(&self) -> Result<Vec<WorkspaceInfo>, ProviderError> {
        let workspaces: Vec<wire::WireNamed> =
            self.get(format!("{USERS}/workspaces.json"), &[]).await?;
        Ok(workspaces.into_iter().map(WorkspaceInfo::from).collect())
    }

    async fn invite_api_user(
        &self,
        user: &NewApiUser,
        fence: &dyn Fence,
    ) -> Result<(), ProviderError> {
        let mut body = json!({
            "emailAddress": user.email,
            "userid": user.userid.as_str(),
            "firstName": user.first_name,
            "lastName": user.last_name,
            "apiOnly": true,
            "userRoleWorkspaces": pairs_json(&user.roles),
        });
        if let Some(reason) = &user.reason {
            body["reason"] = Value::String(reason.clone());
        }
        let sent = self
            .change(format!("{USERS}/invite.json"), Some(body), fence)
            .await;
        let listed = UserSummary {
            userid: user.userid.clone(),
            email: user.email.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            api_only: true,
        };
        self.amended(sent, |listing| listing.put(listed))
            .await
            .map(drop)
    }

    async fn update_user(
        &self,
        userid: &UserId,
        update: &UserUpdate,
        fence: &dyn Fence,
    ) -> Result<Option<UserRecord>, ProviderError> {
        let mut body = serde_json::Map::new();
        if let Some(email) = &update.email {
            body.insert("emailAddress".into(), email.clone().into());
        }
        if let Some(first_name) = &update.first_name {
            body.insert("firstName".into(), first_name.clone().into());
        }
        if let Some(last_name) = &update.last_name {
            body.insert("lastName".into(), last_name.clone().into());
        }
        if let Some(expires_at) = update.expires_at {
            body.insert(
                "expiresAt".into(),
                dates::format_update_request(expires_at).into(),
            );
        }
        let path = user_path(userid, "update.json");
        let sent = self
            .change(path.clone(), Some(Value::Object(body)), fence)
            .await;
        // The answer is the updated record, but the reference's own example of it is not valid
        // JSON (a comma is missing): an answer that does not read as a record still means the
        // change was made, and callers re-read the user to see it.
        let record = sent.as_ref().ok().and_then(|bytes| {
            Self::json::<wire::WireUser>("POST", &path, bytes)
                .inspect_err(|error| tracing::debug!(%error, "the update's answer is no record"))
                .ok()
                .map(|user| self.record(user))
        });
        let listed = record.as_ref().map(UserSummary::from);
        self.amended(sent, |listing| match listed {
            Some(user) => listing.put(user),
            None => listing.update(userid, update),
        })
        .await
        .map(|_| record)
    }

    async fn delete_user(&self, userid: &UserId, fence: &dyn Fence) -> Result<(), ProviderError> {
        let sent = self
            .change(user_path(userid, "delete.json"), None, fence)
            .await;
        self.amended(sent, |listing| listing.remove(userid))
            .await
            .map(drop)
    }

    async fn delete_invitation(
        &self,
        userid: &UserId,
        fence: &dyn Fence,
    ) -> Result<(), ProviderError> {
        self.change(user_path(userid, "invite/delete.json"), None, fence)
            .await
            .map(drop)
    }

    async fn add_roles(
        &self,
        userid: &UserId,
        pairs: &[RolePair],
        fence: &dyn Fence,
    ) -> Result<Vec<RolePair>, ProviderError> {
        let path = user_path(userid, "roles/create.json");
        let bytes = self
            .change(path.clone(), Some(pairs_json(pairs)), fence)
            .await?;
        Self::json::<Vec<wire::WireRolePair>>("POST", &path, &bytes).map(|p| self.pairs(p))
    }

    async fn remove_roles(
        &self,
        userid: &UserId,
        pairs: &[RolePair],
        fence: &dyn Fence,
    ) -> Result<Vec<RolePair>, ProviderError> {
        let path = user_path(userid, "roles/delete.json");
        let bytes = self
            .change(path.clone(), Some(pairs_json(pairs)), fence)
            .await?;
        Self::json::<Vec<wire::WireRolePair>>("POST", &path, &bytes).map(|p| self.pairs(p))
    }

    async fn linked_user_minted(
        &self,
        service: &ServiceCredentials,
    ) -> Result<(UserId, Option<DateTime<Utc>>), ProviderError> {
        let whom = format!("service `{}`", service.name);
        let grant = self
            .mint(&service.client_id, &service.client_secret, &whom)
            .await?;
        let minted_at = grant.expires_in.map(|left| {
            Utc::now()
                - chrono::Duration::seconds(
                    TOKEN_LIFETIME_SECS - left.clamp(0, TOKEN_LIFETIME_SECS),
                )
        });
        let userid = grant
            .scope
            .filter(|s| !s.is_empty())
            .map(UserId::from_platform)
            .ok_or_else(|| ProviderError::Protocol {
                method: "GET".into(),
                path: IDENTITY.into(),
                reason: format!("the token minted for {whom} names no user in `scope`"),
            })?;
        Ok((userid, minted_at))
    }

    async fn linked_user(&self, service: &ServiceCredentials) -> Result<UserId, ProviderError> {
        self.linked_user_minted(service)
            .await
            .map(|(userid, _)| userid)
    }

    async fn usage_last_7_days(&self) -> Result<Vec<DailyUsage>, ProviderError> {
        let path = USAGE_LAST_7_DAYS.to_owned();
        let usage: wire::WireUsage = self.get(path.clone(), &[]).await?;
        usage
            .result
            .into_iter()
            .map(|day| {
                day.into_usage().map_err(|reason| ProviderError::Protocol {
                    method: "GET".into(),
                    path: path.clone(),
                    reason,
                })
            })
            .collect()
    }

    fn relink_action(&self, service: &ServiceName, to_userid: &UserId) -> ManualAction {
        ManualAction {
            summary: format!("link LaunchPoint service `{service}` to API-only user `{to_userid}`"),
            steps: vec![
                "In Marketo, open Admin > Integration > LaunchPoint.".into(),
                format!("Select the service `{service}` and click Edit Service."),
                format!("Set API Only User to `{to_userid}` and click Save."),
                "Do not create a new service or reset its credentials: the client id and secret must stay the same."
                    .into(),
                "Marketo may go on naming the old user in the service's access token until that token expires, at most an hour later: relinker keeps checking, and `relinker resume` picks it up."
                    .into(),
            ],
        }
    }
}
