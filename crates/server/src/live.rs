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
use tokio::sync::{Notify, watch};

use crate::AppState;
use crate::direct::{DirectWriter, MAX_BURST, Outgoing, WriteError};
use crate::fanout::ParkKey;
use crate::hub::{Batch, BatchWriter, Hub, Resume, StoredEvent};
use crate::route::Route;
use crate::stats::Counters;

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

/// How a parked wait ended ([`Subscription::park`]).
#[derive(Debug)]
pub enum Parking<T> {
    /// Not parked: there is something to read first.
    Busy,
    /// Handed back by the fan-out, or the server shuts down: read on.
    Resumed,
    /// Parked for the keep-alive interval with nothing written.
    KeepAlive,
    /// What the caller's own future gave.
    Also(T),
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
    /// Wakes this subscriber when the fan-out hands it back (made on
    /// its first [`Subscription::park`]).
    wake: Option<Arc<Notify>>,
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
            wake: None,
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

    /// Whether nothing is left to hand out until the next publish: when
    /// a direct writer's session may park ([`Self::park`]).
    pub fn is_idle(&self) -> bool {
        self.backlog.is_empty() && self.pending_gap.is_none()
    }

    /// Waits parked in the hub's fan-out ([`crate::fanout`]), which
    /// writes every publish to `writer` from the publisher's loop, until
    /// it hands this subscriber back, the keep-alive interval passes,
    /// `also` resolves (a client's message) or the server shuts down;
    /// then writes what the fan-out left unwritten. [`Parking::Busy`]
    /// without waiting when there is something to read first
    /// ([`Self::next`]). The caller must not write to the connection in
    /// any other way until this returns.
    pub async fn park<T>(
        &mut self,
        writer: &DirectWriter,
        also: impl Future<Output = T>,
    ) -> Result<Parking<T>, WriteError> {
        // Shutting down: `next` ends the session.
        if !self.is_idle() || *self.shutdown.borrow() {
            return Ok(Parking::Busy);
        }
        let wake = Arc::clone(self.wake.get_or_insert_default());
        let parked = Box::new(DirectSubscriber {
            writer: writer.clone(),
            last: self.last,
            counters: Arc::clone(&self.state.counters),
            route: self.route,
        });
        let hub = Arc::clone(&self.state.hub);
        let Ok(key) = hub.park(parked, Arc::clone(&wake)) else {
            return Ok(Parking::Busy);
        };
        // Unparks however the wait ends, also when the session's future
        // is dropped in it (hyper drops a body whose client went away).
        let mut parked = ParkedHere {
            hub,
            key: Some(key),
        };
        let keepalive = async {
            match self.keepalive {
                Some(every) => tokio::time::sleep(every).await,
                None => std::future::pending().await,
            }
        };
        let woken = tokio::select! {
            biased;
            () = wake.notified() => Parking::Resumed,
            () = stopped(&mut self.shutdown) => Parking::Resumed,
            () = keepalive => Parking::KeepAlive,
            out = also => Parking::Also(out),
        };
        let Resume { last, rest } = parked.leave();
        let delivered = last > self.last;
        self.last = self.last.max(last);
        if let Some(rest) = rest {
            writer.write(&[Outgoing::Rest(rest)]).await?;
        }
        Ok(match woken {
            // A keep-alive is for a quiet interval.
            Parking::KeepAlive if delivered => Parking::Resumed,
            woken => woken,
        })
    }

    fn hand_out(&mut self, event: Arc<StoredEvent>) -> LiveItem {
        self.last = event.seq;
        self.state.counters.delivered(self.route, 1);
        LiveItem::Event(event)
    }
}

/// A parked session's place in the hub's fan-out, left when dropped.
struct ParkedHere {
    hub: Arc<Hub>,
    key: Option<ParkKey>,
}

impl ParkedHere {
    /// Leaves the fan-out: where the session goes on.
    fn leave(&mut self) -> Resume {
        self.key
            .take()
            .map(|key| self.hub.unpark(key))
            .unwrap_or_default()
    }
}

impl Drop for ParkedHere {
    fn drop(&mut self) {
        self.leave();
    }
}

/// A subscriber with a direct writer, parked in the hub's fan-out: each
/// publish it was just before is written to its socket whole from the
/// publisher's loop, and counted as delivered as [`Subscription`] counts
/// a batch it hands out.
#[derive(Debug)]
struct DirectSubscriber {
    writer: DirectWriter,
    last: u64,
    counters: Arc<Counters>,
    route: Route,
}

impl BatchWriter for DirectSubscriber {
    fn last(&self) -> u64 {
        self.last
    }

    fn offer(&mut self, batch: &Batch) -> Option<Resume> {
        if self.last >= batch.last {
            // Had it already (another publisher's loop was first).
            return None;
        }
        if self.last != batch.after {
            return Some(Resume::at(self.last));
        }
        self.last = batch.last;
        self.counters.delivered(self.route, batch.len() as u64);
        let bytes = batch.framed(self.writer.wire());
        let written = self.writer.try_write_raw(bytes);
        (written < bytes.len()).then(|| Resume {
            last: self.last,
            rest: Some(bytes.slice(written..)),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pushbench_protocol::Transport;
    use tokio::io::AsyncReadExt as _;
    use tokio::net::TcpStream;

    use super::*;
    use crate::listener::{Conn, ConnCounters};
    use crate::push_framing::Wire;
    use crate::shared_socket::SharedSocket;

    const ROUTE: Route = Route::Transport(Transport::Ws);

    /// A WebSocket subscriber at `last` on a real loopback socket, and
    /// the client's end of it.
    async fn subscriber_at(last: u64) -> (DirectSubscriber, TcpStream) {
        let (client, server) = crate::tcp_pair().await;
        let peer = server.peer_addr().expect("peer");
        let conn = Conn(
            Arc::new(ConnCounters::new(peer)),
            SharedSocket(Arc::new(server)),
        );
        let writer = DirectWriter::for_connection(&conn, Duration::from_secs(5), Wire::WebSocket)
            .expect("a plain connection");
        let subscriber = DirectSubscriber {
            writer,
            last,
            counters: Arc::default(),
            route: ROUTE,
        };
        (subscriber, client)
    }

    /// The batch of `hub`'s publish that came after `after`.
    fn batch_after(hub: &Hub, after: u64) -> Arc<Batch> {
        hub.read_after(after, 64, true, &mut VecDeque::new())
            .batch
            .expect("the last publish's batch")
    }

    fn written(subscriber: &DirectSubscriber) -> u64 {
        subscriber
            .writer
            .counters()
            .bytes_written
            .load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn a_batch_goes_whole_to_a_subscriber_just_before_it() {
        let hub = Hub::new(100, 100, 0);
        hub.publish_scheduled_batch(16, 1, &[1, 2, 3]);
        let batch = batch_after(&hub, 0);
        let (mut subscriber, mut client) = subscriber_at(0).await;
        assert_eq!(subscriber.offer(&batch), None);
        let bytes = &batch.framed(Wire::WebSocket)[..];
        let mut got = vec![0; bytes.len()];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(got, bytes);
        assert_eq!(subscriber.last, 3);
        assert_eq!(written(&subscriber), bytes.len() as u64);
        assert_eq!(subscriber.counters.delivered_on(ROUTE), 3);
        // Offered again (another publisher's loop): it has it already.
        assert_eq!(subscriber.offer(&batch), None);
        assert_eq!(written(&subscriber), bytes.len() as u64);
    }

    #[tokio::test]
    async fn a_subscriber_behind_the_batch_is_handed_back_to_read_the_ring() {
        let hub = Hub::new(100, 100, 0);
        hub.publish("t", "a".into());
        hub.publish("t", "b".into());
        let (mut subscriber, _client) = subscriber_at(0).await;
        let batch = batch_after(&hub, 1);
        assert_eq!(subscriber.offer(&batch), Some(Resume::at(0)));
        assert_eq!(written(&subscriber), 0);
        assert_eq!(subscriber.counters.delivered_on(ROUTE), 0);
    }

    #[tokio::test]
    async fn what_a_full_socket_did_not_take_is_handed_back_byte_exact() {
        let hub = Hub::new(100, 100, 0);
        let (mut subscriber, mut client) = subscriber_at(0).await;
        let mut sent = Vec::new();
        // The client reads nothing: a few hundred kilobytes fill the
        // sockets' buffers.
        let rest = loop {
            let after = subscriber.last;
            hub.publish("t", "x".repeat(60_000));
            let batch = batch_after(&hub, after);
            let bytes = batch.framed(Wire::WebSocket).clone();
            match subscriber.offer(&batch) {
                None => sent.extend_from_slice(&bytes),
                Some(Resume { last, rest }) => {
                    assert_eq!(last, batch.last);
                    let rest = rest.expect("the rest of the batch");
                    let took = bytes.len() - rest.len();
                    assert_eq!(rest[..], bytes[took..]);
                    sent.extend_from_slice(&bytes[..took]);
                    break rest;
                }
            }
            assert!(sent.len() < 64 << 20, "the socket never filled");
        };
        assert!(!rest.is_empty());
        assert_eq!(written(&subscriber), sent.len() as u64);
        let mut got = vec![0; sent.len()];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(got, sent);
    }

    #[tokio::test]
    async fn a_hub_parks_only_a_writer_with_every_announced_event() {
        let hub = Hub::new(100, 100, 0);
        hub.publish("t", "a".into());
        let (behind, _client) = subscriber_at(0).await;
        let wake = Arc::new(Notify::new());
        let behind = hub
            .park(Box::new(behind), Arc::clone(&wake))
            .expect_err("an event it lacks was announced");
        assert_eq!(behind.last(), 0);
        let (current, mut client) = subscriber_at(1).await;
        let key = hub
            .park(Box::new(current), Arc::clone(&wake))
            .expect("parked");
        // The next publish is written to it from the publish itself.
        hub.publish("t", "b".into());
        let mut got = vec![0; 2];
        client.read_exact(&mut got).await.expect("read");
        assert_eq!(got[0], 0x81);
        assert_eq!(hub.unpark(key), Resume::at(2));
    }
}
