//! What a phase varies besides its transport and load: the dimensions of
//! the measurement matrix (HTTP version, TLS, keep-alive, content coding, header
//! profile, network path), and the one place that names a phase's variant. Labels, the
//! summary's and the variant table's columns, comparison keys and chart
//! groups all read [`DIMENSIONS`]: a new dimension is one more entry there.

use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::{ContentCoding, HttpVersion, LinkProfile, RunResult};

use crate::number_format::format_decimal;

/// One dimension of the matrix, as the report shows it.
#[derive(Clone, Copy, Debug)]
pub struct Dimension {
    /// The table column's title (`http`, `tls`, `coding`, `headers`).
    pub column: &'static str,
    /// What it is, in a sentence (`HTTP version`).
    pub noun: &'static str,
    /// The report section's title when it is the only dimension a run
    /// compared (`HTTP/1.1 and HTTP/2`).
    pub section: &'static str,
    /// What comparing it shows, for the variant section.
    pub explanation: &'static str,
    value: fn(&PhaseResult) -> String,
    baseline: fn(&PhaseResult) -> bool,
    rank: fn(&PhaseResult) -> usize,
}

impl Dimension {
    /// The phase's value as labels show it (`h2`, `tls`, `gzip`, `browser`).
    pub fn value(&self, phase: &PhaseResult) -> String {
        (self.value)(phase)
    }

    /// Whether the phase has the value every result had before the
    /// dimension existed (HTTP/1.1, plaintext, identity, minimal headers):
    /// such a value is left out of comparison keys, so older runs still
    /// match, and needs no column in a run that never changes it.
    pub fn is_baseline(&self, phase: &PhaseResult) -> bool {
        (self.baseline)(phase)
    }

    /// Where the phase's value sorts among the dimension's values: the
    /// baseline first, then in the order the protocol lists them.
    pub fn rank(&self, phase: &PhaseResult) -> usize {
        (self.rank)(phase)
    }
}

const HTTP_TEXT: &str = "`h1` is HTTP/1.1, `h2` HTTP/2 (cleartext with prior knowledge, or \
     by ALPN over TLS), a client's requests as streams of one connection. Over HTTP/2 the header \
     classes hold the HPACK output (a repeated header costs an index byte or two), `h2_frames` \
     the 9-byte header of each HEADERS, CONTINUATION and DATA frame, `handshake` the \
     connection preface and the first SETTINGS each way, and the connection's other frames \
     (SETTINGS ACK, WINDOW_UPDATE, PING) are `control` (see docs/methodology.md).";

const TLS_TEXT: &str = "`tls_handshake` is every byte before the client's handshake \
     completed (once per connection, in setup B/conn), `tls_records` each record's header, \
     content type and AEAD tag plus the records that carry no data (session tickets, \
     close_notify); the other classes are the same plaintext as without TLS (see \
     docs/methodology.md).";

const KEEP_ALIVE_TEXT: &str = "`keep-alive` asks again on the same connection (HTTP/1.1's \
     default); `close` sends each poll with `Connection: close` on a new TCP connection, as \
     HTTP/1.0 did, so every poll pays a connect (a round trip before the request) and its \
     request and response heads are setup traffic. Streaming transports hold one connection \
     either way and always show `keep-alive`.";

const CODING_TEXT: &str = "The content coding the clients asked for (`Accept-Encoding`): \
     `identity` sends bodies as they are, `gzip` and `br` compress the response bodies of \
     the HTTP transports (a stream's or an SSE response's one compressed body carries every \
     event, a poll's each response its own). The classes count the bytes as they crossed the \
     socket, compressed; WebSocket frames are not content-coded (see docs/matrix.md).";

const HEADERS_TEXT: &str = "`minimal` is the smallest valid request, `browser` Chromium's \
     headers with a cookie (`browser:N`: of N bytes), a file name its header lines. Polling \
     pays the request and response heads on every exchange; the persistent transports pay \
     them once per connection (setup B/conn), outside the measured window.";

const LINK_TEXT: &str = "The network path between clients and server: `loopback` is the \
     kernel's loopback (no delay, no loss), any other profile an emulated link between \
     network namespaces that delays, rate-limits and drops each IP packet, so TCP reacts as \
     on a real network; a phase's `link` records its parameters and `link_measured` its \
     connect times, retransmissions and the link's drops. Retransmitted bytes are on the \
     wire beside the classes, like `tcp_ip` (see docs/methodology.md).";

/// Where `value` is in `all` (the protocol's order of a dimension's values).
fn index_in<T: PartialEq>(all: &[T], value: &T) -> usize {
    all.iter().position(|v| v == value).unwrap_or(0)
}

/// The dimensions in the order labels name them (`sse h2 tls gzip browser`).
pub const DIMENSIONS: [Dimension; 6] = [
    Dimension {
        column: "http",
        noun: "HTTP version",
        section: "HTTP/1.1 and HTTP/2",
        explanation: HTTP_TEXT,
        value: |p| {
            match p.http {
                HttpVersion::Http1 => "h1",
                HttpVersion::Http2 => "h2",
            }
            .to_owned()
        },
        baseline: |p| p.http == HttpVersion::default(),
        rank: |p| index_in(&HttpVersion::ALL, &p.http),
    },
    Dimension {
        column: "tls",
        noun: "TLS",
        section: "Plaintext and TLS",
        explanation: TLS_TEXT,
        value: |p| if p.tls { "tls" } else { "plain" }.to_owned(),
        baseline: |p| !p.tls,
        rank: |p| usize::from(p.tls),
    },
    Dimension {
        column: "keep_alive",
        noun: "keep-alive",
        section: "Kept and closed connections",
        explanation: KEEP_ALIVE_TEXT,
        value: |p| if p.keep_alive { "keep-alive" } else { "close" }.to_owned(),
        baseline: |p| p.keep_alive,
        rank: |p| usize::from(!p.keep_alive),
    },
    Dimension {
        column: "coding",
        noun: "content coding",
        section: "Content codings",
        explanation: CODING_TEXT,
        value: |p| p.coding.name().to_owned(),
        baseline: |p| p.coding == ContentCoding::default(),
        rank: |p| index_in(&ContentCoding::ALL, &p.coding),
    },
    Dimension {
        column: "headers",
        noun: "header profile",
        section: "Header profiles",
        explanation: HEADERS_TEXT,
        value: |p| p.headers.to_string(),
        baseline: |p| p.headers.is_minimal(),
        rank: |p| match &p.headers {
            pushbench_protocol::HeaderProfile::Minimal => 0,
            pushbench_protocol::HeaderProfile::Browser { .. } => 1,
            pushbench_protocol::HeaderProfile::File(_) => 2,
        },
    },
    Dimension {
        column: "link",
        noun: "network path",
        section: "Network paths",
        explanation: LINK_TEXT,
        value: |p| p.link.label(),
        baseline: |p| p.link.is_loopback(),
        // The named profiles in their order, custom paths after them.
        rank: |p| {
            LinkProfile::NAMES
                .iter()
                .position(|n| p.link.label() == *n)
                .unwrap_or(LinkProfile::NAMES.len())
        },
    },
];

/// A phase's variant: its value in every dimension, in [`DIMENSIONS`]
/// order. Two phases with equal variants differ only in transport and load.
pub fn variant_of(phase: &PhaseResult) -> Vec<String> {
    DIMENSIONS.iter().map(|d| d.value(phase)).collect()
}

/// A key that sorts variants the way the matrix reads: by dimension in
/// [`DIMENSIONS`] order, each from its baseline up, ties by name.
pub fn variant_order(phase: &PhaseResult) -> (Vec<usize>, Vec<String>) {
    (
        DIMENSIONS.iter().map(|d| d.rank(phase)).collect(),
        variant_of(phase),
    )
}

/// The dimensions in which `phases` differ, in [`DIMENSIONS`] order.
pub fn varying<'a>(phases: impl IntoIterator<Item = &'a PhaseResult>) -> Vec<Dimension> {
    let variants: Vec<Vec<String>> = phases.into_iter().map(variant_of).collect();
    DIMENSIONS
        .iter()
        .enumerate()
        .filter(|(i, _)| variants.iter().any(|v| v[*i] != variants[0][*i]))
        .map(|(_, d)| *d)
        .collect()
}

/// The dimensions in which the run's phases differ: the ones its labels
/// name and its variant table has a column for.
pub fn varying_in(result: &RunResult) -> Vec<Dimension> {
    varying(&result.phases)
}

/// The dimensions the whole run held at one value other than the
/// baseline (an all-HTTP/2 run): the summary gives each a column, since
/// no label names them.
pub fn constant_in(result: &RunResult) -> Vec<Dimension> {
    let varying: Vec<&str> = varying_in(result).iter().map(|d| d.column).collect();
    DIMENSIONS
        .into_iter()
        .filter(|d| !varying.contains(&d.column) && result.phases.iter().any(|p| !d.is_baseline(p)))
        .collect()
}

/// The phase's values in `dimensions`, space-separated (`h2 tls gzip
/// browser`); empty for no dimension.
pub fn variant_name(phase: &PhaseResult, dimensions: &[Dimension]) -> String {
    dimensions
        .iter()
        .map(|d| d.value(phase))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The name of a phase's variant within its run: its values in the
/// dimensions the run varied (`h2 tls gzip browser`); empty when the run
/// had one variant.
pub fn variant_label(result: &RunResult, phase: &PhaseResult) -> String {
    variant_name(phase, &varying_in(result))
}

/// A name for a phase that is unique within its run: the transport alone
/// when the run measured it once, else with what tells its phases apart:
/// clients and rate (`ws 50c@20/s`), its variant in the dimensions the run
/// varied (`sse h2 tls gzip browser`), or both (`ws 50c@20/s browser`).
pub fn phase_label(result: &RunResult, phase: &PhaseResult) -> String {
    let siblings: Vec<&PhaseResult> = result
        .phases
        .iter()
        .filter(|p| p.transport == phase.transport)
        .collect();
    let mut label = phase.transport.name().to_owned();
    if siblings.len() <= 1 {
        return label;
    }
    let load_varies = siblings
        .iter()
        .any(|p| p.clients != phase.clients || p.rate != phase.rate);
    if load_varies || varying(siblings.iter().copied()).is_empty() {
        label.push_str(&format!(
            " {}c@{}/s",
            phase.clients,
            format_decimal(phase.rate)
        ));
    }
    let variant = variant_label(result, phase);
    if !variant.is_empty() {
        label.push(' ');
        label.push_str(&variant);
    }
    label
}

/// A key that names the same phase in two runs: transport, clients, rate,
/// and its value in every dimension where it is not the baseline
/// (`ws 20c@20/s h2 tls gzip browser`), so keys of runs from before a
/// dimension existed still match their baseline phases.
pub fn phase_key(phase: &PhaseResult) -> String {
    let mut key = format!(
        "{} {}c@{}/s",
        phase.transport.name(),
        phase.clients,
        format_decimal(phase.rate)
    );
    for dimension in DIMENSIONS.iter().filter(|d| !d.is_baseline(phase)) {
        key.push(' ');
        key.push_str(&dimension.value(phase));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::HeaderProfile;

    /// The SSE phase of the report's fixture, a real run from before
    /// HTTP/2 and content codings.
    fn phase() -> PhaseResult {
        let run: RunResult = serde_json::from_str(include_str!("../tests/fixtures/results.json"))
            .unwrap_or_else(|e| panic!("the fixture: {e}"));
        run.phases[3].clone()
    }

    #[test]
    fn an_old_phase_is_the_baseline_everywhere() {
        let old = phase();
        assert!(DIMENSIONS.iter().all(|d| d.is_baseline(&old)));
        assert_eq!(
            variant_of(&old),
            [
                "h1",
                "plain",
                "keep-alive",
                "identity",
                "minimal",
                "loopback"
            ]
        );
        assert_eq!(phase_key(&old), "sse 20c@20/s");
    }

    #[test]
    fn keys_and_names_carry_every_dimension_in_label_order() {
        let mut p = phase();
        p.http = HttpVersion::Http2;
        p.tls = true;
        p.keep_alive = false;
        p.coding = ContentCoding::Gzip;
        p.headers = HeaderProfile::BROWSER;
        p.link = "3g,loss=1%".parse().expect("link");
        let link = "rtt=300ms,down=1600kbit,up=768kbit,loss=1%,queue=100";
        assert_eq!(
            phase_key(&p),
            format!("sse 20c@20/s h2 tls close gzip browser {link}")
        );
        assert_eq!(
            variant_name(&p, &DIMENSIONS),
            format!("h2 tls close gzip browser {link}")
        );
        let base = phase();
        let both = [base.clone(), p.clone()];
        assert_eq!(varying(&both).len(), 6);
        assert!(variant_order(&base) < variant_order(&p));
    }
}
