//! `kind: aws-secrets-manager` stores: one `GetSecretValue` call a secret, signed with AWS
//! Signature Version 4 by `aws-sigv4` (the signer of AWS's own Rust SDK) and sent by reqwest,
//! as every other call relinker makes (no redirect followed, loopback never through a proxy).
//! The whole SDK is not used: its runtime would bring a second HTTP and TLS stack and minutes
//! of compilation for one call (docs/secrets.md, "Why aws-sigv4").
//!
//! Throttling (`ThrottlingException`, HTTP 429) and server errors (5xx, an answer that does
//! not come) are retried with backoff within the store's timeout; any other refusal (no such
//! secret, access denied, a key that cannot be decrypted) is final and named by its AWS error
//! code. An answer's body is only ever read for `SecretString` and the error code: AWS's own
//! error messages are not repeated, so nothing of a value can reach a log.

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use tokio::time::Instant;
use url::Url;

use super::aws_config;
use crate::secret::Secret;

/// An AWS Secrets Manager store, as the runner configuration declares it.
#[derive(Debug, Clone)]
pub struct AwsSource {
    /// Its region; else the environment's, else the profile's.
    pub region: Option<String>,
    /// The profile whose credentials (and region) it uses; else `AWS_PROFILE` or the
    /// environment's access key.
    pub profile: Option<String>,
    /// Where the service is (a VPC endpoint, a test server); else
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER`, else `AWS_ENDPOINT_URL`, else AWS's own for the
    /// region.
    pub endpoint: Option<Url>,
    /// How long reading one secret may take, retries included.
    pub timeout: Duration,
}

/// What one attempt came to.
enum Attempt {
    /// The secret's string.
    Value(Secret),
    /// An answer worth trying again (throttled, a server error, no answer), and what it was.
    Retry(String),
    /// A final refusal, in words.
    Refused(String),
}

impl AwsSource {
    /// Reads the secret `id` (a name or an ARN): its `SecretString`.
    pub(super) async fn get_secret_value(&self, id: &str) -> Result<Secret, String> {
        let credentials = aws_config::credentials(self.profile.as_deref())?;
        let region = aws_config::region(self.region.as_deref(), self.profile.as_deref())?;
        let endpoint = self.endpoint(&region)?;
        let client = crate::endpoint::client_builder(&endpoint)
            .timeout(self.timeout)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let body = serde_json::json!({ "SecretId": id }).to_string();
        let deadline = Instant::now() + self.timeout;
        let mut wait = Duration::from_millis(200);
        loop {
            let attempt = self
                .attempt(&client, &endpoint, &region, &credentials, &body)
                .await?;
            match attempt {
                Attempt::Value(secret) => return Ok(secret),
                Attempt::Refused(why) => return Err(why),
                Attempt::Retry(why) if Instant::now() + wait >= deadline => {
                    return Err(format!(
                        "{why}, still after retrying for {} s",
                        self.timeout.as_secs_f64()
                    ));
                }
                Attempt::Retry(why) => {
                    tracing::warn!("secret `{id}`: {why}; trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
    }

    /// The service's URL: the declared endpoint, the environment's, or AWS's for `region`.
    fn endpoint(&self, region: &str) -> Result<Url, String> {
        let text = self
            .endpoint
            .as_ref()
            .map(Url::to_string)
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_SECRETS_MANAGER").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| format!("https://secretsmanager.{region}.amazonaws.com"));
        crate::endpoint::check_base_url(text.trim_end_matches('/'))
            .map_err(|why| format!("the AWS Secrets Manager endpoint: {why}"))
    }

    /// One signed `GetSecretValue` call.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        endpoint: &Url,
        region: &str,
        credentials: &aws_config::Credentials,
        body: &str,
    ) -> Result<Attempt, String> {
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "secretsmanager.GetSecretValue"),
        ];
        let signed = signed_headers(endpoint, region, credentials, &headers, body)?;
        let mut request = client.post(endpoint.clone()).body(body.to_owned());
        for (name, value) in headers
            .iter()
            .copied()
            .chain(signed.iter().map(|(n, v)| (n.as_str(), v.as_str())))
        {
            request = request.header(name, value);
        }
        let answer = match request.send().await {
            Ok(answer) => answer,
            // Nothing listening will not start listening within a retry budget.
            Err(error) if error.is_connect() => {
                return Ok(Attempt::Refused(format!(
                    "cannot connect to {}: {}",
                    crate::endpoint::origin(endpoint),
                    error.without_url()
                )));
            }
            Err(error) => {
                return Ok(Attempt::Retry(format!(
                    "no answer from {}: {}",
                    crate::endpoint::origin(endpoint),
                    error.without_url()
                )));
            }
        };
        let status = answer.status();
        let error_type = answer
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = answer.text().await.unwrap_or_default();
        Ok(read_answer(status, error_type, &text))
    }
}

/// What an answer says: the secret, or why not, in words that hold neither the secret nor
/// AWS's message (which may quote what was asked).
fn read_answer(status: reqwest::StatusCode, error_type: Option<String>, text: &str) -> Attempt {
    let json: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    if status.is_success() {
        return match json.get("SecretString").and_then(serde_json::Value::as_str) {
            Some(value) if !value.is_empty() => Attempt::Value(Secret::new(value)),
            Some(_) => Attempt::Refused("the secret's value is empty".into()),
            None if json.get("SecretBinary").is_some() => Attempt::Refused(
                "the secret holds binary data; relinker reads only text (SecretString)".into(),
            ),
            None => Attempt::Refused("the answer holds no SecretString".into()),
        };
    }
    // `__type` may be `com.amazonaws…#Code`; the header may carry `:http://…` after the code.
    let code = error_type
        .or_else(|| {
            json.get("__type")
                .and_then(|t| t.as_str())
                .map(str::to_owned)
        })
        .map(|c| {
            let c = c.rsplit('#').next().unwrap_or(&c).to_owned();
            c.split(':').next().unwrap_or(&c).to_owned()
        })
        .unwrap_or_default();
    let what = if code.is_empty() {
        format!("AWS Secrets Manager answered HTTP {}", status.as_u16())
    } else {
        format!(
            "AWS Secrets Manager answered {code} (HTTP {})",
            status.as_u16()
        )
    };
    let throttled = matches!(
        code.as_str(),
        "ThrottlingException" | "Throttling" | "TooManyRequestsException" | "RequestLimitExceeded"
    ) || status == reqwest::StatusCode::TOO_MANY_REQUESTS;
    if throttled || status.is_server_error() {
        return Attempt::Retry(what);
    }
    Attempt::Refused(match code.as_str() {
        "ResourceNotFoundException" => format!("{what}: no such secret"),
        "AccessDeniedException" => format!(
            "{what}: the runner's AWS identity may not call secretsmanager:GetSecretValue on it"
        ),
        "DecryptionFailure" => {
            format!("{what}: the runner's AWS identity may not kms:Decrypt its key")
        }
        _ => what,
    })
}

/// The SigV4 headers (`authorization`, `x-amz-date`, `x-amz-security-token`) for a POST of
/// `body` to `endpoint` with `headers`.
fn signed_headers(
    endpoint: &Url,
    region: &str,
    credentials: &aws_config::Credentials,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Vec<(String, String)>, String> {
    let identity = aws_credential_types::Credentials::new(
        credentials.access_key_id.clone(),
        credentials.secret_access_key.expose(),
        credentials
            .session_token
            .as_ref()
            .map(|t| t.expose().to_owned()),
        None,
        "relinker",
    )
    .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("secretsmanager")
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into();
    let host = endpoint.host_str().unwrap_or_default();
    let host = match endpoint.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let all = headers.iter().copied().chain([("host", host.as_str())]);
    let request = SignableRequest::new(
        "POST",
        endpoint.as_str(),
        all,
        SignableBody::Bytes(body.as_bytes()),
    )
    .map_err(|e| format!("cannot sign the request: {e}"))?;
    let (instructions, _signature) = sign(request, &params)
        .map_err(|e| format!("cannot sign the request: {e}"))?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(attempt: &Attempt) -> String {
        match attempt {
            Attempt::Value(_) => "value".into(),
            Attempt::Retry(why) => format!("retry: {why}"),
            Attempt::Refused(why) => format!("refused: {why}"),
        }
    }

    #[test]
    fn answers_read_as_a_value_a_retry_or_a_refusal_without_aws_messages() {
        let ok = read_answer(
            reqwest::StatusCode::OK,
            None,
            r#"{"Name":"m","SecretString":"s3cret"}"#,
        );
        assert!(matches!(&ok, Attempt::Value(v) if v.expose() == "s3cret"));
        let throttled = read_answer(
            reqwest::StatusCode::BAD_REQUEST,
            None,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        );
        assert_eq!(
            said(&throttled),
            "retry: AWS Secrets Manager answered ThrottlingException (HTTP 400)"
        );
        let missing = read_answer(
            reqwest::StatusCode::BAD_REQUEST,
            Some("ResourceNotFoundException:http://internal.amazon.com/".into()),
            r#"{"__type":"com.amazonaws.secretsmanager#ResourceNotFoundException","message":"Secrets Manager can't find the specified secret s3cret-ish"}"#,
        );
        assert_eq!(
            said(&missing),
            "refused: AWS Secrets Manager answered ResourceNotFoundException (HTTP 400): no such secret"
        );
        assert!(matches!(
            read_answer(reqwest::StatusCode::BAD_GATEWAY, None, "<html>"),
            Attempt::Retry(_)
        ));
    }

    #[test]
    fn requests_are_signed_for_the_service_and_region() {
        let credentials = aws_config::Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: Some(Secret::new("token")),
        };
        let endpoint = Url::parse("http://127.0.0.1:4566/").unwrap();
        let headers = signed_headers(
            &endpoint,
            "eu-west-1",
            &credentials,
            &[("x-amz-target", "secretsmanager.GetSecretValue")],
            "{}",
        )
        .unwrap();
        let authorization = headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str())
            .unwrap();
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
                && authorization.contains("/eu-west-1/secretsmanager/aws4_request"),
            "{authorization}"
        );
        assert!(!authorization.contains("wJalr"));
        assert!(
            headers
                .iter()
                .any(|(n, v)| n == "x-amz-security-token" && v == "token")
        );
    }
}
