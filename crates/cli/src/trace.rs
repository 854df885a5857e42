//! `pushbench trace`: one real exchange of one transport, every byte on the
//! wire printed and annotated by class. The teaching view of what the other
//! figures count.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use pushbench_loadgen::path_sides::PathSides;
use pushbench_loadgen::scenario::MAX_PAYLOAD;
use pushbench_loadgen::trace_record::{TraceOptions, TraceServer, record};
use pushbench_protocol::{HeaderProfile, HttpVersion, LinkProfile, TargetKind, Transport};
use pushbench_server::in_process::InProcess;

use crate::flags::whole;
use pushbench_report::trace_render::{TraceHeading, TraceStyle, WireSegment, render_trace};

/// Options of `pushbench trace`.
#[derive(Debug, Parser)]
pub struct Args {
    /// The transport: short-poll, long-poll, stream, sse or ws.
    #[arg(long, short)]
    pub transport: Transport,
    /// A running server (`http://127.0.0.1:8080` or `127.0.0.1:8080`);
    /// without it an embedded server is started and the trace publishes the
    /// events itself.
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,
    /// The kind of server --target is (see `pushbench run --target-kind`);
    /// any but pushbench is published into by the trace, a few events a
    /// second, and spoken to in its own dialect.
    #[arg(
        long,
        value_name = "KIND",
        default_value = "pushbench",
        requires = "target"
    )]
    pub target_kind: TargetKind,
    /// Events to receive before the client leaves.
    #[arg(long, default_value_t = 2, value_parser = whole::<u64>(1, 1_000_000), allow_negative_numbers = true)]
    pub events: u64,
    /// Payload bytes of each event the embedded server publishes.
    #[arg(long, default_value_t = 16, value_parser = whole::<usize>(0, MAX_PAYLOAD), allow_negative_numbers = true)]
    pub payload: usize,
    /// The request header profile: `minimal`, `browser` (Chromium 156's
    /// headers with a 256-byte cookie), `browser:N` (an N-byte cookie) or a
    /// file of `Name: value` lines.
    #[arg(long = "headers", value_name = "PROFILE", default_value = "minimal")]
    pub profile: HeaderProfile,
    /// The embedded server's response header profile: `minimal`, `browser`
    /// or a file (a `--target` answers with its own).
    #[arg(long, value_name = "PROFILE", default_value = "minimal")]
    pub response_headers: HeaderProfile,
    /// An extra request header after the profile's, `Name: value` (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The HTTP version: `1.1`, or `2` (HTTP/2 with prior knowledge, its
    /// frames annotated; WebSocket by extended CONNECT).
    #[arg(long, value_name = "1.1|2", default_value = "1.1")]
    pub http: HttpVersion,
    /// The network path (see `pushbench run --link`): over any but
    /// `loopback` the client sits in a namespace of its own and reaches
    /// the embedded server, or a --target listening on every address
    /// (`pushbench serve --addr 0.0.0.0:PORT`), at the host's end of the link.
    #[arg(long, value_name = "PROFILE", default_value = "loopback", value_parser = crate::link_path::parse_link)]
    pub link: LinkProfile,
    /// Give up if the exchange takes longer than this many seconds.
    #[arg(long, default_value_t = 30, value_parser = whole::<u64>(1, 3_600), allow_negative_numbers = true)]
    pub timeout: u64,
    /// Replace what differs between runs (dates, created_us, the port,
    /// WebSocket keys and masks) with placeholders, for diffing traces.
    #[arg(long)]
    pub redact: bool,
    /// No ANSI colors (they are only used when stdout is a terminal anyway).
    #[arg(long)]
    pub no_color: bool,
}

/// Records the exchange and prints it.
pub fn run(args: Args) -> anyhow::Result<()> {
    let color =
        !args.no_color && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", output(&args, color)?);
    Ok(())
}

/// The trace text of `args` (colored when `color`).
pub fn output(args: &Args, color: bool) -> anyhow::Result<String> {
    // The embedded server is this binary's own, with `serve`'s defaults.
    if let Err(e) = args.target_kind.check(args.transport) {
        anyhow::bail!("--transport: {e}");
    }
    if !args.target_kind.is_pushbench() && args.http == HttpVersion::Http2 {
        anyhow::bail!(
            "--http 2: a {} target is traced over HTTP/1.1",
            args.target_kind
        );
    }
    let server = match args.target.as_deref() {
        Some(url) => TraceServer::Target(parse_target(url)?),
        None => TraceServer::Embedded(Arc::new(InProcess::default())),
    };
    let headers = args
        .headers
        .iter()
        .map(|h| {
            h.split_once(':')
                .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
                .filter(|(n, _)| !n.is_empty())
                .with_context(|| format!("--header {h:?} is not `Name: value`"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let path = match crate::link_path::emulated_path(
        std::slice::from_ref(&args.link),
        crate::link_path::ServerSide::Host,
    )? {
        Some(path) => PathSides::new(path),
        None => PathSides::default(),
    };
    let options = TraceOptions {
        transport: args.transport,
        events: args.events,
        payload: args.payload,
        profile: args.profile.clone(),
        response_profile: args.response_headers.clone(),
        headers,
        timeout: Duration::from_secs(args.timeout),
        http: args.http,
        kind: args.target_kind,
        path,
        ..TraceOptions::new(server)
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let trace = runtime
        .block_on(record(&options))
        .with_context(|| format!("tracing {}", args.transport))?;
    let segments: Vec<WireSegment<'_>> = trace
        .segments
        .iter()
        .map(|s| WireSegment {
            direction: s.direction,
            class: s.class,
            bytes: &s.bytes,
        })
        .collect();
    let heading = TraceHeading {
        transport: trace.transport,
        server: trace.server,
        embedded: trace.embedded,
        delivered: trace.delivered,
        requests: trace.requests,
        http: trace.http,
    };
    Ok(render_trace(
        &heading,
        &segments,
        TraceStyle {
            color,
            redact: args.redact,
        },
    ))
}

fn parse_target(url: &str) -> anyhow::Result<SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("ws://"))
        .unwrap_or(url);
    let authority = rest.split('/').next().unwrap_or(rest);
    authority
        .to_socket_addrs()
        .with_context(|| format!("--target {url:?}: not a host:port"))?
        .next()
        .with_context(|| format!("--target {url:?}: no address"))
}
