//! The terminal relinker reads from while a person is awaited (the executor's [`Console`]):
//! Enter there checks again at once, `done` attests what nothing can observe under the name of
//! whoever is logged in. Its echo is switched off meanwhile: a terminal echoes a key the moment
//! it is pressed, whatever is drawing, and an echoed line break under the progress bars would
//! make every later redraw land a line too low, leaving stale bars behind.

use tokio::io::{AsyncBufReadExt, BufReader, Stdin};

use crate::executor::{Console, Listener, Said};
use crate::provider::BoxFuture;

/// The terminal on stdin.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Terminal;

impl Console for Terminal {
    fn listen(&self) -> Box<dyn Listener + '_> {
        Box::new(Heard {
            stdin: BufReader::new(tokio::io::stdin()),
            _quiet: EchoOff::on_stdin(),
        })
    }
}

/// One wait at the terminal: its lines, with echo off until it ends.
struct Heard {
    stdin: BufReader<Stdin>,
    _quiet: Option<EchoOff>,
}

impl Listener for Heard {
    fn next(&mut self) -> BoxFuture<'_, Option<Said>> {
        Box::pin(async move {
            let mut line = String::new();
            match self.stdin.read_line(&mut line).await {
                Ok(0) | Err(_) => None,
                Ok(_) if line.trim().eq_ignore_ascii_case("done") => Some(Said::Done {
                    by: std::env::var("USER")
                        .unwrap_or_else(|_| "the person at the terminal".into()),
                }),
                Ok(_) => Some(Said::LookNow),
            }
        })
    }
}

/// Echo of the terminal on stdin, off for as long as this lives; restored when dropped.
#[derive(Debug)]
pub(crate) struct EchoOff {
    #[cfg(unix)]
    saved: rustix::termios::Termios,
}

impl EchoOff {
    /// Switches echo off on stdin, when stdin is a terminal that echoes.
    pub(crate) fn on_stdin() -> Option<Self> {
        #[cfg(unix)]
        {
            use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
            let stdin = std::io::stdin();
            let saved = tcgetattr(&stdin).ok()?;
            if !saved.local_modes.contains(LocalModes::ECHO) {
                return None;
            }
            let mut quiet = saved.clone();
            quiet.local_modes.remove(LocalModes::ECHO);
            tcsetattr(&stdin, OptionalActions::Now, &quiet).ok()?;
            Some(Self { saved })
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let _ = rustix::termios::tcsetattr(
                std::io::stdin(),
                rustix::termios::OptionalActions::Now,
                &self.saved,
            );
        }
    }
}
