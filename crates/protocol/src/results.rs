//! `RunResult`: what one `pushbench run` measured, as written to `results.json`.
//!
//! The JSON shape is a contract with a committed JSON Schema
//! (`schema/results.schema.json`); bump [`RESULTS_VERSION`] on any change that
//! an older reader would misread.

use serde::{Deserialize, Serialize};

use crate::link_measured::{ConnectTimes, LinkMeasured};
pub use crate::server_cost::{LoadGeneratorCost, NodeCost, Outage, ServerCost};
use crate::{
    ContentCoding, HeaderProfile, HttpVersion, LinkProfile, TargetKind, Traffic, Transport,
};

/// The version of the results format written by this build.
pub const RESULTS_VERSION: u32 = 1;

/// One whole run: the scenario, the machine, and one result per phase.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// [`RESULTS_VERSION`] of the writer.
    pub version: u32,
    /// The pushbench version that measured.
    pub pushbench_version: String,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    pub finished_at: String,
    /// False when the run stopped early; `error` then says why.
    pub complete: bool,
    /// Why the run stopped early, if it did.
    pub error: Option<String>,
    /// Where it ran.
    pub machine: Machine,
    /// What was asked for.
    pub scenario: Scenario,
    /// One entry per (transport, clients, rate) phase, in run order.
    pub phases: Vec<PhaseResult>,
    /// The load generator's own control traffic (`/stats`, publishing), kept
    /// apart from every transport's figures.
    pub control_traffic: Traffic,
    /// What publishing the events into a server of another kind
    /// (`scenario.target_kind`) took: the load generator's publish
    /// requests and their answers, every byte `control`, apart from
    /// `control_traffic` and every transport's figures. Absent for
    /// pushbench's own server, whose generator publishes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub publish_traffic: Traffic,
    /// The capacity search that chose the phases (`pushbench capacity`);
    /// absent for a plain run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Capacity>,
    /// The slice of the load this run generated (`run --segment I/N`);
    /// absent for a whole run and in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// This generator's clock against the server's, estimated before the
    /// first phase and applied to every latency; measured by shards only,
    /// absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockEstimate>,
    /// The shards `pushbench merge` added into this result; absent for a
    /// result one generator measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged: Option<Merged>,
}

/// One shard of a run split over several load generators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// Which slice, from 0 (`--segment 0/N` is the first).
    pub index: u32,
    /// Into how many slices the load was split.
    pub count: u32,
    /// When phase 1 started on the server's clock (`--start-at`), RFC 3339
    /// UTC to the microsecond; every phase starts at a fixed slot after it.
    pub start_at: String,
    /// The git commit the generator was built from (`unknown` outside a
    /// git checkout); `merge` refuses shards of different commits.
    pub commit: String,
}

/// An NTP-style estimate of a generator's clock against the server's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockEstimate {
    /// Server clock minus this generator's clock, microseconds, from the
    /// sample with the shortest round trip: `server - (t0 + t3) / 2`.
    pub offset_us: i64,
    /// Half that sample's round trip, microseconds: the offset is exact
    /// within plus or minus this.
    pub uncertainty_us: u64,
    /// `GET /time` exchanges the estimate chose from.
    pub samples: u32,
}

/// What `pushbench merge` added up.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Merged {
    /// The shards, in segment order.
    pub shards: Vec<MergedShard>,
    /// The clock uncertainty above which a shard is flagged, microseconds.
    pub clock_bound_us: u64,
    /// What a reader must not miss (a shard's clock uncertainty over the
    /// bound, figures that could only be bounded); empty when none.
    pub warnings: Vec<String>,
}

/// One shard of a merged result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergedShard {
    /// Its slice.
    pub shard: ShardInfo,
    /// Its clock estimate.
    pub clock: Option<ClockEstimate>,
    /// The host it ran on.
    pub hostname: String,
}

/// A capacity search: per transport, the highest event rate whose phase met
/// every criterion, then phases at fractions of that rate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    /// Clients of every phase of the search.
    pub clients: u32,
    /// One search per transport, in run order.
    pub transports: Vec<TransportCapacity>,
}

/// One transport's capacity search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransportCapacity {
    /// The transport searched.
    pub transport: Transport,
    /// What "sustained" meant: every phase had to satisfy all of these
    /// `--threshold` expressions (and be complete).
    pub criteria: Vec<String>,
    /// Every rate tried, in the order tried.
    pub steps: Vec<CapacityStep>,
    /// The highest sustained rate (events per second published); `None`
    /// when even the lowest rate tried failed.
    pub max_rate: Option<f64>,
    /// Events delivered per second, all clients together, at `max_rate`.
    pub max_delivered_per_second: f64,
    /// Phases at fractions of `max_rate` (e.g. 50 % and 90 %), measured
    /// after the search, for the latency at a known load.
    pub load_points: Vec<LoadPoint>,
}

/// One rate tried by a capacity search.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Events per second published.
    pub rate: f64,
    /// Index of its phase in [`RunResult::phases`].
    pub phase: usize,
    /// Whether the phase met every criterion.
    pub sustained: bool,
    /// The criteria it broke, each with the measured value.
    pub failed: Vec<String>,
}

/// A phase run at a fraction of a transport's highest sustained rate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadPoint {
    /// The fraction of `max_rate`, e.g. 0.5.
    pub fraction: f64,
    /// Events per second published.
    pub rate: f64,
    /// Index of its phase in [`RunResult::phases`].
    pub phase: usize,
}

/// The machine and software a run measured on.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// Host name.
    pub hostname: String,
    /// Operating system and kernel release.
    pub os: String,
    /// CPU model name.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cores: u32,
    /// Physical memory in bytes.
    pub memory_bytes: u64,
    /// The rustc that built pushbench, when known.
    pub rustc: String,
}

/// The scenario of a run: every knob that shapes the load.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Transports to measure, one phase each (per client count and rate).
    pub transports: Vec<Transport>,
    /// Concurrent clients per phase; several values sweep client counts.
    pub clients: Vec<u32>,
    /// Events per second the server publishes; several values sweep rates.
    pub rates: Vec<f64>,
    /// Payload bytes per event.
    pub payload: usize,
    /// Topics the generator spreads events over.
    pub topics: u32,
    /// Events the started server publishes back to back, the groups spaced
    /// `burst / rate` apart so the average rate stays the rate (`serve
    /// --burst`); 1 spaces them evenly. 1 in older results, and left out
    /// when 1.
    #[serde(skip_serializing_if = "is_one")]
    pub burst: u32,
    /// Measured seconds per phase.
    pub duration_s: f64,
    /// Seconds per phase before measuring starts (connections up, caches warm).
    pub warmup_s: f64,
    /// Seconds over which a phase's clients connect.
    pub ramp_up_s: f64,
    /// Milliseconds between short polls; 0 polls back to back (the next
    /// request as soon as an answer ended), for request-rate tests.
    pub poll_interval_ms: u64,
    /// Seconds a long poll is held by the server at most.
    pub longpoll_timeout_s: u64,
    /// WebSocket encoding: text JSON or binary.
    pub ws_binary: bool,
    /// A running server to measure instead of starting one (`http://host:port`).
    pub target: Option<String>,
    /// The certificate (PEM file) a `target` that serves TLS presents
    /// (`serve --tls --tls-cert-out FILE`): the clients of its TLS phases
    /// pin it. Absent in older results and when not given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_cert: Option<String>,
    /// The kind of server the `target` is (`pushbench`, `nchan`,
    /// `pushpin`, `socketio`, `bun`, `node-ws`): which techniques it
    /// offers and the dialect its clients speak. Any kind but `pushbench`
    /// is published into by the load generator at the scenario's rate.
    /// Absent (pushbench) in older results.
    #[serde(default, skip_serializing_if = "is_default")]
    pub target_kind: TargetKind,
    /// Request header profiles, one phase each (per transport, client count
    /// and rate): `minimal`, `browser`, `browser:N` (an N-byte cookie) or a
    /// header file. A scenario file may name one (`headers = "browser"`) or
    /// several. `["minimal"]` in older results.
    #[serde(deserialize_with = "crate::variant::one_or_many")]
    pub headers: Vec<HeaderProfile>,
    /// The response header profile of the server the run starts (`serve
    /// --response-headers`); a `target` server answers with its own.
    pub response_headers: HeaderProfile,
    /// Loopback source addresses the clients are spread over, client `i`
    /// on 127.0.0.(1 + i mod N); 0 (the default) uses the system's choice
    /// until a phase needs more ephemeral ports than one address has.
    /// Ignored for a server that is not on loopback. 0 in older results.
    pub source_addresses: u8,
    /// Plaintext (`false`) or TLS (`true`, https/wss), one phase each (per
    /// transport, client count, rate and header profile). A scenario file
    /// may say `tls = true` or `tls = [false, true]`. `[false]` in older
    /// results, and left out of plaintext ones.
    #[serde(
        deserialize_with = "one_or_many_bools",
        skip_serializing_if = "is_plaintext_only"
    )]
    pub tls: Vec<bool>,
    /// HTTP/1.1 keep-alive of the request/response techniques (short and
    /// long polling), one phase each: `true` asks again on the same
    /// connection; `false` sends every poll with `Connection: close` on a
    /// new TCP connection (HTTP/1.0 style). Streaming techniques hold one
    /// connection either way: they run once, in the first value's
    /// variant, recorded as `true`. A scenario file may say
    /// `keep_alive = false` or `[true, false]`. `[true]` in older results,
    /// and left out when so.
    #[serde(
        deserialize_with = "one_or_many_bools",
        skip_serializing_if = "is_keep_alive_only"
    )]
    pub keep_alive: Vec<bool>,
    /// HTTP versions, one phase each (per transport, client count, rate,
    /// header profile and TLS): `"1.1"`, `"2"` or a list. `["1.1"]` in
    /// older results, and left out of HTTP/1.1-only ones.
    #[serde(
        deserialize_with = "crate::variant::one_or_many",
        skip_serializing_if = "is_http1_only"
    )]
    pub http: Vec<HttpVersion>,
    /// HTTP/2 only: how many clients share one connection, each on its own
    /// stream (1: a connection per client). 1 in older results, and left
    /// out when 1.
    #[serde(skip_serializing_if = "is_one")]
    pub h2_streams: u32,
    /// Content codings of response bodies the clients ask for, one phase
    /// each (the innermost dimension): `"identity"`, `"gzip"`, `"br"` or a
    /// list. `["identity"]` in older results, and left out when so.
    #[serde(
        deserialize_with = "crate::variant::one_or_many",
        skip_serializing_if = "is_identity_only"
    )]
    pub coding: Vec<ContentCoding>,
    /// Network paths, the outermost dimension (every other phase of the
    /// scenario runs on each): a profile name (`"3g"`), `key=value` parts
    /// (`"rtt=40ms,loss=1%"`) or a list. Written as each profile's
    /// `--link` text; `["loopback"]` in older results, and left out when so.
    #[serde(
        deserialize_with = "crate::variant::one_or_many",
        serialize_with = "link_texts",
        skip_serializing_if = "is_loopback_only"
    )]
    pub link: Vec<LinkProfile>,
}

fn is_loopback_only(v: &[LinkProfile]) -> bool {
    matches!(v, [only] if only.is_loopback())
}

/// A scenario's links as the `--link` texts that read back as them.
fn link_texts<S: serde::Serializer>(links: &[LinkProfile], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(links.iter().map(ToString::to_string))
}

fn http1_only() -> Vec<HttpVersion> {
    vec![HttpVersion::Http1]
}

fn is_http1_only(v: &[HttpVersion]) -> bool {
    v == [HttpVersion::Http1]
}

fn identity_only() -> Vec<ContentCoding> {
    vec![ContentCoding::Identity]
}

fn is_identity_only(v: &[ContentCoding]) -> bool {
    v == [ContentCoding::Identity]
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn is_plaintext_only(tls: &[bool]) -> bool {
    tls == [false]
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_true(b: &bool) -> bool {
    *b
}

fn yes() -> bool {
    true
}

fn keep_alive_only() -> Vec<bool> {
    vec![true]
}

fn is_keep_alive_only(v: &[bool]) -> bool {
    v == [true]
}

/// `true`, or `[false, true]`: a scenario file may name one value or sweep.
fn one_or_many_bools<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<bool>, D::Error> {
    struct OneOrMany;
    impl<'de> serde::de::Visitor<'de> for OneOrMany {
        type Value = Vec<bool>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("true, false, or a list of them")
        }

        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
            Ok(vec![b])
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = seq.next_element()? {
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_any(OneOrMany)
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            transports: Transport::ALL.to_vec(),
            clients: vec![50],
            rates: vec![20.0],
            payload: 128,
            topics: 1,
            burst: 1,
            duration_s: 9.0,
            warmup_s: 1.0,
            ramp_up_s: 0.5,
            poll_interval_ms: 250,
            longpoll_timeout_s: 30,
            ws_binary: false,
            target: None,
            target_cert: None,
            target_kind: TargetKind::Pushbench,
            headers: vec![HeaderProfile::Minimal],
            response_headers: HeaderProfile::Minimal,
            source_addresses: 0,
            tls: vec![false],
            keep_alive: keep_alive_only(),
            http: http1_only(),
            h2_streams: 1,
            coding: identity_only(),
            link: vec![LinkProfile::loopback()],
        }
    }
}

/// What one phase (one transport at one client count and rate) measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PhaseResult {
    /// The technique measured.
    pub transport: Transport,
    /// Clients asked for.
    pub clients: u32,
    /// Events per second published: the scenario's rate, or against a
    /// `--target` what the target did (see `rate_source`).
    pub rate: f64,
    /// Where `rate` comes from; `scenario` in older results and left out
    /// when so.
    #[serde(default, skip_serializing_if = "is_default")]
    pub rate_source: RateSource,
    /// The request header profile its clients sent; `minimal` in older results.
    #[serde(default)]
    pub headers: HeaderProfile,
    /// Whether its clients spoke TLS (https, wss); false in older results
    /// and left out of plaintext ones.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls: bool,
    /// Whether its clients kept their connection between polls (HTTP/1.1
    /// keep-alive); `false`: a new TCP connection and `Connection: close`
    /// per request. Always `true` for streaming techniques. `true` in
    /// older results, and left out when so.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub keep_alive: bool,
    /// The HTTP version its clients spoke; `1.1` in older results and left
    /// out of HTTP/1.1 ones.
    #[serde(default, skip_serializing_if = "is_default")]
    pub http: HttpVersion,
    /// The content coding its clients asked for; `identity` in older
    /// results and left out when so.
    #[serde(default, skip_serializing_if = "is_default")]
    pub coding: ContentCoding,
    /// The network path its clients crossed, every parameter; `loopback`
    /// in older results.
    #[serde(default)]
    pub link: LinkProfile,
    /// What the phase measured of that path: connect times,
    /// retransmissions, the link's own counts. Absent in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_measured: Option<LinkMeasured>,
    /// Seconds actually measured.
    pub duration_s: f64,
    /// Connection counts and setup time.
    pub connections: Connections,
    /// Bytes on the wire by class and direction, all clients together.
    pub traffic: Traffic,
    /// Delivery correctness.
    pub events: EventCounts,
    /// Event creation to client receipt, microseconds.
    pub latency_us: LatencySummary,
    /// Figures derived from the above.
    pub derived: Derived,
    /// What the server spent.
    pub server: ServerCost,
    /// What the load generator's own process spent (all its clients).
    /// Zeros in older results.
    #[serde(default)]
    pub load_generator: LoadGeneratorCost,
    /// HdrHistogram V2 log of the latencies, relative to the results file.
    pub histogram_log: Option<String>,
    /// Connection setup traffic, all clients together: each connection's
    /// first request (or WebSocket upgrade) and its response head, whenever
    /// it happened. `traffic` is the measured window only (the steady-state
    /// cost), so for stream, SSE and WebSocket, whose setup happens before
    /// the window, it shows none of this; here it is. Absent in older results.
    #[serde(default)]
    pub setup_traffic: Traffic,
    /// `setup_traffic.total()` divided by connections opened: the handshake
    /// cost one client pays per connection. 0 in older results.
    #[serde(default)]
    pub setup_bytes_per_connection: f64,
    /// True when the phase was cut short (interrupted, or the server died)
    /// and these are the partial measurements up to that moment.
    #[serde(default)]
    pub incomplete: bool,
    /// When the server could not be reached during the phase (a restarted
    /// `--target` server): all zeros when it always answered. Absent in
    /// older results.
    #[serde(default)]
    pub outage: Outage,
    /// How far the load generator's wall clock moved against its
    /// monotonic clock from the phase's start to the end of its window,
    /// µs (positive: the wall clock ran ahead). A latency is the wall
    /// clock at receipt minus the event's wall-clock stamp, and servers
    /// stamp events on a schedule counted from their start on the
    /// monotonic clock, so a clock slewed or stepped during the phase
    /// shifts its latencies by up to this much. Absent in older results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clock_slew_us: Option<i64>,
}

/// A phase whose `clock_slew_us` is past this many µs either way is
/// named in the run's warnings: a phase's p50 is often a few milliseconds.
pub const CLOCK_SLEW_WARN_US: u64 = 1_000;

impl PhaseResult {
    /// The phase's `clock_slew_us` when it is past [`CLOCK_SLEW_WARN_US`]
    /// either way: worth a warning.
    pub fn notable_clock_slew_us(&self) -> Option<i64> {
        self.clock_slew_us
            .filter(|slew| slew.unsigned_abs() > CLOCK_SLEW_WARN_US)
    }
}

/// Where a phase's `rate` comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateSource {
    /// The scenario's rate, which the server the run started published at.
    #[default]
    Scenario,
    /// A `--target`'s own generator rate, as its `/stats` reported it.
    Target,
    /// A `--target` without a generator of its own (events published by
    /// others): the events published in the measured window divided by
    /// its length.
    Measured,
}

impl RateSource {
    /// The name `results.json` uses.
    pub fn name(self) -> &'static str {
        match self {
            RateSource::Scenario => "scenario",
            RateSource::Target => "target",
            RateSource::Measured => "measured",
        }
    }
}

/// Connection counts of a phase.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Connections {
    /// TCP connections opened (a short-poll client may reopen after errors).
    pub opened: u64,
    /// Connection attempts that failed.
    pub failed: u64,
    /// Connections a client opened after its first one (after an error or
    /// an outage). Absent in older results.
    #[serde(default)]
    pub reconnects: u64,
    /// Of `reconnects`, those that went to another server node than the
    /// client's last (`run --target URL1,URL2,...`: its node was down).
    /// Absent with one node.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub moved_reconnects: u64,
    /// TCP connect plus, for WebSocket, the upgrade handshake, microseconds.
    pub setup_us: LatencySummary,
    /// HTTP responses read to their end during the measured window (poll
    /// and long-poll answers; 0 for the persistent transports). 0 in older
    /// results.
    #[serde(default)]
    pub responses: u64,
    /// Clients whose first session opened (connected; for WebSocket,
    /// upgraded). 0 in older results.
    #[serde(default)]
    pub first_sessions: u64,
    /// Microseconds from the phase's start (its clients' first scheduled
    /// connect) until the last of `first_sessions` opened: with a zero
    /// ramp-up, how long the server took to accept them all. 0 in older
    /// results.
    #[serde(default)]
    pub all_connected_us: u64,
}

/// Per-event delivery correctness, summed over clients.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventCounts {
    /// Events the server published during the measured window.
    pub published: u64,
    /// Events received (each client counts its own).
    pub delivered: u64,
    /// Seqs never received that a client should have seen.
    pub missed: u64,
    /// Events received more than once.
    pub duplicated: u64,
    /// Events received after a higher seq.
    pub out_of_order: u64,
    /// Gap markers received (the server's ring no longer held the events).
    pub gaps: u64,
    /// Errors by kind (connection reset, timeout, bad status...).
    pub errors: std::collections::BTreeMap<String, u64>,
}

/// Percentiles of a histogram, in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// Values recorded.
    pub count: u64,
    /// Smallest value.
    pub min: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// 50th percentile.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest value.
    pub max: u64,
    /// (percentile, value) pairs for a percentile distribution chart,
    /// denser toward 100 (HdrHistogram style).
    pub distribution: Vec<(f64, u64)>,
}

/// The connect-time figures [`LinkMeasured`] keeps of a summary.
impl From<LatencySummary> for ConnectTimes {
    fn from(s: LatencySummary) -> Self {
        ConnectTimes {
            count: s.count,
            p50: s.p50,
            p90: s.p90,
            p99: s.p99,
            max: s.max,
        }
    }
}

/// Figures derived from traffic and events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Derived {
    /// All bytes (both directions) per delivered event.
    pub bytes_per_event: f64,
    /// Bytes sent by clients per delivered event.
    pub sent_bytes_per_event: f64,
    /// Bytes received by clients per delivered event.
    pub received_bytes_per_event: f64,
    /// All bytes divided by payload bytes (for content-coded phases the
    /// payload decoded from the coded bodies, [`crate::Traffic::payload`],
    /// so the ratio compares across codings and may be below 1).
    pub overhead_ratio: f64,
    /// Content-coded phases: decoded body bytes per compressed body byte
    /// (`traffic.decoded.total() / traffic.received.compressed`); 0 when
    /// nothing was coded, and absent then and in older results.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub compression_ratio: f64,
    /// Delivered events per second, all clients.
    pub events_per_second: f64,
    /// `connections.responses` per measured second: the request rate of
    /// the polling transports. 0 in older results.
    #[serde(default)]
    pub responses_per_second: f64,
    /// `connections.first_sessions` per second of `all_connected_us`: the
    /// connection ramp the server accepted (meaningful with a zero
    /// ramp-up; otherwise it is the ramp's own pace). 0 in older results.
    #[serde(default)]
    pub connections_per_second: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
