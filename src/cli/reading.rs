//! A long read (`inventory`, `sandbox --from-live`, `offboard`): weighed against what is left
//! of the day's quota before it starts ([`weigh`]), then its progress: a bar on a terminal,
//! otherwise one line every 10 seconds (`RELINKER_PROGRESS_INTERVAL` seconds), each with
//! records read of those expected, calls sent and time held back by the rate limit; and, at
//! the end, one line of what the read cost, in calls and in the day's quota. All of it on
//! stderr: stdout is the result's.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use clap::Args;

use super::exit::{Failure, OrExit};
use crate::provider::ReadTally;
use crate::provider::marketo::quota::{self, QuotaToday};
use crate::provider::marketo::{MarketoClient, Spent};

/// How much of the day's quota a long read may take without asking.
#[derive(Debug, Args)]
pub struct QuotaArgs {
    /// Go on without asking when the read would take more than `--quota-share` of what is
    /// left of today's quota (a scheduled job has no terminal to ask).
    #[arg(long)]
    yes: bool,
    /// The part of what is left of today's quota a read may take without asking, from 0 to
    /// 1. The quota is the whole instance's: every integration stops when it runs out.
    #[arg(long, value_name = "SHARE", default_value_t = 0.25, value_parser = quota_share)]
    quota_share: f64,
}

fn quota_share(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|share| (0.0..=1.0).contains(share))
        .ok_or_else(|| format!("`{text}` is not a share: give a number from 0 to 1"))
}

/// Weighs a read of about `calls` calls against what is left of today's quota (`daily` a
/// day): a read of [`quota::WEIGH_FROM`] calls or more says what share of it it takes, and
/// one that takes more than `--quota-share` goes on only when a person says so at the
/// terminal or `--yes` did. Without either it stops (exit 2) before its first record, naming
/// the numbers.
pub(crate) async fn weigh(
    client: &MarketoClient,
    calls: u64,
    daily: u64,
    args: &QuotaArgs,
) -> Result<(), Failure> {
    if calls < quota::WEIGH_FROM {
        return Ok(());
    }
    let today = match quota::today(client, daily).await {
        Ok(today) => today,
        Err(error) => {
            super::output::warn(&format!(
                "warning: today's usage could not be read ({error}): the read is weighed against the whole daily quota"
            ));
            QuotaToday { used: 0, daily }
        }
    };
    let share = today.share_of_left(calls);
    let weighed = format!(
        "this read makes about {} calls: {} of the {} calls left of today's quota ({} of {} used)",
        thousands(calls),
        percent(share),
        thousands(today.left()),
        thousands(today.used),
        thousands(today.daily)
    );
    super::output::note(&weighed);
    if share <= args.quota_share || args.yes {
        return Ok(());
    }
    let limit = percent(args.quota_share);
    if !std::io::stdin().is_terminal() {
        return Err(anyhow!(
            "the read was not started: it would take more than {limit} of what is left of today's quota (--quota-share), and there is no terminal to ask; pass --yes to read anyway, or run it after the quota resets at {} (midnight US Central)",
            quota::next_reset(chrono::Utc::now()).format("%Y-%m-%d %H:%M UTC")
        ))
        .or_invalid_input();
    }
    let mut stderr = std::io::stderr().lock();
    let _ = write!(
        stderr,
        "That is more than {limit} of what is left today (--quota-share). Read anyway? [y/N] "
    );
    let _ = stderr.flush();
    drop(stderr);
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|error| anyhow!("cannot read the answer: {error}"))
        .or_failed()?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(anyhow!("the read was not started")).or_invalid_input()
    }
}

/// `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `4%`, or `0.3%` under one percent, or `all` when it does not fit.
fn percent(share: f64) -> String {
    if share.is_infinite() || share > 1.0 {
        return "more than all".to_owned();
    }
    let percent = share * 100.0;
    if percent > 0.0 && percent < 1.0 {
        format!("{percent:.1}%")
    } else {
        format!("{percent:.0}%")
    }
}

const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);

/// A read under way, shown until [`Reading::finish`].
pub(crate) struct Reading {
    what: &'static str,
    daily: u64,
    tally: Arc<ReadTally>,
    client: MarketoClient,
    started: Instant,
    shown: tokio::task::JoinHandle<()>,
    bar: Option<indicatif::ProgressBar>,
}

/// Starts showing a read of `what` (plural: "users") counted in `tally`, through `client`, of
/// an instance allowing `daily` calls a day.
pub(crate) fn start(
    what: &'static str,
    tally: Arc<ReadTally>,
    client: &MarketoClient,
    daily: u64,
) -> Reading {
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
        daily,
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
        let spent = self.client.spent();
        #[allow(clippy::cast_precision_loss)] // call counts are far below 2^52
        let share = spent.calls as f64 / self.daily.max(1) as f64;
        super::output::note(&format!(
            "read{read} {} in {}: {}; {} of the day's quota ({} calls)",
            self.what,
            seconds(self.started.elapsed()),
            cost(spent),
            percent(share),
            thousands(self.daily)
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

#[cfg(test)]
mod tests {
    use super::{percent, thousands};

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2_023), "2,023");
        assert_eq!(thousands(50_000), "50,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(percent(0.04), "4%");
        assert_eq!(percent(0.003), "0.3%");
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(1.5), "more than all");
        assert_eq!(percent(f64::INFINITY), "more than all");
    }
}
