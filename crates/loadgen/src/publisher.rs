//! The load generator's publisher into a server of another kind
//! (`--target-kind`): the events the clients measure, published at the
//! phase's rate through the kind's publish API
//! ([`crate::target_api::publish_request`]).
//!
//! It follows the same [`PublishSchedule`] as `pushbench serve`'s own
//! generator and stamps every event with the time the schedule said it was
//! due, so a publish the server answers late shows in the latencies
//! instead of thinning the rate (no coordinated omission). Seqs continue
//! over the whole run, one after another on one kept-alive connection, so
//! the server receives them in order, and they start above every seq an
//! earlier run could have published into the same server (the first is
//! the publisher's creation time in microseconds since the epoch, plus
//! one: a run would have to publish over a million events a second to
//! catch up with the clock), so a server that keeps a ring of what it
//! relayed never answers a new run's `since=` with an old run's events;
//! an event whose publish fails is
//! retried (on a new connection) until it is accepted or the phase ends,
//! so a seq is never skipped by the publisher. `last_seq` is the last seq
//! the server accepted: the end cursor of a phase, as `/stats`'s
//! `last_seq` is for pushbench's own server.
//!
//! Its bytes are booked as control, apart from the clients' and from the
//! runner's other control calls (`publish_traffic` in the results).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pushbench_net::counting::CountingStream;
use pushbench_protocol::publish_schedule::PublishSchedule;
use pushbench_protocol::{Event, TargetKind, Traffic, now_us};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::control_tally::{ControlConnection, ControlTally};
use crate::http_answer::{answer_len, wire_request};
use crate::lock;
use crate::target_api::publish_request;

/// How long one publish may wait for its answer before the connection is
/// given up and the event sent again on a new one.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest answer to a publish read; real ones are a few hundred bytes.
const MAX_ANSWER: usize = 1024 * 1024;

/// How long to wait before dialing again after a failed publish: short,
/// since the schedule stamps keep counting meanwhile.
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// What the phases publish: the scenario's event shape at a rate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PublishPlan {
    /// Events per second.
    pub rate: f64,
    /// Events per group (`--burst`), sent back to back.
    pub burst: u32,
    /// Payload bytes per event.
    pub payload: usize,
    /// Topics the events are spread over.
    pub topics: u32,
}

/// What the publisher has done so far, shared with its task.
#[derive(Debug, Default)]
struct Counts {
    /// The last seq the server accepted.
    last_seq: AtomicU64,
    /// Publish requests the server refused or never answered.
    failures: AtomicU64,
}

/// The running publishing task of a phase.
#[derive(Debug)]
struct Running {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
    /// The rate it publishes.
    rate: f64,
}

/// Publishes the run's events into one server of another kind.
#[derive(Debug)]
pub struct Publisher {
    kind: TargetKind,
    addr: SocketAddr,
    counts: Arc<Counts>,
    traffic: ControlTally,
    connections: Arc<Mutex<Vec<ControlConnection>>>,
    running: Mutex<Option<Running>>,
    /// When the publisher was made (µs since the epoch): the `started_us`
    /// of the server it stands for in the phases' view.
    pub started_us: u64,
}

impl Publisher {
    /// A publisher into the `kind` server at `addr`; nothing is published
    /// until [`Publisher::start`].
    pub fn new(kind: TargetKind, addr: SocketAddr) -> Self {
        let started_us = now_us();
        Publisher {
            kind,
            addr,
            counts: Arc::new(Counts {
                last_seq: AtomicU64::new(started_us),
                failures: AtomicU64::new(0),
            }),
            traffic: ControlTally::default(),
            connections: Arc::default(),
            running: Mutex::new(None),
            started_us,
        }
    }

    /// The last seq the server accepted.
    pub fn last_seq(&self) -> u64 {
        self.counts.last_seq.load(Ordering::Relaxed)
    }

    /// Publishes the server refused or left unanswered (each retried).
    pub fn failures(&self) -> u64 {
        self.counts.failures.load(Ordering::Relaxed)
    }

    /// The rate being published now (0 when stopped).
    pub fn rate(&self) -> f64 {
        lock(&self.running).as_ref().map_or(0.0, |r| r.rate)
    }

    /// Every byte the publisher's connections carried (all `control`).
    pub fn traffic(&self) -> Traffic {
        self.traffic.traffic()
    }

    /// The publisher's connections so far (for the wire log).
    pub fn connections(&self) -> Vec<ControlConnection> {
        lock(&self.connections).clone()
    }

    /// Starts publishing by `plan`, the seqs following the last one
    /// accepted; a publishing phase still running is stopped first.
    pub async fn start(&self, plan: PublishPlan) {
        self.stop().await;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(publish(
            Publishing {
                kind: self.kind,
                addr: self.addr,
                counts: self.counts.clone(),
                traffic: self.traffic.clone(),
                connections: self.connections.clone(),
            },
            plan,
            stopped,
        ));
        *lock(&self.running) = Some(Running {
            stop,
            task,
            rate: plan.rate,
        });
    }

    /// Stops publishing (an event being published finishes first).
    pub async fn stop(&self) {
        let running = lock(&self.running).take();
        if let Some(Running { stop, task, .. }) = running {
            let _ = stop.send(true);
            let _ = task.await;
        }
    }
}

/// What the publishing task needs of its [`Publisher`].
struct Publishing {
    kind: TargetKind,
    addr: SocketAddr,
    counts: Arc<Counts>,
    traffic: ControlTally,
    connections: Arc<Mutex<Vec<ControlConnection>>>,
}

/// One kept-alive publishing connection.
struct PublishConn {
    stream: CountingStream<TcpStream, ControlTally>,
    local: SocketAddr,
    sent: u64,
    received: u64,
}

impl Publishing {
    async fn dial(&self) -> std::io::Result<PublishConn> {
        let tcp = TcpStream::connect(self.addr).await?;
        tcp.set_nodelay(true)?;
        let local = tcp.local_addr()?;
        Ok(PublishConn {
            stream: CountingStream::new(tcp, self.traffic.clone()),
            local,
            sent: 0,
            received: 0,
        })
    }

    fn closed(&self, conn: PublishConn) {
        lock(&self.connections).push(ControlConnection {
            local: conn.local,
            sent: conn.sent,
            received: conn.received,
        });
    }

    /// Sends `request` and reads its whole answer; the answer's status.
    async fn exchange(&self, conn: &mut PublishConn, request: &[u8]) -> Result<u16, String> {
        conn.stream
            .write_all(request)
            .await
            .map_err(|e| format!("write: {e}"))?;
        conn.sent += request.len() as u64;
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(parsed) = answer_len(&answer) {
                let (status, len) = parsed?;
                if len != answer.len() {
                    return Err("answer with bytes after its end".into());
                }
                return Ok(status);
            }
            if answer.len() > MAX_ANSWER {
                return Err(format!("answer over {MAX_ANSWER} bytes"));
            }
            let n = conn
                .stream
                .read(&mut buf)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err("closed by the server".into());
            }
            conn.received += n as u64;
            answer.extend_from_slice(&buf[..n]);
        }
    }
}

/// The publishing task: by the schedule, until `stopped`.
async fn publish(p: Publishing, plan: PublishPlan, mut stopped: watch::Receiver<bool>) {
    let schedule = PublishSchedule::new(plan.rate, plan.burst);
    let start = Instant::now();
    let start_us = now_us();
    let first = p.counts.last_seq.load(Ordering::Relaxed);
    let mut sent: u64 = 0;
    let mut conn: Option<PublishConn> = None;
    let mut warned = false;
    'schedule: loop {
        let due = schedule.due_by(start.elapsed().as_secs_f64());
        while sent < due {
            let n = sent + 1;
            let created_us = start_us + (schedule.due_at_s(n) * 1e6) as u64;
            let event = Event::generated(first + n, plan.payload, plan.topics, created_us);
            let Some(request) = publish_request(p.kind, &event) else {
                return;
            };
            let bytes = wire_request(&request, p.addr);
            // Until accepted: a refused or lost publish is sent again, so
            // the server sees every seq once accepted, in order.
            loop {
                if *stopped.borrow() {
                    break 'schedule;
                }
                let outcome = match conn.as_mut() {
                    Some(c) => tokio::time::timeout(ANSWER_TIMEOUT, p.exchange(c, &bytes))
                        .await
                        .unwrap_or_else(|_| Err("no answer".into())),
                    None => match p.dial().await {
                        Ok(c) => {
                            conn = Some(c);
                            continue;
                        }
                        Err(e) => Err(format!("connect: {e}")),
                    },
                };
                match outcome {
                    Ok(status) if (200..300).contains(&status) => break,
                    failed => {
                        p.counts.failures.fetch_add(1, Ordering::Relaxed);
                        if !warned {
                            warned = true;
                            let why = match failed {
                                Ok(status) => format!("status {status}"),
                                Err(e) => e,
                            };
                            tracing::warn!(
                                "publishing seq {} into the {} server at {}: {why} (retrying)",
                                event.seq,
                                p.kind,
                                p.addr
                            );
                        }
                        if let Some(c) = conn.take() {
                            p.closed(c);
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(RETRY_PAUSE) => {}
                            _ = stopped.changed() => break 'schedule,
                        }
                    }
                }
            }
            sent = n;
            p.counts.last_seq.store(event.seq, Ordering::Relaxed);
        }
        let next_at = start + Duration::from_secs_f64(schedule.due_at_s(sent + 1));
        tokio::select! {
            _ = tokio::time::sleep_until(next_at.into()) => {}
            _ = stopped.changed() => break,
        }
    }
    if let Some(mut c) = conn.take() {
        let _ = c.stream.shutdown().await;
        p.closed(c);
    }
}
