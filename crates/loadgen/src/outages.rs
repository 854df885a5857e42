//! A phase's view of the server's outages: `/stats` calls that fail are
//! tolerated until the server has been unreachable for its outage grace.

use std::time::{Duration, Instant};

use pushbench_protocol::results::Outage;

use crate::control_client::{ControlClient, Stats};
use crate::target::ServerHandle;
use crate::{Error, Result};

/// How often `/stats` is asked again while the server does not answer.
const OUTAGE_RETRY: Duration = Duration::from_millis(250);

/// A phase's view of the server's outages: `/stats` calls that failed are
/// tolerated until the server has been unreachable for its outage grace,
/// and counted; a changed `started_us` counts a restart.
#[derive(Debug)]
pub(crate) struct Outages {
    grace: Duration,
    failing_since: Option<Instant>,
    failures: u64,
    longest: Duration,
    restarts: u64,
    started_us: Option<u64>,
}

impl Outages {
    pub(crate) fn new(grace: Duration) -> Self {
        Outages {
            grace,
            failing_since: None,
            failures: 0,
            longest: Duration::ZERO,
            restarts: 0,
            started_us: None,
        }
    }

    /// `/stats`, asked again every [`OUTAGE_RETRY`] while the server is
    /// unreachable, until it answers or the grace runs out.
    pub(crate) async fn stats(
        &mut self,
        control: &ControlClient,
        server: &mut ServerHandle,
    ) -> Result<Stats> {
        loop {
            if let Some(stats) = self.try_stats(control, server).await? {
                return Ok(stats);
            }
            tokio::time::sleep(OUTAGE_RETRY).await;
        }
    }

    /// One `/stats` call: `None` when it failed within the grace.
    pub(crate) async fn try_stats(
        &mut self,
        control: &ControlClient,
        server: &mut ServerHandle,
    ) -> Result<Option<Stats>> {
        if let Some(reason) = server.exited() {
            return Err(Error::ServerDied(reason));
        }
        let now = Instant::now();
        match control.stats(false).await {
            Ok(stats) => {
                if let Some(since) = self.failing_since.take() {
                    self.longest = self.longest.max(now - since);
                    tracing::info!(
                        "{} answers again after {:.1} s",
                        server.url,
                        (now - since).as_secs_f64()
                    );
                }
                if stats.started_us != 0 {
                    if self.started_us.is_some_and(|s| s != stats.started_us) {
                        tracing::warn!("{} was restarted (a new started_us)", server.url);
                        self.restarts += 1;
                    }
                    self.started_us = Some(stats.started_us);
                }
                Ok(Some(stats))
            }
            Err(Error::ServerDied(why)) => {
                if self.failing_since.is_none() {
                    tracing::warn!(
                        "{} stopped answering: {why}; clients keep reconnecting for up to {:.1} s \
                         (--outage-grace)",
                        server.url,
                        self.grace.as_secs_f64()
                    );
                }
                self.failures += 1;
                let since = *self.failing_since.get_or_insert(now);
                let down = Instant::now() - since;
                self.longest = self.longest.max(down);
                if down >= self.grace {
                    return Err(Error::ServerDied(format!(
                        "{} has not answered for {:.1} s (the outage grace is {:.1} s): {why}",
                        server.url,
                        down.as_secs_f64(),
                        self.grace.as_secs_f64()
                    )));
                }
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// The outages so far, for the phase's result.
    pub(crate) fn summary(&self) -> Outage {
        let longest = match self.failing_since {
            Some(since) => self.longest.max(since.elapsed()),
            None => self.longest,
        };
        Outage {
            stats_failures: self.failures,
            longest_s: longest.as_secs_f64(),
            server_restarts: self.restarts,
        }
    }
}
