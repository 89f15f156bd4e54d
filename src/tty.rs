//! The terminal relinker reads from while a person is awaited: Enter there checks again at
//! once. Its echo is switched off meanwhile: a terminal echoes a key the moment it is pressed,
//! whatever is drawing, and an echoed line break under the progress bars would make every later
//! redraw land a line too low, leaving stale bars behind.

/// Echo of the terminal on stdin, off for as long as this lives; restored when dropped.
#[derive(Debug)]
pub struct EchoOff {
    #[cfg(unix)]
    saved: rustix::termios::Termios,
}

impl EchoOff {
    /// Switches echo off on stdin, when stdin is a terminal that echoes.
    pub fn on_stdin() -> Option<Self> {
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
