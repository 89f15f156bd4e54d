//! What a state URL asks for: the database, and how each of its hosts is reached.
//!
//! `sslmode` and `sslrootcert` mean what libpq says they mean, and are read here: tokio-postgres
//! knows neither `verify-ca`, `verify-full` nor `sslrootcert`, and refuses a URL that names
//! them. What relinker adds to libpq is one rule: a database on another machine is reached over
//! TLS unless the URL says `sslmode=disable` itself. So with no `sslmode` such a host gets
//! `verify-full` (its certificate checked against the system's CAs or `sslrootcert`), and
//! `prefer` never falls back to plain text there. A host on this machine (loopback, a Unix
//! socket) keeps libpq's default, `prefer`. Nothing here ever shows the URL: it may hold a
//! password.

use std::net::IpAddr;
#[cfg(unix)]
use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::Config;
use tokio_postgres::config::Host;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::tls::{self, RootCert, Verify};
use crate::journal::JournalError;

/// libpq's `sslmode`, less `allow` (plain text first), which relinker refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, unverified.
    Prefer,
    /// TLS, unverified (verified as `verify-ca` when `sslrootcert` names a file, as libpq
    /// does).
    Require,
    /// TLS, the chain to `sslrootcert`.
    VerifyCa,
    /// TLS, the chain and the host name.
    VerifyFull,
}

impl SslMode {
    fn parse(text: &str) -> Result<Self, String> {
        Ok(match text {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            "allow" => {
                return Err("sslmode=allow is not supported: it tries plain text first (use prefer, or require)".into());
            }
            _ => {
                return Err(
                    "sslmode must be one of disable, prefer, require, verify-ca and verify-full"
                        .into(),
                );
            }
        })
    }
}

/// How one host is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reach {
    /// Never TLS: `sslmode=disable`, or a Unix socket (which PostgreSQL serves without TLS, and
    /// where libpq ignores `sslmode`).
    Plain,
    /// TLS when the server offers it, plain text otherwise: `prefer` on this machine.
    TlsOrPlain,
    /// TLS or nothing; `refused` says why, for a server that does not offer it.
    Tls {
        /// What is checked of the certificate.
        verify: Verify,
        /// Said when the server does not offer TLS.
        refused: &'static str,
    },
}

/// Said when a host on another machine, given no `sslmode` or `prefer`, does not offer TLS.
const REMOTE: &str = "the server does not offer TLS, and relinker reaches a database on another machine only over TLS unless the URL says sslmode=disable";

/// Where a socket goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum At {
    /// A host name or an address, with its port.
    Tcp(String),
    /// A socket directory: the socket is `.s.PGSQL.<port>` in it.
    #[cfg(unix)]
    Unix(PathBuf),
}

/// One host of the URL, and how it is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Endpoint {
    /// Where the socket goes (`hostaddr` when the URL gives one).
    pub(super) at: At,
    /// The name the server's certificate must carry: the host as written, else its address.
    pub(super) name: String,
    /// The port.
    pub(super) port: u16,
    /// TLS or not, and how verified.
    pub(super) reach: Reach,
}

/// A database to connect to: tokio-postgres's configuration (without the TLS parameters it
/// does not know), each host with its reach, and the TLS connectors they need.
pub(super) struct Target {
    config: Config,
    shown: String,
    endpoints: Vec<Endpoint>,
    connectors: Vec<(Verify, MakeRustlsConnect)>,
}

impl Target {
    /// Reads `url`; each connection attempt waits at most `wait`. Refused (never repeating
    /// the URL) when it does not read, or asks for TLS that cannot be had.
    pub(super) fn parse(url: &str, wait: Duration) -> Result<Self, JournalError> {
        let refused = |problem: String| JournalError::StateUrl { problem };
        let (rest, mode, roots) = take_tls_parameters(url).map_err(refused)?;
        let mut config: Config = rest.parse().map_err(|_| {
            refused("not a PostgreSQL connection URL (postgres://user@host:port/database)".into())
        })?;
        config.connect_timeout(wait);
        config.application_name("relinker");
        if roots == RootCert::System && mode != Some(SslMode::VerifyFull) {
            return Err(refused(
                "sslrootcert=system needs sslmode=verify-full (the system's CAs vouch for a server only together with its host name)".into(),
            ));
        }
        if mode == Some(SslMode::VerifyCa) && !matches!(roots, RootCert::File(_)) {
            return Err(refused(
                "sslmode=verify-ca needs sslrootcert=FILE, the CA that signed the server's certificate".into(),
            ));
        }
        let endpoints = endpoints(&config, mode, &roots).map_err(refused)?;
        let mut connectors: Vec<(Verify, MakeRustlsConnect)> = Vec::new();
        for endpoint in &endpoints {
            let verify = match endpoint.reach {
                Reach::Plain => continue,
                Reach::TlsOrPlain => Verify::Nothing,
                Reach::Tls { verify, .. } => verify,
            };
            if connectors.iter().all(|(made, _)| *made != verify) {
                connectors.push((verify, tls::connector(verify, &roots).map_err(refused)?));
            }
        }
        Ok(Self {
            shown: shown(&config),
            config,
            endpoints,
            connectors,
        })
    }

    /// The configuration tokio-postgres connects with.
    pub(super) fn config(&self) -> &Config {
        &self.config
    }

    /// The URL as people may see it.
    pub(super) fn shown(&self) -> &str {
        &self.shown
    }

    /// Every host, in the URL's order.
    pub(super) fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// The TLS connector for `verify`; every reach among the endpoints has one.
    pub(super) fn connector(&self, verify: Verify) -> Option<MakeRustlsConnect> {
        self.connectors
            .iter()
            .find(|(made, _)| *made == verify)
            .map(|(_, connector)| connector.clone())
    }
}

/// The URL without `sslmode` and `sslrootcert`, and what they said.
fn take_tls_parameters(url: &str) -> Result<(String, Option<SslMode>, RootCert), String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), None, RootCert::Unset));
    };
    let decode = |text: &str, key: &str| {
        percent_encoding::percent_decode_str(text)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| format!("the URL's {key} is not UTF-8"))
    };
    let (mut mode, mut roots, mut kept) = (None, RootCert::Unset, Vec::new());
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match decode(key, "query")?.as_str() {
            "sslmode" => mode = Some(SslMode::parse(&decode(value, "sslmode")?)?),
            "sslrootcert" => {
                roots = match decode(value, "sslrootcert")?.as_str() {
                    "" => RootCert::Unset,
                    "system" => RootCert::System,
                    path => RootCert::File(path.into()),
                }
            }
            unsupported @ ("sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir") => {
                return Err(format!(
                    "{unsupported} is not supported (relinker reads sslmode and sslrootcert; see docs/state.md)"
                ));
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, roots))
}

/// Each host of the configuration with its reach, in order.
fn endpoints(
    config: &Config,
    mode: Option<SslMode>,
    roots: &RootCert,
) -> Result<Vec<Endpoint>, String> {
    let (hosts, addrs, ports) = (
        config.get_hosts(),
        config.get_hostaddrs(),
        config.get_ports(),
    );
    let count = hosts.len().max(addrs.len());
    if count == 0 {
        return Err("names no host (postgres://user@host:port/database)".into());
    }
    if !hosts.is_empty() && !addrs.is_empty() && hosts.len() != addrs.len() {
        return Err(format!(
            "names {} hosts and {} hostaddrs; give one hostaddr per host",
            hosts.len(),
            addrs.len()
        ));
    }
    if ports.len() > 1 && ports.len() != count {
        return Err(format!(
            "names {} ports for {count} hosts; give one port, or one per host",
            ports.len()
        ));
    }
    let mut endpoints = Vec::with_capacity(count);
    for index in 0..count {
        let port = ports.get(index).or(ports.first()).copied().unwrap_or(5432);
        let addr = addrs.get(index);
        let name = match hosts.get(index) {
            #[cfg(unix)]
            Some(Host::Unix(dir)) => {
                endpoints.push(Endpoint {
                    at: At::Unix(dir.clone()),
                    name: String::new(),
                    port,
                    reach: Reach::Plain,
                });
                continue;
            }
            Some(Host::Tcp(name)) => name.clone(),
            None => addr.map(ToString::to_string).unwrap_or_default(),
        };
        // The bytes go to hostaddr, but the host named is the one meant: both must be this
        // machine for the connection to be local.
        let local = is_loopback(&name) && addr.is_none_or(IpAddr::is_loopback);
        endpoints.push(Endpoint {
            at: At::Tcp(addr.map_or_else(|| name.clone(), ToString::to_string)),
            name,
            port,
            reach: reach(mode, roots, local),
        });
    }
    Ok(endpoints)
}

/// How a TCP host is reached under `mode`, on this machine (`local`) or another.
fn reach(mode: Option<SslMode>, roots: &RootCert, local: bool) -> Reach {
    let tls = |verify, refused| Reach::Tls { verify, refused };
    match (mode, local) {
        (Some(SslMode::Disable), _) => Reach::Plain,
        (Some(SslMode::Prefer) | None, true) => Reach::TlsOrPlain,
        (Some(SslMode::Prefer), false) => tls(Verify::Nothing, REMOTE),
        (None, false) => tls(Verify::ChainAndName, REMOTE),
        (Some(SslMode::Require), _) => tls(
            if matches!(roots, RootCert::File(_)) {
                Verify::Chain
            } else {
                Verify::Nothing
            },
            "the server does not offer TLS, which sslmode=require asks for",
        ),
        (Some(SslMode::VerifyCa), _) => tls(
            Verify::Chain,
            "the server does not offer TLS, which sslmode=verify-ca asks for",
        ),
        (Some(SslMode::VerifyFull), _) => tls(
            Verify::ChainAndName,
            "the server does not offer TLS, which sslmode=verify-full asks for",
        ),
    }
}

/// Whether a host as written is this machine: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The URL as people may see it: user, hosts, ports and database, never the password.
fn shown(config: &Config) -> String {
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let ports = config.get_ports();
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let host = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match ports.get(index).or(ports.first()) {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    let database = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{database}", hosts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn reached(url: &str, expected: &[(&str, Reach)]) {
        let target = Target::parse(url, Duration::from_secs(1)).unwrap();
        let got: Vec<(String, Reach)> = target
            .endpoints()
            .iter()
            .map(|e| (e.name.clone(), e.reach))
            .collect();
        let expected: Vec<(String, Reach)> = expected
            .iter()
            .map(|(name, reach)| ((*name).to_owned(), *reach))
            .collect();
        assert_eq!(got, expected, "{url}");
    }

    #[track_caller]
    fn refused(url: &str, says: &str) {
        match Target::parse(url, Duration::from_secs(1)) {
            Err(JournalError::StateUrl { problem }) => {
                assert!(problem.contains(says), "{url}: {problem}");
                assert!(!problem.contains("hunter2"), "{problem}");
            }
            Err(other) => panic!("{url}: {other}"),
            Ok(_) => panic!("{url} was taken"),
        }
    }

    const FULL: Reach = Reach::Tls {
        verify: Verify::ChainAndName,
        refused: REMOTE,
    };

    #[test]
    fn another_machine_gets_tls_unless_the_url_says_disable() {
        reached(
            "postgres://ops:hunter2@db.example/relinker",
            &[("db.example", FULL)],
        );
        reached(
            "postgres://ops@db.example/relinker?sslmode=prefer",
            &[(
                "db.example",
                Reach::Tls {
                    verify: Verify::Nothing,
                    refused: REMOTE,
                },
            )],
        );
        reached(
            "postgres://ops@db.example/relinker?sslmode=disable",
            &[("db.example", Reach::Plain)],
        );
        // The name is what is meant, wherever hostaddr sends the bytes.
        reached(
            "postgres://ops@db.example:5433/relinker?hostaddr=127.0.0.1",
            &[("db.example", FULL)],
        );
        reached("postgres://ops@10.1.2.3/relinker", &[("10.1.2.3", FULL)]);
    }

    #[test]
    fn this_machine_keeps_libpqs_default() {
        for host in ["127.0.0.1", "localhost", "LOCALHOST", "[::1]", "127.8.9.10"] {
            let url = format!("postgres://ops@{host}:5432/relinker");
            let name = host.trim_start_matches('[').trim_end_matches(']');
            reached(&url, &[(name, Reach::TlsOrPlain)]);
        }
        reached(
            "postgres://ops@%2Fvar%2Frun%2Fpostgresql/relinker?sslmode=verify-full",
            &[("", Reach::Plain)],
        );
        reached(
            "postgres://ops@localhost,db.example/relinker",
            &[("localhost", Reach::TlsOrPlain), ("db.example", FULL)],
        );
    }

    #[test]
    fn explicit_modes_mean_what_libpq_says() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        let made = rcgen::generate_simple_self_signed(vec!["ca.example".into()]).unwrap();
        std::fs::write(&ca, made.cert.pem()).unwrap();
        let ca = ca.display();
        let tls = |verify, refused| Reach::Tls { verify, refused };
        reached(
            "postgres://ops@localhost/r?sslmode=require",
            &[(
                "localhost",
                tls(
                    Verify::Nothing,
                    "the server does not offer TLS, which sslmode=require asks for",
                ),
            )],
        );
        // require with a CA file checks the chain, as libpq does.
        reached(
            &format!("postgres://ops@localhost/r?sslmode=require&sslrootcert={ca}"),
            &[(
                "localhost",
                tls(
                    Verify::Chain,
                    "the server does not offer TLS, which sslmode=require asks for",
                ),
            )],
        );
        reached(
            &format!(
                "postgres://ops@db.example/r?sslrootcert={ca}&sslmode=verify-ca&connect_timeout=3"
            ),
            &[(
                "db.example",
                tls(
                    Verify::Chain,
                    "the server does not offer TLS, which sslmode=verify-ca asks for",
                ),
            )],
        );
        reached(
            "postgres://ops@localhost/r?sslmode=verify-full&sslrootcert=system",
            &[(
                "localhost",
                tls(
                    Verify::ChainAndName,
                    "the server does not offer TLS, which sslmode=verify-full asks for",
                ),
            )],
        );
    }

    #[test]
    fn tls_that_cannot_be_had_is_refused_without_the_url() {
        refused(
            "postgres://ops:hunter2@db/r?sslmode=allow",
            "sslmode=allow is not supported",
        );
        refused(
            "postgres://ops:hunter2@db/r?sslmode=verify",
            "sslmode must be one of",
        );
        refused(
            "postgres://ops:hunter2@db/r?sslmode=verify-ca",
            "sslmode=verify-ca needs sslrootcert=FILE",
        );
        refused(
            "postgres://ops:hunter2@db/r?sslrootcert=system&sslmode=require",
            "sslrootcert=system needs sslmode=verify-full",
        );
        refused(
            "postgres://ops:hunter2@db/r?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "sslrootcert `/nonexistent/ca.pem` cannot be read",
        );
        refused(
            "postgres://ops:hunter2@db/r?sslcert=me.pem",
            "sslcert is not supported",
        );
        refused(
            "postgres://ops:hunter2@db:x/r",
            "not a PostgreSQL connection URL",
        );
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        refused(
            &format!(
                "postgres://ops:hunter2@db/r?sslmode=verify-full&sslrootcert={}",
                empty.display()
            ),
            "holds no certificate",
        );
    }

    #[test]
    fn the_url_is_shown_without_its_password_or_tls_parameters() {
        let target = Target::parse(
            "postgres://ops:hunter2@db.example:6543/relinker?sslmode=disable&application_name=x",
            Duration::from_secs(1),
        )
        .unwrap();
        assert_eq!(target.shown(), "postgres://ops@db.example:6543/relinker");
    }
}
