//! The HTTP/2 classifier on real bytes: an exchange between the `h2`
//! crate's client and server over a real loopback TCP socket, recorded on
//! the client's side, classified afterwards with the same [`check`] as the
//! hand-built exchanges (whole and in pieces). The totals must be the
//! recorded byte counts and the events must decode.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::{In, Out, Outcome, check};
use crate::ledger::ByteClass;
use crate::transport::Transport;
use crate::wire::Direction;
use crate::wire::tests::{event, received};

type Log = Arc<Mutex<Vec<(Direction, Vec<u8>)>>>;

/// A socket that records every byte read and written, in order.
struct Recording {
    inner: TcpStream,
    log: Log,
}

impl Recording {
    fn record(&self, direction: Direction, bytes: &[u8]) {
        if !bytes.is_empty() {
            let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
            log.push((direction, bytes.to_vec()));
        }
    }
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.record(Direction::Received, &buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let n = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.record(Direction::Sent, &buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The canned answer for `path`: content type and body chunks.
fn answer(path: &str) -> (&'static str, Vec<String>) {
    match path {
        "/sse" => {
            let mut chunks = vec![": keep-alive\n\n".to_owned()];
            for seq in 1..=3 {
                let block = format!("id: {seq}\ndata: {}\n\n", event(seq).to_json());
                // Each block in two DATA frames, cut inside the payload.
                let (a, b) = block.split_at(block.len() / 2);
                chunks.push(a.to_owned());
                chunks.push(b.to_owned());
            }
            ("text/event-stream", chunks)
        }
        "/poll/full" => {
            let body = format!(
                r#"{{"events":[{},{}],"next":3,"gap":null}}"#,
                event(1).to_json(),
                event(2).to_json()
            );
            ("application/json", vec![body])
        }
        _ => (
            "application/json",
            vec![r#"{"events":[],"next":3,"gap":null}"#.to_owned()],
        ),
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

async fn serve(listener: TcpListener) -> Result<(), BoxError> {
    let (tcp, _) = listener.accept().await?;
    let mut conn = h2::server::handshake(tcp).await?;
    while let Some(request) = conn.accept().await {
        let (request, mut respond) = request?;
        let (content_type, chunks) = answer(request.uri().path());
        let response = http::Response::builder()
            .status(200)
            .header("content-type", content_type)
            .header("cache-control", "no-store")
            .body(())?;
        let mut send = respond.send_response(response, false)?;
        for chunk in chunks {
            send.send_data(Bytes::from(chunk), false)?;
        }
        // The analog of the last chunk: an empty END_STREAM DATA frame.
        send.send_data(Bytes::new(), true)?;
    }
    Ok(())
}

/// Runs one connection with a GET per path, concurrently; returns the
/// recorded bytes and the bodies.
async fn exchange(paths: &[&str]) -> (Vec<(Direction, Vec<u8>)>, Vec<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(serve(listener));
    let log = Log::default();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let socket = Recording {
        inner: tcp,
        log: log.clone(),
    };
    let (client, conn) = h2::client::handshake(socket).await.expect("handshake");
    let driver = tokio::spawn(conn);
    let mut responses = Vec::new();
    for path in paths {
        let mut client = client.clone().ready().await.expect("ready");
        let request = http::Request::get(format!("http://127.0.0.1{path}"))
            .header("accept", "*/*")
            .body(())
            .expect("request");
        let (response, _) = client.send_request(request, true).expect("send");
        responses.push(response);
    }
    let mut bodies = Vec::new();
    for response in responses {
        let response = response.await.expect("response");
        assert_eq!(response.status(), 200);
        let mut body = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("data");
            let _ = body.flow_control().release_capacity(chunk.len());
            bytes.extend_from_slice(&chunk);
        }
        bodies.push(bytes);
    }
    drop(client);
    driver.await.expect("join").expect("client connection");
    server.await.expect("join").expect("server");
    let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    (log, bodies)
}

/// Every response ended once, with status 200, and nothing was malformed.
fn assert_ends(got: &Outcome, streams: usize) {
    let ends: Vec<_> = got.ends.values().flatten().collect();
    assert_eq!(ends.len(), streams);
    assert!(ends.iter().all(|(status, _)| *status == 200), "{ends:?}");
    assert_eq!(got.malformed, 0);
}

/// The streams the client opened (stream 0 is the connection's own).
fn streams(got: &Outcome) -> Vec<u32> {
    got.segments.keys().copied().filter(|&id| id != 0).collect()
}

#[tokio::test]
async fn real_h2_sse_streams_classify_to_the_recorded_counts() {
    let (log, bodies) = exchange(&["/sse", "/sse"]).await;
    // `check` also proves every byte fed was booked once, in each direction.
    let got = check(Transport::Sse, &log);
    assert_ends(&got, 2);
    // The preface and both first SETTINGS; HPACK blocks; frame headers.
    assert!(got.ledger(Out).get(ByteClass::Handshake) >= 24 + 9);
    assert!(got.ledger(In).get(ByteClass::Handshake) >= 9);
    assert!(got.ledger(Out).get(ByteClass::RequestHeaders) > 0);
    assert!(got.ledger(In).get(ByteClass::ResponseHeaders) > 0);
    let payload_per_stream: u64 = (1..=3).map(|s| event(s).payload.len() as u64).sum();
    let ids = streams(&got);
    assert_eq!(ids.len(), 2);
    for id in ids {
        assert_eq!(
            got.messages.get(&id),
            Some(&vec![received(1), received(2), received(3)]),
            "stream {id}"
        );
        assert_eq!(got.on(id, In, ByteClass::Payload), payload_per_stream);
        // HEADERS, 7 DATA frames, the empty END_STREAM one is control.
        assert_eq!(got.on(id, In, ByteClass::H2Frames), 9 * 8, "stream {id}");
        assert_eq!(
            got.on(id, In, ByteClass::Control),
            (": keep-alive\n\n".len() + 9) as u64
        );
    }
    for body in &bodies {
        assert_eq!(body, answer("/sse").1.concat().as_bytes());
    }
}

#[tokio::test]
async fn real_h2_polls_empty_one_control_full_one_split() {
    let (log, _) = exchange(&["/poll/full", "/poll/empty"]).await;
    let got = check(Transport::ShortPoll, &log);
    assert_ends(&got, 2);
    assert_eq!(streams(&got), vec![1, 3]);
    // Stream 1 asked for /poll/full, stream 3 for /poll/empty.
    assert_eq!(got.messages.get(&1), Some(&vec![received(1), received(2)]));
    let payload = (event(1).payload.len() + event(2).payload.len()) as u64;
    assert_eq!(got.on(1, In, ByteClass::Payload), payload);
    assert!(got.on(1, In, ByteClass::ResponseHeaders) > 0);
    assert!(got.messages.get(&3).is_none_or(Vec::is_empty));
    let empty: u64 = ByteClass::ALL.iter().map(|&c| got.on(3, In, c)).sum();
    assert!(empty > 0);
    assert_eq!(got.on(3, In, ByteClass::Control), empty);
    assert_eq!(got.ledger(In).get(ByteClass::Payload), payload);
}
