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
use tokio::sync::watch;

use crate::AppState;
use crate::direct::MAX_BURST;
use crate::hub::{Batch, StoredEvent};
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
    /// The events of the last publish, whole and framed once for everyone
    /// (only for a subscription [`Subscription::with_batches`]).
    Batch(Arc<Batch>),
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
    /// The hub's latest-seq watch: what wakes this subscriber.
    latest: watch::Receiver<u64>,
    shutdown: watch::Receiver<bool>,
    /// Events read from the ring, not yet handed out.
    backlog: VecDeque<Arc<StoredEvent>>,
    pending_gap: Option<Gap>,
    /// Highest seq handed out (or reported in a gap).
    last: u64,
    /// Whether this subscriber fell more than the queue behind and has
    /// not caught up since (counted once per fall).
    lagging: bool,
    keepalive: Option<Duration>,
    /// Whether this subscriber takes a publish's events as one
    /// [`LiveItem::Batch`] when it was up to date before it.
    batches: bool,
}

impl Subscription {
    /// Subscribes from `cursor` (events after it), or from now when `None`.
    pub fn new(
        state: AppState,
        route: Route,
        cursor: Option<u64>,
        keepalive: Option<Duration>,
    ) -> Self {
        let latest = state.hub.watch_latest();
        let shutdown = state.shutdown.clone();
        let last = cursor.unwrap_or_else(|| state.hub.last_seq());
        Subscription {
            state,
            route,
            latest,
            shutdown,
            backlog: VecDeque::new(),
            pending_gap: None,
            last,
            lagging: false,
            keepalive,
            batches: false,
        }
    }

    /// This subscription, taking each publish's events as one
    /// [`LiveItem::Batch`] whenever it was up to date before it: what a
    /// direct writer sends with one write of bytes framed once for every
    /// subscriber ([`crate::direct`]).
    pub fn with_batches(mut self) -> Self {
        self.batches = true;
        self
    }

    /// Reads what the ring holds after `last` into the backlog (at most a
    /// burst, so a client that stopped reading holds on to few events
    /// after the ring let them go), noting any gap, or takes the last
    /// publish's batch whole (`Some(Some(batch))`); `None` when there is
    /// nothing new.
    ///
    /// Slow-consumer policy: a subscriber that fell more than the queue
    /// (`--queue`) behind the newest event is counted once per fall
    /// (`slow_consumer_resyncs`); it keeps reading the ring, which is
    /// longer, and whatever left the ring before it could read it
    /// arrives as a gap marker, counted in `slow_consumer_drops`. (A
    /// client that asked for a cursor older than the ring gets its gap
    /// without being counted: it was not slow.)
    fn refill(&mut self) -> Option<Option<Arc<Batch>>> {
        let read = self
            .state
            .hub
            .read_after(self.last, MAX_BURST, self.batches, &mut self.backlog);
        let counters = &self.state.counters;
        let lagging = read.behind > self.state.hub.queue();
        if lagging && !self.lagging {
            tracing::info!(
                after = self.last,
                "a slow subscriber fell more than the queue (--queue) behind: reading on from the ring"
            );
            counters
                .slow_consumer_resyncs
                .fetch_add(1, Ordering::Relaxed);
        }
        self.lagging = lagging;
        if let Some(gap) = read.gap {
            if lagging {
                counters
                    .slow_consumer_drops
                    .fetch_add(gap.len(), Ordering::Relaxed);
            }
            self.pending_gap = Some(gap);
            self.last = self.last.max(gap.to);
        }
        if let Some(batch) = read.batch {
            return Some(Some(batch));
        }
        (read.gap.is_some() || !self.backlog.is_empty()).then_some(None)
    }

    /// The next item, or `None` when the server shuts down.
    ///
    /// Waits on the hub's latest-seq watch, then reads the ring: the
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
            // Announcements up to here are seen before the ring is read:
            // an event appended after the read is announced after it, so
            // the wait below returns at once.
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
    /// futures are made, the ring is read once per batch.
    pub fn try_next(&mut self) -> Option<LiveItem> {
        loop {
            if let Some(gap) = self.pending_gap.take() {
                return Some(LiveItem::Gap(gap));
            }
            if let Some(event) = self.backlog.pop_front() {
                if event.seq > self.last {
                    return Some(self.hand_out(event));
                }
                continue;
            }
            if let Some(batch) = self.refill()? {
                self.last = batch.last;
                self.state
                    .counters
                    .delivered(self.route, batch.len() as u64);
                return Some(LiveItem::Batch(batch));
            }
        }
    }

    /// Takes `first` (what [`Self::next`] returned) and whatever else is
    /// ready now into `burst`, up to [`MAX_BURST`] items, each as `make`
    /// has it (`None`: nothing to write, such as a keep-alive a transport
    /// needs none of). Returns true when the subscription ended
    /// (shutdown). Events already waiting go out together: one write per
    /// burst rather than per event, and nothing ready is held back; the
    /// bound keeps one subscriber that is far behind from holding its
    /// worker thread while others wait.
    pub fn take_burst<T>(
        &mut self,
        first: Option<LiveItem>,
        burst: &mut Vec<T>,
        make: impl Fn(LiveItem) -> Option<T>,
    ) -> bool {
        let Some(first) = first else {
            return true;
        };
        burst.extend(make(first));
        while burst.len() < MAX_BURST {
            match self.try_next() {
                Some(item) => burst.extend(make(item)),
                None => break,
            }
        }
        false
    }

    fn hand_out(&mut self, event: Arc<StoredEvent>) -> LiveItem {
        self.last = event.seq;
        self.state.counters.delivered(self.route, 1);
        LiveItem::Event(event)
    }
}
