//! Where an API lives, and how relinker reaches it: the one rule for base URLs and the one way
//! HTTP clients are built, shared by every provider, the webhook, check commands and the
//! sandbox operator.
//!
//! Credentials travel to a base URL, so it must be `https://`, or `http://` to a loopback
//! address (the sandbox); it names a host and nothing else a URL can carry: no user info (a
//! password in a URL ends up in logs), no query and no fragment.
//!
//! Every client ([`client_builder`]) follows no redirect: a redirect would carry a request's
//! credentials (Basic auth, a bearer token, the identity call's query string with its client
//! secret) to a host nobody reviewed, so an answer `3xx` is an error that names where it
//! pointed ([`redirect_target`]), never its query. And a loopback host is never reached through
//! a proxy: reqwest takes `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY` from the environment, and
//! a proxy would carry a sandbox's cleartext `http://` traffic (secrets in it) off the machine.
//! Loopback bypasses proxies, as `NO_PROXY` conventions do; other hosts keep the environment's
//! proxy settings.

use reqwest::header::{HeaderMap, LOCATION};
use url::Url;

/// Checks a base URL; the error says what is wrong, in words.
pub fn check_base_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    match url.scheme() {
        "https" => {}
        "http" => {
            if !is_loopback(&url) {
                return Err(format!(
                    "`{text}` uses http:// to a non-loopback host; credentials would cross the network in clear (use https://)"
                ));
            }
        }
        other => return Err(format!("`{text}` has scheme `{other}`; use https://")),
    }
    if url.host().is_none() {
        return Err(format!("`{text}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("the URL carries user info (`user:password@`); credentials belong in secret references, never in a URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "`{text}` has a query or a fragment; give the base URL alone, such as `https://123-ABC-456.mktorest.com`"
        ));
    }
    Ok(url)
}

/// A base URL as requests are built on it: checked, without a trailing slash.
pub fn base(text: &str) -> Result<String, String> {
    check_base_url(text.trim()).map(|url| url.as_str().trim_end_matches('/').to_owned())
}

/// Whether `url`'s host is loopback: `localhost`, `127.0.0.0/8` or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An HTTP client builder for requests to `url`: no redirect followed, and no proxy when the
/// host is loopback (see the module's documentation).
pub fn client_builder(url: &Url) -> reqwest::ClientBuilder {
    let builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("relinker/", env!("CARGO_PKG_VERSION")));
    if is_loopback(url) {
        builder.no_proxy()
    } else {
        builder
    }
}

/// Where a redirect answer to a request for `request` points (its `Location`, resolved
/// against the request), if it says.
pub fn redirect_location(request: &Url, headers: &HeaderMap) -> Option<Url> {
    let location = headers.get(LOCATION)?.to_str().ok()?;
    request.join(location.trim()).ok()
}

/// Where a redirect answer to a request for `request` points, for a message: scheme, host,
/// port and path; never a query, a fragment or user info, which may carry secrets.
pub fn redirect_target(request: &Url, headers: &HeaderMap) -> String {
    redirect_location(request, headers).map_or_else(
        || NOWHERE.to_owned(),
        |target| format!("{}{}", origin(&target), target.path()),
    )
}

/// What a redirect without a usable `Location` points to.
pub const NOWHERE: &str = "nowhere (no usable `Location` header)";

/// `scheme://host[:port]` of `url`: all of it that may be shown when the rest is a secret.
pub fn origin(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{}://{host}:{port}", url.scheme()),
        None => format!("{}://{host}", url.scheme()),
    }
}

/// Whether a host has answered this command yet. Retries are for a platform that answered
/// before and stopped (a restart, a blip); a host that never answered (a name that does not
/// resolve, nothing listening, a firewall) will not start answering within a retry budget, and
/// 40 s of waits only hide the cause. Clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct Heard(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Heard {
    /// An answer came back (any answer: an HTTP error is an answer).
    pub fn answered(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Why `error` means the host has never answered this command, when it does: the
    /// connection itself failed, and no earlier request got an answer.
    pub fn never(&self, error: &reqwest::Error) -> Option<String> {
        if !error.is_connect() || self.0.load(std::sync::atomic::Ordering::Relaxed) {
            return None;
        }
        Some(never_answered(std::iter::successors(
            std::error::Error::source(error),
            |cause| cause.source(),
        )))
    }
}

/// Why a connection could not be made, from its chain of causes, in an operator's words.
fn never_answered<'a>(
    mut causes: impl Iterator<Item = &'a (dyn std::error::Error + 'static)>,
) -> String {
    let mut last = None;
    for cause in causes.by_ref() {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return "nothing listens there (connection refused)".to_owned();
                }
                std::io::ErrorKind::TimedOut => {
                    return "the connection timed out (a firewall, or a wrong address)".to_owned();
                }
                _ => {}
            }
        }
        let text = cause.to_string();
        // hyper-util's resolver error reads `dns error`; the system's, `failed to lookup address`.
        if text.contains("dns error") || text.contains("failed to lookup address") {
            return "the name does not resolve (DNS)".to_owned();
        }
        last = Some(text);
    }
    last.map_or_else(
        || "the connection failed".to_owned(),
        |text| format!("the connection failed: {text}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Cause(&'static str);

    impl std::fmt::Display for Cause {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Cause {}

    #[test]
    fn a_connection_that_never_happened_says_why_in_words() {
        let dns = Cause("failed to lookup address information: Name or service not known");
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let timed_out = std::io::Error::from(std::io::ErrorKind::TimedOut);
        let other = Cause("tls handshake eof");
        let cases: [(&(dyn std::error::Error + 'static), &str); 4] = [
            (&dns, "the name does not resolve (DNS)"),
            (&refused, "nothing listens there (connection refused)"),
            (
                &timed_out,
                "the connection timed out (a firewall, or a wrong address)",
            ),
            (&other, "the connection failed: tls handshake eof"),
        ];
        for (cause, expected) in cases {
            assert_eq!(never_answered(std::iter::once(cause)), expected);
        }
        assert_eq!(never_answered(std::iter::empty()), "the connection failed");
    }

    #[test]
    fn only_safe_base_urls_pass() {
        for good in [
            "https://123-ABC-456.mktorest.com",
            "https://r1-api.dotdigital.com/",
            "http://127.0.0.1:8787",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert!(check_base_url(good).is_ok(), "{good}");
        }
        for (bad, why) in [
            ("ftp://x.example", "scheme"),
            ("http://10.0.0.1", "non-loopback"),
            ("https://user:pass@x.example", "user info"),
            ("https://x.example/?a=1", "query"),
            ("https://x.example/#top", "fragment"),
            ("not a url", "not a URL"),
        ] {
            let error = check_base_url(bad).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
            assert!(
                !error.contains("pass@"),
                "the password is never repeated: {error}"
            );
        }
        assert_eq!(base("https://x.example/").unwrap(), "https://x.example");
    }

    #[test]
    fn loopback_is_named_hosts_and_addresses_only() {
        for (url, loopback) in [
            ("http://127.0.0.1:8787", true),
            ("http://127.1.2.3", true),
            ("http://LOCALHOST:1", true),
            ("http://[::1]:9", true),
            ("http://10.0.0.1", false),
            ("http://localhost.example", false),
            ("https://123-ABC-456.mktorest.com", false),
        ] {
            assert_eq!(is_loopback(&Url::parse(url).unwrap()), loopback, "{url}");
        }
    }

    #[test]
    fn a_redirect_target_never_shows_a_query_or_user_info() {
        let request =
            Url::parse("https://x.example/identity/oauth/token?client_secret=s3cret").unwrap();
        let target = |location: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(LOCATION, location.parse().unwrap());
            redirect_target(&request, &headers)
        };
        assert_eq!(
            target("https://user:pw@evil.example:8443/collect?client_secret=s3cret#x"),
            "https://evil.example:8443/collect"
        );
        assert_eq!(target("/elsewhere?a=b"), "https://x.example/elsewhere");
        assert_eq!(redirect_target(&request, &HeaderMap::new()), NOWHERE);
    }
}
