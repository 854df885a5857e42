//! A phase's view of the server's outages: `/stats` calls that fail are
//! tolerated until the server has been unreachable for its outage grace.

use std::time::{Duration, Instant};

use pushbench_protocol::results::Outage;

use crate::control_client::{ControlClient, Stats};
use crate::target::ServerHandle;
use crate::{Error, Result};

/// A phase's view of the server's outages: `/stats` calls that failed are
/// tolerated until the server has been unreachable for its outage grace,
/// and counted; a changed `started_us` counts a restart.
#[derive(Debug)]
pub(crate) struct Outages {
    grace: Duration,
    /// One node of several (`--target URL1,URL2,...`): its clients move
    /// to the others rather than wait for it.
    one_of_several: bool,
    failing_since: Option<Instant>,
    failures: u64,
    longest: Duration,
    restarts: u64,
    started_us: Option<u64>,
}

impl Outages {
    pub(crate) fn new(grace: Duration, one_of_several: bool) -> Self {
        Outages {
            grace,
            one_of_several,
            failing_since: None,
            failures: 0,
            longest: Duration::ZERO,
            restarts: 0,
            started_us: None,
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
        self.try_node_stats(control).await
    }

    /// One `/stats` call to the node of `control` (one of several; see
    /// `crate::node_watch`): `None` when it failed within the grace.
    pub(crate) async fn try_node_stats(
        &mut self,
        control: &ControlClient,
    ) -> Result<Option<Stats>> {
        let url = format!("http://{}", control.addr());
        let now = Instant::now();
        match control.stats(false).await {
            Ok(stats) => {
                if let Some(since) = self.failing_since.take() {
                    self.longest = self.longest.max(now - since);
                    tracing::info!(
                        "{url} answers again after {:.1} s",
                        (now - since).as_secs_f64()
                    );
                }
                if stats.started_us != 0 {
                    if self.started_us.is_some_and(|s| s != stats.started_us) {
                        tracing::warn!("{url} was restarted (a new started_us)");
                        self.restarts += 1;
                    }
                    self.started_us = Some(stats.started_us);
                }
                Ok(Some(stats))
            }
            Err(Error::ServerDied(why)) => {
                if self.failing_since.is_none() && self.one_of_several {
                    tracing::warn!(
                        "{url} stopped answering: {why}; its clients move to the other nodes"
                    );
                } else if self.failing_since.is_none() {
                    tracing::warn!(
                        "{url} stopped answering: {why}; clients keep reconnecting for up to {:.1} s \
                         (--outage-grace)",
                        self.grace.as_secs_f64()
                    );
                }
                self.failures += 1;
                let since = *self.failing_since.get_or_insert(now);
                let down = Instant::now() - since;
                self.longest = self.longest.max(down);
                if down >= self.grace {
                    return Err(Error::ServerDied(format!(
                        "{url} has not answered for {:.1} s (the outage grace is {:.1} s): {why}",
                        down.as_secs_f64(),
                        self.grace.as_secs_f64()
                    )));
                }
                Ok(None)
            }
            Err(other) => Err(other),
        }
    }

    /// Whether the server has been unreachable for its whole grace (and
    /// still is).
    pub(crate) fn past_grace(&self) -> bool {
        self.failing_since
            .is_some_and(|since| since.elapsed() >= self.grace)
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
