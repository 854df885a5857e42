//! A live subscription: the backlog after a cursor, then every new event,
//! in order, exactly once, with the slow-consumer policy applied.
//!
//! Streaming, SSE and WebSocket all read events through [`Subscription`], so
//! they differ only in how they encode each [`LiveItem`].

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use pushbench_protocol::Gap;
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::{broadcast, watch};

use crate::AppState;
use crate::hub::StoredEvent;
use crate::route::Route;

/// One thing to send to a live client.
#[derive(Debug)]
pub enum LiveItem {
    /// An event.
    Event(Arc<StoredEvent>),
    /// Events that left the ring before this client could have them.
    Gap(Gap),
    /// Nothing happened for the keep-alive interval.
    KeepAlive,
}

/// Resolves once the server starts shutting down.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone: the server is gone too.
    let _ = shutdown.wait_for(|&stop| stop).await;
}

/// A client's view of the hub from its cursor on.
#[derive(Debug)]
pub struct Subscription {
    state: AppState,
    route: Route,
    live: broadcast::Receiver<Arc<StoredEvent>>,
    /// The hub's latest-seq watch: what wakes this subscriber.
    latest: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    backlog: VecDeque<Arc<StoredEvent>>,
    pending_gap: Option<Gap>,
    /// Highest seq handed out; anything at or below it is a duplicate.
    last: u64,
    /// Whether the ring may still hold events after `last` not yet in `backlog`.
    catching_up: bool,
    keepalive: Option<Duration>,
}

impl Subscription {
    /// Subscribes from `cursor` (events after it), or from now when `None`.
    pub fn new(
        state: AppState,
        route: Route,
        cursor: Option<u64>,
        keepalive: Option<Duration>,
    ) -> Self {
        // Subscribe before reading the ring so nothing falls between the two.
        let live = state.hub.subscribe();
        let latest = state.hub.watch_latest();
        let shutdown = state.shutdown.clone();
        let last = cursor.unwrap_or_else(|| state.hub.last_seq());
        Subscription {
            state,
            route,
            live,
            latest,
            shutdown,
            backlog: VecDeque::new(),
            pending_gap: None,
            last,
            catching_up: cursor.is_some(),
            keepalive,
        }
    }

    /// Refills the backlog from the ring after `last`, noting any gap.
    fn refill(&mut self) {
        let batch = self.state.hub.since(self.last, self.state.config.max_batch);
        if let Some(gap) = batch.gap {
            self.pending_gap = Some(gap);
            self.last = self.last.max(gap.to);
        }
        self.catching_up = batch.events.len() == self.state.config.max_batch;
        self.backlog.extend(batch.events);
    }

    /// The next item, or `None` when the server shuts down.
    ///
    /// Waits on the hub's latest-seq watch, not on the live queue: the
    /// hub announces once per publish or per batch of published events
    /// (see [`crate::Hub::publish_scheduled_batch`]), so a subscriber is
    /// woken once for a batch and takes it all with [`Self::try_next`]. A
    /// shutdown wakes everyone through the same watch
    /// ([`crate::Hub::wake_all`]): one wait per wake-up, not three.
    pub async fn next(&mut self) -> Option<LiveItem> {
        loop {
            if *self.shutdown.borrow() {
                return None;
            }
            // Announcements up to here are seen before the queue is read:
            // an event queued after the read is announced after it, so the
            // wait below returns at once.
            self.latest.borrow_and_update();
            if let Some(item) = self.try_next() {
                return Some(item);
            }
            let changed = match self.keepalive {
                None => self.latest.changed().await,
                Some(every) => tokio::select! {
                    biased;
                    changed = self.latest.changed() => changed,
                    () = tokio::time::sleep(every) => return Some(LiveItem::KeepAlive),
                },
            };
            if changed.is_err() {
                // The hub is gone: nothing more will come.
                return None;
            }
        }
    }

    /// The next item if one is ready now, without waiting: what a writer
    /// that was just woken takes to send a burst with one write. `None`
    /// means nothing is ready (an end of the stream shows at the next
    /// [`Subscription::next`]). Cheaper than polling `next` once more: no
    /// futures are made, the queue is read with `try_recv`.
    pub fn try_next(&mut self) -> Option<LiveItem> {
        loop {
            if let Some(item) = self.backlog_item() {
                return Some(item);
            }
            match self.live.try_recv() {
                Ok(event) => {
                    if let Some(item) = self.received(event) {
                        return Some(item);
                    }
                }
                Err(TryRecvError::Lagged(_)) => self.resync(),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return None,
            }
        }
    }

    /// The next item already here: a pending gap, then the backlog (read
    /// from the ring while catching up).
    fn backlog_item(&mut self) -> Option<LiveItem> {
        loop {
            if self.backlog.is_empty() && self.pending_gap.is_none() && self.catching_up {
                self.refill();
            }
            if let Some(gap) = self.pending_gap.take() {
                return Some(LiveItem::Gap(gap));
            }
            let event = self.backlog.pop_front()?;
            if event.seq > self.last {
                return Some(self.hand_out(event));
            }
        }
    }

    /// What an event from the live queue becomes: nothing for a
    /// duplicate, else the event, or first a gap before it.
    fn received(&mut self, event: Arc<StoredEvent>) -> Option<LiveItem> {
        if event.seq <= self.last {
            return None;
        }
        // A cluster node's hub can jump over seqs the stream lost while
        // it could not read (see `Hub::store`): say so before the event,
        // as a cursor read would.
        if self.state.cluster.is_some()
            && event.seq > self.last + 1
            && let Some(gap) = self.state.hub.gap_after(self.last)
        {
            let to = gap.to.min(event.seq - 1);
            self.last = to;
            self.backlog.push_front(event);
            return Some(LiveItem::Gap(Gap { from: gap.from, to }));
        }
        Some(self.hand_out(event))
    }

    /// Slow-consumer policy: the client fell more than the queue behind.
    /// Resync from the ring, which is longer; whatever left the ring too
    /// arrives as a gap marker, and both are counted.
    fn resync(&mut self) {
        tracing::info!(
            after = self.last,
            "a slow subscriber fell more than the queue (--queue) behind: resynced from the ring"
        );
        let counters = &self.state.counters;
        counters
            .slow_consumer_resyncs
            .fetch_add(1, Ordering::Relaxed);
        self.catching_up = true;
        self.refill();
        if let Some(gap) = self.pending_gap {
            self.state
                .counters
                .slow_consumer_drops
                .fetch_add(gap.len(), Ordering::Relaxed);
        }
    }

    fn hand_out(&mut self, event: Arc<StoredEvent>) -> LiveItem {
        self.last = event.seq;
        self.state.counters.delivered(self.route, 1);
        LiveItem::Event(event)
    }
}
