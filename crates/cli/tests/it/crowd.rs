//! Load-generator clients against real servers, and the `/stats` reads
//! that check on them: shared by the fault tests (`faults.rs`) and the
//! cluster tests (`cluster.rs`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pushbench_loadgen::client::run_client;
use pushbench_loadgen::client_spec::{ClientSpec, Schedule};
use pushbench_loadgen::control_client::ControlClient;
use pushbench_loadgen::h2_client::H2Groups;
use pushbench_loadgen::recorder::PhaseRecorder;
use pushbench_loadgen::session::ClientReport;
use pushbench_protocol::{HttpVersion, Transport};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Sends `request` on a fresh connection (closed after the answer); the
/// status and the body.
pub async fn exchange(addr: SocketAddr, request: String) -> (u16, Vec<u8>) {
    let talk = async {
        let mut tcp = TcpStream::connect(addr).await?;
        tcp.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(10), talk)
        .await
        .expect("an answer within 10 s")
        .expect("an answer");
    let end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let status = std::str::from_utf8(&answer[9..12])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    (status, answer[end + 4..].to_vec())
}

/// `GET /stats` on a fresh connection, as JSON.
pub async fn stats(addr: SocketAddr) -> Value {
    let request = "GET /stats HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n";
    let (_, body) = exchange(addr, request.to_owned()).await;
    serde_json::from_slice(&body).expect("/stats JSON")
}

/// Connections the server holds open for `transport`.
pub fn open(stats: &Value, transport: Transport) -> u64 {
    stats["transports"][transport.name()]["connections_open"]
        .as_u64()
        .expect("connections_open")
}

/// Asks `/stats` every 50 ms until `check` holds; panics after `within`.
pub async fn wait_for(
    addr: SocketAddr,
    within: Duration,
    what: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let now = stats(addr).await;
        if check(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {within:?}: {now}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Load-generator clients (the loop `pushbench run` uses), measuring.
pub struct Crowd {
    stop: watch::Sender<bool>,
    pub clients: Vec<(Transport, Arc<AtomicU64>, JoinHandle<ClientReport>)>,
    pub recorder: Arc<PhaseRecorder>,
}

impl Crowd {
    /// `per_kind` clients of each of `kinds`, asking for everything after
    /// seq 0, reconnecting for up to `give_up_after` of failures.
    pub fn start(
        addr: SocketAddr,
        kinds: &[Transport],
        per_kind: usize,
        give_up_after: Duration,
    ) -> Crowd {
        Self::start_on(addr, kinds, per_kind, give_up_after, HttpVersion::Http1)
    }

    /// [`Crowd::start`] speaking `http`; over HTTP/2 each kind's clients
    /// share one connection.
    pub fn start_on(
        addr: SocketAddr,
        kinds: &[Transport],
        per_kind: usize,
        give_up_after: Duration,
        http: HttpVersion,
    ) -> Crowd {
        let recorder = Arc::new(PhaseRecorder::default());
        let h2_groups = Arc::new(H2Groups::default());
        recorder.set_measuring(true);
        let (stop, stop_rx) = watch::channel(false);
        let mut clients = Vec::new();
        for &transport in kinds {
            // One server node: every client's spec is this one.
            let spec: Arc<[ClientSpec]> = Arc::from([ClientSpec {
                kind: pushbench_protocol::TargetKind::Pushbench,
                transport,
                server: addr,
                start_cursor: 0,
                schedule: Schedule::for_transport(transport, Duration::from_millis(100)),
                longpoll_timeout_s: 30,
                ws_binary: false,
                clients: kinds.len() * per_kind,
                source_addresses: 0,
                give_up_after,
                headers: pushbench_loadgen::request_headers::RequestProfile::Minimal
                    .headers(transport, addr),
                tls: None,
                keep_alive: true,
                http,
                coding: pushbench_protocol::ContentCoding::Identity,
                h2_streams: match http {
                    HttpVersion::Http1 => 1,
                    HttpVersion::Http2 => per_kind as u32,
                },
                path: pushbench_loadgen::path_sides::PathSides::default(),
            }]);
            for _ in 0..per_kind {
                let progress = Arc::new(AtomicU64::new(0));
                let task = tokio::spawn(run_client(
                    Arc::clone(&spec),
                    clients.len(),
                    Arc::clone(&recorder),
                    Arc::clone(&h2_groups),
                    Arc::clone(&progress),
                    stop_rx.clone(),
                ));
                clients.push((transport, progress, task));
            }
        }
        Crowd {
            stop,
            clients,
            recorder,
        }
    }

    /// Waits until every client has caught up to `seq`.
    pub async fn caught_up(&self, seq: u64, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let behind: Vec<_> = self
                .clients
                .iter()
                .filter(|(_, p, _)| p.load(Ordering::Relaxed) < seq)
                .map(|(t, p, _)| format!("{t} at {}", p.load(Ordering::Relaxed)))
                .collect();
            if behind.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not caught up to {seq} within {within:?}: {behind:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops every client; their reports.
    pub async fn finish(self) -> Vec<(Transport, ClientReport)> {
        let _ = self.stop.send(true);
        let mut reports = Vec::new();
        for (transport, _, task) in self.clients {
            let report = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("client stops within 10 s")
                .expect("client task");
            reports.push((transport, report));
        }
        reports
    }
}

/// Every seq in `1..=last` exactly once, in order, for every client.
pub fn assert_no_loss(reports: &[(Transport, ClientReport)], last: u64) {
    for (transport, report) in reports {
        let t = &report.tracker;
        assert_eq!(t.missed(last), 0, "{transport}: missed events");
        assert_eq!(t.duplicated, 0, "{transport}: duplicated events");
        assert_eq!(t.out_of_order, 0, "{transport}: reordered events");
    }
}

/// Publishes `n` events with `payload` bytes each; the last seq.
pub async fn publish(control: &ControlClient, n: usize, payload: usize) -> u64 {
    let body = vec![b'x'; payload];
    let mut last = 0;
    for _ in 0..n {
        last = control.publish("t0", &body).await.expect("publish");
    }
    last
}
