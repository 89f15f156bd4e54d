//! Progress of a long read (`inventory`, `sandbox --from-live`, `offboard`): a bar on a
//! terminal, otherwise one line every 10 seconds (`RELINKER_PROGRESS_INTERVAL` seconds), each
//! with records read of those expected, calls sent and time held back by the rate limit; and,
//! at the end, one line of what the read cost. All of it on stderr: stdout is the result's.

use std::io::IsTerminal as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::provider::ReadTally;
use crate::provider::marketo::{MarketoClient, Spent};

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// A read under way, shown until [`Reading::finish`].
pub(crate) struct Reading {
    what: &'static str,
    tally: Arc<ReadTally>,
    client: MarketoClient,
    started: Instant,
    shown: tokio::task::JoinHandle<()>,
    bar: Option<indicatif::ProgressBar>,
}

/// Starts showing a read of `what` (plural: "users") counted in `tally`, through `client`.
pub(crate) fn start(what: &'static str, tally: Arc<ReadTally>, client: &MarketoClient) -> Reading {
    let started = Instant::now();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} · {elapsed}")
        {
            bar.set_style(style);
        }
        bar
    });
    let shown = {
        let (tally, client, bar) = (Arc::clone(&tally), client.clone(), bar.clone());
        tokio::spawn(async move {
            let every = match &bar {
                Some(_) => Duration::from_millis(200),
                None => interval(),
            };
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                ticks.tick().await;
                let (read, expected) = tally.now();
                let cost = cost(client.spent());
                match &bar {
                    Some(bar) => {
                        bar.set_length(expected as u64);
                        bar.set_position(read as u64);
                        bar.set_message(format!("{what} · {cost}"));
                    }
                    None => super::output::note(&format!(
                        "reading {what}{} after {}: {cost}",
                        counted(read, expected),
                        seconds(started.elapsed())
                    )),
                }
            }
        })
    };
    Reading {
        what,
        tally,
        client: client.clone(),
        started,
        shown,
        bar,
    }
}

impl Reading {
    /// Stops showing progress and says what the read cost.
    pub(crate) fn finish(self) {
        self.shown.abort();
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        let (read, expected) = self.tally.now();
        let read = if expected == 0 {
            String::new()
        } else {
            format!(" {read}")
        };
        super::output::note(&format!(
            "read{read} {} in {}: {}",
            self.what,
            seconds(self.started.elapsed()),
            cost(self.client.spent())
        ));
    }
}

/// ": 12/255" once the read knows how many records it expects.
fn counted(read: usize, expected: usize) -> String {
    if expected == 0 {
        String::new()
    } else {
        format!(": {read}/{expected}")
    }
}

/// How often a line is printed where no terminal shows a bar.
fn interval() -> Duration {
    std::env::var("RELINKER_PROGRESS_INTERVAL")
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_INTERVAL, Duration::from_secs_f64)
}

fn cost(spent: Spent) -> String {
    format!(
        "{} call{}, {} waiting for the rate limit",
        spent.calls,
        if spent.calls == 1 { "" } else { "s" },
        seconds(spent.waited_for_rate)
    )
}

fn seconds(duration: Duration) -> String {
    format!("{} s", duration.as_secs())
}
