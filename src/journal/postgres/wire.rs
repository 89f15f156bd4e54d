//! Connecting to PostgreSQL: a socket to each host of the URL in turn, TLS as its
//! [`Reach`] says, and a watch on what the server sends before TLS or the end of
//! authentication.
//!
//! tokio-postgres answers a server's request for the password in clear text
//! (`AuthenticationCleartextPassword`) whatever the connection, and connects its sockets
//! itself, where nothing can look at them. So relinker opens the socket, hands it to
//! tokio-postgres's `connect_raw` inside a [`Watched`] stream, and the stream reads the
//! server's messages on a connection without TLS until authentication is over: a request for
//! the password in clear text fails the read that brings it, before tokio-postgres sees the
//! request, so the password is never sent. A server that answers "no TLS" where TLS is
//! required fails the same way, with the reason. Once TLS is up, the watch ends: the password
//! goes only to a server that completed the handshake (and, with `verify-full`, proved its
//! name).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_postgres::config::{LoadBalanceHosts, SslMode, SslNegotiation, TargetSessionAttrs};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{Client, Config, NoTls, SimpleQueryMessage};

use super::target::{At, Endpoint, Reach, Target};
use super::tls::Verify;

/// Said when a server asks for the password in clear text without TLS.
const CLEARTEXT: &str = "the server asked for the password in clear text on a connection without TLS, and relinker never sends it that way (connect over TLS, or have the server use scram-sha-256)";

/// Why a connection was not made.
#[derive(Debug)]
pub(super) enum ConnectError {
    /// No socket to the host: refused, unreachable, a name that does not resolve.
    Socket(io::Error),
    /// tokio-postgres's: TLS, the startup, authentication, or a refusal of the watch.
    Postgres(tokio_postgres::Error),
    /// The server is not what `target_session_attrs` asks for.
    Session(&'static str),
}

impl From<tokio_postgres::Error> for ConnectError {
    fn from(error: tokio_postgres::Error) -> Self {
        Self::Postgres(error)
    }
}

/// Connects to the first host of `target` that takes the connection (in random order under
/// `load_balance_hosts=random`), the connection driven on the current runtime until its client
/// is dropped. The error is the last host's.
pub(super) async fn connect(target: Arc<Target>) -> Result<Client, ConnectError> {
    let config = target.config();
    let mut order: Vec<&Endpoint> = target.endpoints().iter().collect();
    if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
        order.shuffle(&mut rand::rng());
    }
    let mut last = ConnectError::Session("the URL names no host");
    for endpoint in order {
        match connect_one(&target, endpoint).await {
            Ok(client) => return Ok(client),
            Err(error) => last = error,
        }
    }
    Err(last)
}

async fn connect_one(target: &Target, endpoint: &Endpoint) -> Result<Client, ConnectError> {
    let socket = open(target.config(), endpoint)
        .await
        .map_err(ConnectError::Socket)?;
    let mut config = target.config().clone();
    let direct = config.get_ssl_negotiation() == SslNegotiation::Direct;
    let (mode, watch) = match endpoint.reach {
        Reach::Plain => (SslMode::Disable, Watch::clear()),
        Reach::TlsOrPlain => (SslMode::Prefer, Watch::Answer { refused: None }),
        // With direct negotiation the handshake starts at once, with no answer to read.
        Reach::Tls { .. } if direct => (SslMode::Require, Watch::Done),
        Reach::Tls { refused, .. } => (
            SslMode::Require,
            Watch::Answer {
                refused: Some(refused),
            },
        ),
    };
    config.ssl_mode(mode);
    let stream = Watched {
        inner: socket,
        watch,
    };
    let verify = match endpoint.reach {
        Reach::Plain => None,
        Reach::TlsOrPlain => Some(Verify::Nothing),
        Reach::Tls { verify, .. } => Some(verify),
    };
    let client = match verify.and_then(|verify| target.connector(verify)) {
        None => handshake(&config, stream, NoTls).await?,
        Some(mut maker) => {
            let tls = match MakeTlsConnect::<Watched>::make_tls_connect(&mut maker, &endpoint.name)
            {
                Ok(tls) => tls,
                Err(never) => match never {},
            };
            handshake(&config, stream, tls).await?
        }
    };
    check_session(&client, config.get_target_session_attrs()).await?;
    Ok(client)
}

/// The startup and authentication on `stream`; the connection is then driven on the current
/// runtime until its client is dropped.
async fn handshake<T>(
    config: &Config,
    stream: Watched,
    tls: T,
) -> Result<Client, tokio_postgres::Error>
where
    T: TlsConnect<Watched>,
    T::Stream: Send + 'static,
{
    let (client, connection) = config.connect_raw(stream, tls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// Refuses a server that is not what `target_session_attrs` asks for.
async fn check_session(client: &Client, wanted: TargetSessionAttrs) -> Result<(), ConnectError> {
    if wanted == TargetSessionAttrs::Any {
        return Ok(());
    }
    let messages = client.simple_query("SHOW transaction_read_only").await?;
    let read_only = messages
        .iter()
        .any(|message| matches!(message, SimpleQueryMessage::Row(row) if row.get(0) == Some("on")));
    match (wanted, read_only) {
        (TargetSessionAttrs::ReadWrite, true) => Err(ConnectError::Session(
            "the server takes no writes, and the URL asks target_session_attrs=read-write",
        )),
        (TargetSessionAttrs::ReadOnly, false) => Err(ConnectError::Session(
            "the server takes writes, and the URL asks target_session_attrs=read-only",
        )),
        _ => Ok(()),
    }
}

/// A socket to the endpoint, tuned as the URL asks (keepalives, user timeout).
async fn open(config: &Config, endpoint: &Endpoint) -> io::Result<Box<dyn Io>> {
    let wait = config.get_connect_timeout().copied();
    match &endpoint.at {
        At::Tcp(host) => {
            let mut addrs: Vec<_> = tokio::net::lookup_host((host.as_str(), endpoint.port))
                .await?
                .collect();
            if config.get_load_balance_hosts() == LoadBalanceHosts::Random {
                addrs.shuffle(&mut rand::rng());
            }
            let mut last = io::Error::new(
                io::ErrorKind::NotFound,
                "the host name resolves to no address",
            );
            for addr in addrs {
                match within(wait, TcpStream::connect(addr)).await {
                    Ok(stream) => {
                        tune(&stream, config)?;
                        return Ok(Box::new(stream));
                    }
                    Err(error) => last = error,
                }
            }
            Err(last)
        }
        #[cfg(unix)]
        At::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{}", endpoint.port));
            let stream = within(wait, tokio::net::UnixStream::connect(path)).await?;
            Ok(Box::new(stream))
        }
    }
}

async fn within<T>(
    wait: Option<Duration>,
    connecting: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match wait {
        Some(wait) => tokio::time::timeout(wait, connecting)
            .await
            .unwrap_or_else(|_| {
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "connection timed out",
                ))
            }),
        None => connecting.await,
    }
}

/// The TCP options tokio-postgres would set for the same URL.
fn tune(stream: &TcpStream, config: &Config) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let socket = socket2::SockRef::from(stream);
    if config.get_keepalives() {
        #[cfg_attr(not(target_os = "linux"), allow(unused_mut))]
        let mut keepalive = socket2::TcpKeepalive::new().with_time(config.get_keepalives_idle());
        #[cfg(target_os = "linux")]
        {
            if let Some(interval) = config.get_keepalives_interval() {
                keepalive = keepalive.with_interval(interval);
            }
            if let Some(retries) = config.get_keepalives_retries() {
                keepalive = keepalive.with_retries(retries);
            }
        }
        socket.set_tcp_keepalive(&keepalive)?;
    }
    #[cfg(target_os = "linux")]
    if let Some(timeout) = config.get_tcp_user_timeout() {
        socket.set_tcp_user_timeout(Some(*timeout))?;
    }
    Ok(())
}

/// A socket of either kind.
trait Io: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The socket, with a watch on what the server says before TLS or authentication ends.
pub(super) struct Watched {
    inner: Box<dyn Io>,
    watch: Watch,
}

/// What the server's next bytes are, as far as the watch cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Watch {
    /// One byte answering the request for TLS: `S` and the handshake follows; anything else
    /// and the connection goes on without TLS, unless `refused` says why it must not.
    Answer { refused: Option<&'static str> },
    /// Messages without TLS: a type byte, a length (itself included), a body. Of a message
    /// the watch keeps its first 9 bytes (an authentication request's type, length and code)
    /// and skips the rest.
    Clear {
        head: [u8; 9],
        have: usize,
        skip: usize,
    },
    /// Nothing more to watch: TLS carries the rest, or authentication is over.
    Done,
}

impl Watch {
    fn clear() -> Self {
        Self::Clear {
            head: [0; 9],
            have: 0,
            skip: 0,
        }
    }

    /// Follows `bytes`, the next the server sent; the refusal when they must go no further.
    fn see(&mut self, mut bytes: &[u8]) -> Result<(), &'static str> {
        while let Some((&first, rest)) = bytes.split_first() {
            match self {
                Self::Done => return Ok(()),
                Self::Answer { refused } => {
                    bytes = rest;
                    *self = match (first, *refused) {
                        (b'S', _) => Self::Done,
                        (_, Some(why)) => return Err(why),
                        (_, None) => Self::clear(),
                    };
                }
                Self::Clear { skip, .. } if *skip > 0 => {
                    let skipped = (*skip).min(bytes.len());
                    *skip -= skipped;
                    bytes = &bytes[skipped..];
                }
                Self::Clear { head, have, skip } => {
                    head[*have] = first;
                    *have += 1;
                    bytes = rest;
                    let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]);
                    let body = usize::try_from(length)
                        .unwrap_or(usize::MAX)
                        .saturating_sub(4);
                    if *have == 5 && head[0] != b'R' {
                        (*skip, *have) = (body, 0);
                    } else if *have == 9 {
                        match u32::from_be_bytes([head[5], head[6], head[7], head[8]]) {
                            // AuthenticationOk: what follows is the session's.
                            0 => *self = Self::Done,
                            // AuthenticationCleartextPassword.
                            3 => return Err(CLEARTEXT),
                            _ => (*skip, *have) = (body.saturating_sub(4), 0),
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        // Refused in the read that brings the request, before anyone reads the request.
        Poll::Ready(
            this.watch
                .see(&buf.filled()[before..])
                .map_err(|why| io::Error::new(io::ErrorKind::PermissionDenied, why)),
        )
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend message: type, length, body.
    fn message(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![kind];
        out.extend_from_slice(&u32::try_from(body.len() + 4).unwrap().to_be_bytes());
        out.extend_from_slice(body);
        out
    }

    fn auth(code: u32, rest: &[u8]) -> Vec<u8> {
        let mut body = code.to_be_bytes().to_vec();
        body.extend_from_slice(rest);
        message(b'R', &body)
    }

    /// Feeds `stream` to a watch in chunks of every size, and says how it ended each time.
    #[track_caller]
    fn watched(start: &Watch, stream: &[u8], expected: &Result<Watch, &str>) {
        for chunk in 1..=stream.len().max(1) {
            let mut watch = start.clone();
            let got = stream
                .chunks(chunk)
                .try_for_each(|bytes| watch.see(bytes))
                .map(|()| watch.clone());
            match (&got, expected) {
                (Ok(got), Ok(expected)) => assert_eq!(got, expected, "chunks of {chunk}"),
                (Err(got), Err(expected)) => {
                    assert!(got.contains(expected), "chunks of {chunk}: {got}");
                }
                _ => panic!("chunks of {chunk}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_request_for_the_password_in_clear_text_is_refused_without_tls() {
        let cleartext = auth(3, &[]);
        watched(&Watch::clear(), &cleartext, &Err("in clear text"));
        // After the server said no to TLS.
        let mut stream = vec![b'N'];
        stream.extend_from_slice(&cleartext);
        watched(
            &Watch::Answer { refused: None },
            &stream,
            &Err("in clear text"),
        );
        // After a notice, a protocol negotiation and an MD5 request the server gave up on.
        let mut stream = message(b'N', b"SNOTICE\0Mhello\0\0");
        stream.extend(message(b'v', &[0, 0, 0, 0, 0, 0, 0, 0]));
        stream.extend(auth(5, b"salt"));
        stream.extend(cleartext);
        watched(&Watch::clear(), &stream, &Err("in clear text"));
    }

    #[test]
    fn the_watch_ends_with_tls_or_with_authentication() {
        // SCRAM's exchange, then AuthenticationOk: a later "request" is the session's bytes.
        let mut stream = auth(10, b"SCRAM-SHA-256\0\0");
        stream.extend(auth(11, b"r=abc,s=c2FsdA==,i=4096"));
        stream.extend(auth(12, b"v=xyz"));
        stream.extend(auth(0, &[]));
        stream.extend(auth(3, &[]));
        watched(&Watch::clear(), &stream, &Ok(Watch::Done));
        // TLS accepted: what follows is the handshake, never read as messages.
        let mut stream = vec![b'S'];
        stream.extend(auth(3, &[]));
        watched(&Watch::Answer { refused: None }, &stream, &Ok(Watch::Done));
        watched(
            &Watch::Answer {
                refused: Some("no TLS"),
            },
            b"N",
            &Err("no TLS"),
        );
    }
}
