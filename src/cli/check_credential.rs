//! `relinker check-credential --url URL`: a check command a plan can name. It reads the
//! credential relinker hands a check command (`RELINKER_USERNAME`, `RELINKER_PASSWORD`) and
//! asks `URL` with HTTP Basic auth: exit 0 when the answer is 2xx, 1 when the credential is
//! refused (401/403), 2 when the check itself could not be made. With `--path` instead of
//! `--url`, the URL is the run's instance (`RELINKER_BASE_URL`) plus that path, so one plan
//! checks the real platform and its sandbox alike. A redirect is not followed (it would carry
//! the credential elsewhere, and a 2xx from there would vouch for nothing): exit 2, naming
//! where it pointed.

use std::time::Duration;

use anyhow::{Context, anyhow};
use clap::Args;

use super::exit::{Failure, OrExit, Outcome};

/// Options of `relinker check-credential`.
#[derive(Debug, Args)]
pub struct CheckCredentialArgs {
    /// The URL to ask (`https://r1-api.dotdigital.com/v2/account-info`, say).
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "path",
        required_unless_present = "path"
    )]
    url: Option<String>,
    /// A path on the run's instance (`RELINKER_BASE_URL`): `/v2/account-info`.
    #[arg(long, value_name = "PATH")]
    path: Option<String>,
}

fn variable(name: &str) -> Result<String, Failure> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            anyhow!("`{name}` is not set; relinker sets it when it runs a check command")
        })
        .or_invalid_input()
}

/// Asks the URL and answers with an exit code.
pub async fn run(args: &CheckCredentialArgs) -> Result<Outcome, Failure> {
    let url = match (&args.url, &args.path) {
        (Some(url), _) => url.clone(),
        (None, Some(path)) => format!(
            "{}{}",
            variable("RELINKER_BASE_URL")?.trim_end_matches('/'),
            path
        ),
        (None, None) => return Err(anyhow!("give --url or --path")).or_invalid_input(),
    };
    let parsed = url::Url::parse(&url)
        .with_context(|| format!("`{url}` is not a URL"))
        .or_invalid_input()?;
    let origin = format!(
        "{}://{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default()
    );
    let origin = match parsed.port() {
        Some(port) => format!("{origin}:{port}"),
        None => origin,
    };
    crate::endpoint::check_base_url(&origin)
        .map_err(|reason| anyhow!(reason))
        .or_invalid_input()?;
    let username = variable("RELINKER_USERNAME")?;
    let password = variable("RELINKER_PASSWORD")?;
    let http = crate::endpoint::client_builder(&parsed)
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot start an HTTP client")
        .or_invalid_input()?;
    let answer = http
        .get(parsed)
        .basic_auth(&username, Some(&password))
        .send()
        .await
        .map_err(|e| anyhow!("cannot reach `{origin}`: {}", e.without_url()))
        .or_invalid_input()?;
    let status = answer.status();
    if status.is_redirection() {
        return Err(anyhow!(
            "`{origin}` answered HTTP {}, a redirect to `{}`; a check follows no redirects",
            status.as_u16(),
            crate::endpoint::redirect_target(answer.url(), answer.headers())
        ))
        .or_invalid_input();
    }
    if status.is_success() {
        Ok(Outcome::Success)
    } else if status.as_u16() == 401 || status.as_u16() == 403 {
        super::output::warn(&format!("refused: HTTP {}", status.as_u16()));
        Ok(Outcome::Failed)
    } else {
        Err(anyhow!("`{origin}` answered HTTP {}", status.as_u16())).or_invalid_input()
    }
}
