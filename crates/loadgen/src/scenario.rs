//! Scenario files (TOML) and scenario validation.
//!
//! A file holds any subset of [`Scenario`]'s fields; the rest keep their
//! defaults. An unknown key is an error that names it.

use std::path::Path;

use pushbench_protocol::{ContentCoding, HttpVersion, Scenario, Transport};

use crate::{Error, Result};

/// Reads a TOML scenario file.
pub fn load(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::ScenarioFile {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    parse(&text).map_err(|message| Error::ScenarioFile {
        path: path.display().to_string(),
        message,
    })
}

/// Parses TOML scenario text.
pub fn parse(text: &str) -> Result<Scenario, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim().to_owned())
}

/// Most events per second a scenario may ask for (`pushbench serve --rate`
/// accepts no more).
pub const MAX_RATE: f64 = 1_000_000.0;
/// Largest payload a scenario may ask for (`pushbench serve --payload`
/// accepts no more).
pub const MAX_PAYLOAD: u64 = 16 * 1024 * 1024;
/// Largest burst (`pushbench serve --burst` accepts no more): a burst fits
/// the server's live queue (1,024 events by default) and one poll answer
/// (1,000 events), so a burst alone never makes a slow consumer or a
/// second poll.
pub const MAX_BURST: u64 = 1_000;
/// Most topics (`pushbench serve --topics` accepts no more).
pub const MAX_TOPICS: u64 = 1_000_000;
/// Longest pause between short polls: an hour (0 polls back to back).
pub const MAX_POLL_INTERVAL_MS: u64 = 3_600_000;
/// Longest phase, warm-up or ramp-up: a day.
pub const MAX_SECONDS: f64 = 86_400.0;

/// Longest long-poll hold a scenario may ask for: what `pushbench serve`
/// allows, so a client never asks for a hold the server refuses.
pub fn max_longpoll_timeout_s() -> u64 {
    pushbench_protocol::transport::LONGPOLL_MAX_TIMEOUT_S
}

/// Whether a phase of `transport` at `coding` is measured: WebSocket
/// messages are never content-coded (permessage-deflate cannot be had on
/// this stack, see `docs/methodology.md`), so a sweep over codings
/// measures WebSocket at identity only, rather than label uncoded frames
/// `gzip`.
pub fn coding_applies(transport: Transport, coding: ContentCoding) -> bool {
    transport != Transport::Ws || coding == ContentCoding::Identity
}

/// Whether a phase of `transport` runs in the variant with `keep_alive`:
/// short and long polling run in each (a request per connection when
/// false); streaming techniques hold one connection whatever the setting,
/// so they run once, in the variant of the scenario's first value, and
/// record `keep_alive: true` ([`phase_keep_alive`]).
pub fn keep_alive_applies(s: &Scenario, transport: Transport, keep_alive: bool) -> bool {
    !transport.is_persistent() || s.keep_alive.first() == Some(&keep_alive)
}

/// The keep-alive a phase of `transport` records when run in the variant
/// with `keep_alive`: that, for the request/response techniques; `true`
/// for streaming ones, whose one connection is always kept.
pub fn phase_keep_alive(transport: Transport, keep_alive: bool) -> bool {
    keep_alive || transport.is_persistent()
}

/// Clients per connection of a phase that speaks `http`: the scenario's
/// `h2_streams` over HTTP/2, 1 over HTTP/1.1.
pub fn h2_streams(s: &Scenario, http: HttpVersion) -> u32 {
    match http {
        HttpVersion::Http1 => 1,
        HttpVersion::Http2 => s.h2_streams.max(1),
    }
}

/// Checks that a scenario can run; the message names the key, what is
/// allowed and what it got.
pub fn validate(s: &Scenario) -> Result<()> {
    let bad = |key: &str, allowed: &str, got: &dyn std::fmt::Debug| {
        Err(Error::Scenario(format!("{key}: {allowed}, got {got:?}")))
    };
    if s.transports.is_empty() {
        return bad(
            "transports",
            "at least one transport is needed",
            &s.transports,
        );
    }
    if s.clients.is_empty() || s.clients.contains(&0) {
        return bad(
            "clients",
            "every client count must be at least 1",
            &s.clients,
        );
    }
    if s.rates.is_empty()
        || s.rates
            .iter()
            .any(|r| !r.is_finite() || !(0.0..=MAX_RATE).contains(r))
    {
        return bad(
            "rates",
            &format!("every rate must be from 0 to {MAX_RATE} events per second"),
            &s.rates,
        );
    }
    if s.payload as u64 > MAX_PAYLOAD {
        return bad(
            "payload",
            &format!("must be at most {MAX_PAYLOAD} bytes"),
            &s.payload,
        );
    }
    if !(1..=MAX_TOPICS).contains(&u64::from(s.topics)) {
        return bad(
            "topics",
            &format!("must be from 1 to {MAX_TOPICS}"),
            &s.topics,
        );
    }
    if !(1..=MAX_BURST).contains(&u64::from(s.burst)) {
        return bad(
            "burst",
            &format!("events published back to back must be from 1 to {MAX_BURST}"),
            &s.burst,
        );
    }
    if s.burst != 1 && s.target.is_some() {
        return bad(
            "burst",
            "shapes the started server's generator; a `target` publishes in its own shape \
             (start it with `pushbench serve --burst N`)",
            &s.burst,
        );
    }
    if s.source_addresses > 254 {
        return bad(
            "source_addresses",
            "must be from 0 (the system's choice) to 254 (127.0.0.1 to 127.0.0.254)",
            &s.source_addresses,
        );
    }
    for (key, v) in [("warmup_s", s.warmup_s), ("ramp_up_s", s.ramp_up_s)] {
        if !v.is_finite() || !(0.0..=MAX_SECONDS).contains(&v) {
            return bad(key, &format!("must be from 0 to {MAX_SECONDS} seconds"), &v);
        }
    }
    if !s.duration_s.is_finite() || s.duration_s <= 0.0 || s.duration_s > MAX_SECONDS {
        return bad(
            "duration_s",
            &format!(
                "the measured window must be greater than 0 and at most {MAX_SECONDS} seconds"
            ),
            &s.duration_s,
        );
    }
    if s.poll_interval_ms > MAX_POLL_INTERVAL_MS {
        return bad(
            "poll_interval_ms",
            &format!("must be from 0 (back to back) to {MAX_POLL_INTERVAL_MS} (an hour)"),
            &s.poll_interval_ms,
        );
    }
    let max_hold = max_longpoll_timeout_s();
    if !(1..=max_hold).contains(&s.longpoll_timeout_s) {
        return bad(
            "longpoll_timeout_s",
            &format!("must be from 1 to {max_hold} seconds (the server's longest hold)"),
            &s.longpoll_timeout_s,
        );
    }
    if let Some(list) = &s.target {
        crate::target::parse_targets(list)?;
    }
    if s.headers.is_empty() {
        return bad(
            "headers",
            "at least one header profile is needed",
            &s.headers,
        );
    }
    if s.tls.is_empty() {
        return bad("tls", "say false, true or [false, true]", &s.tls);
    }
    if s.keep_alive.is_empty() || (s.keep_alive.len() > 1 && s.keep_alive[0] == s.keep_alive[1]) {
        return bad(
            "keep_alive",
            "say true, false or [true, false], each once",
            &s.keep_alive,
        );
    }
    if s.keep_alive.contains(&false) && s.http.contains(&HttpVersion::Http2) {
        return bad(
            "keep_alive",
            "false (a new connection per poll, `Connection: close`) is HTTP/1.1 only; \
             HTTP/2 forbids the Connection header and multiplexes one connection, \
             so run it with http = \"1.1\"",
            &s.keep_alive,
        );
    }
    if s.coding.is_empty() {
        return bad(
            "coding",
            "say \"identity\", \"gzip\", \"br\" or a list",
            &s.coding,
        );
    }
    let measured = s
        .coding
        .iter()
        .any(|&c| s.transports.iter().any(|&t| coding_applies(t, c)));
    if !measured {
        return bad(
            "coding",
            "WebSocket frames are never content-coded (no permessage-deflate on this stack), \
             so ws alone needs \"identity\" among the codings",
            &s.coding,
        );
    }
    if s.target.is_some() && s.tls.contains(&true) && s.target_cert.is_none() {
        // The clients pin the server's certificate: the run's own server's,
        // or the one a `target` wrote out.
        return bad(
            "tls",
            "TLS phases against a `target` need its certificate (`target_cert`, --target-cert)",
            &s.tls,
        );
    }
    if s.http.is_empty() || (1..s.http.len()).any(|i| s.http[..i].contains(&s.http[i])) {
        return bad(
            "http",
            "say \"1.1\", \"2\" or [\"1.1\", \"2\"], each version once",
            &names(&s.http),
        );
    }
    let max_streams = crate::h2_client::MAX_H2_STREAMS;
    if !(1..=max_streams).contains(&s.h2_streams) {
        return bad(
            "h2_streams",
            &format!("clients per HTTP/2 connection must be from 1 to {max_streams}"),
            &s.h2_streams,
        );
    }
    if s.h2_streams > 1 && !s.http.contains(&HttpVersion::Http2) {
        return bad(
            "h2_streams",
            "more than 1 client per connection needs HTTP/2 (`http = \"2\"`); \
             over HTTP/1.1 a connection carries one client",
            &s.h2_streams,
        );
    }
    let labels: Vec<String> = s.link.iter().map(|l| l.label()).collect();
    if labels.is_empty() || (1..labels.len()).any(|i| labels[..i].contains(&labels[i])) {
        return bad(
            "link",
            "say a profile (\"loopback\", \"3g\", \"rtt=40ms,loss=1%\") or a list, each once",
            &labels,
        );
    }
    if !s.target_kind.is_pushbench() {
        if s.target.is_none() {
            return bad(
                "target_kind",
                "names the kind of a running `target` (--target URL); the run starts only \
                 pushbench's own server",
                &s.target_kind.name(),
            );
        }
        if let Some(list) = s
            .target
            .as_deref()
            .filter(|l| crate::target::node_count(l) > 1)
        {
            return bad(
                "target",
                &format!(
                    "a list of nodes is for pushbench servers sharing one stream \
                     (`serve --cluster`); a {} target is one URL",
                    s.target_kind
                ),
                &list,
            );
        }
        for &t in &s.transports {
            if let Err(e) = s.target_kind.check(t) {
                return bad("transports", &e.to_string(), &t.name());
            }
        }
        if s.tls.contains(&true) || s.http.contains(&HttpVersion::Http2) {
            return bad(
                "target_kind",
                "other kinds of server are measured over plaintext HTTP/1.1 \
                 (tls = false, http = \"1.1\")",
                &s.target_kind.name(),
            );
        }
    }
    if s.target_cert.is_some() && s.target.is_none() {
        return bad(
            "target_cert",
            "is the certificate of a `target`; the run's own server makes its own",
            &s.target_cert,
        );
    }
    Ok(())
}

/// The versions' names, for a message.
fn names(versions: &[HttpVersion]) -> Vec<&'static str> {
    versions.iter().map(|v| v.name()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::Transport;

    #[test]
    fn another_kind_needs_a_target_plaintext_http1_and_techniques_it_offers() {
        let kind = |transports: &str, extra: &str| {
            parse(&format!(
                "target_kind = \"socketio\"\ntransports = {transports}\n{extra}"
            ))
            .map_err(|e| e.to_string())
            .and_then(|s| validate(&s).map_err(|e| e.to_string()))
        };
        let target = "target = \"http://127.0.0.1:9\"\n";
        assert!(kind("[\"ws\", \"long-poll\"]", target).is_ok());
        let err = kind("[\"ws\"]", "").expect_err("no target");
        assert!(
            err.contains("target_kind") && err.contains("--target"),
            "{err}"
        );
        let err = kind("[\"ws\", \"sse\"]", target).expect_err("no SSE");
        assert!(err.contains("socketio does not offer sse"), "{err}");
        let err = kind(
            "[\"ws\"]",
            &format!("{target}tls = true\ntarget_cert = \"c.pem\"\n"),
        )
        .expect_err("TLS");
        assert!(err.contains("plaintext HTTP/1.1"), "{err}");
        let err = parse("target_kind = \"socket.io\"\n").expect_err("unknown kind");
        assert!(err.contains("socket.io"), "{err}");
    }

    #[test]
    fn files_override_defaults_and_unknown_keys_are_named() {
        let s = parse("transports = [\"ws\", \"sse\"]\nclients = [10, 100]\nduration_s = 2.5\n")
            .expect("parse");
        assert_eq!(s.transports, vec![Transport::Ws, Transport::Sse]);
        assert_eq!(s.clients, vec![10, 100]);
        assert_eq!(s.payload, Scenario::default().payload);
        let err = parse("clientz = [1]\n").expect_err("unknown key");
        assert!(err.contains("clientz"), "{err}");
        let s = parse("headers = \"browser:0\"\n").expect("one profile");
        assert_eq!(
            s.headers,
            vec![pushbench_protocol::HeaderProfile::Browser { cookie_bytes: 0 }]
        );
        let s = parse("headers = [\"minimal\", \"browser\"]\n").expect("a sweep");
        assert_eq!(s.headers.len(), 2);
        let err = parse("headers = \"browser:x\"\n").expect_err("bad cookie size");
        assert!(err.contains("browser:x"), "{err}");
        assert_eq!(parse("tls = true\n").expect("one").tls, vec![true]);
        assert_eq!(
            parse("tls = [false, true]\n").expect("a sweep").tls,
            vec![false, true]
        );
        let err = parse("transports = [\"websocket\"]\n").expect_err("unknown transport");
        assert!(err.contains("websocket"), "{err}");
    }

    #[test]
    fn link_names_one_path_or_sweeps_them() {
        use pushbench_protocol::LinkProfile;
        assert_eq!(
            parse("").expect("default").link,
            vec![LinkProfile::loopback()]
        );
        let s = parse("link = \"3g\"\n").expect("one");
        assert_eq!(s.link, [LinkProfile::named("3g").expect("3g")]);
        let s = parse("link = [\"loopback\", \"rtt=40ms,loss=1%\"]\n").expect("a sweep");
        assert_eq!(s.link.len(), 2);
        assert_eq!(
            (s.link[1].rtt_us, s.link[1].name.as_str()),
            (40_000, "custom")
        );
        assert!(validate(&s).is_ok());
        // Written as the texts that read back.
        let json = serde_json::to_value(&s).expect("json");
        assert_eq!(json["link"][1], "rtt=40ms,loss=1%,queue=1000");
        let back: Scenario = serde_json::from_value(json).expect("back");
        assert_eq!(back.link, s.link);
        // A loopback-only scenario reads as it always did.
        let json = serde_json::to_value(Scenario::default()).expect("json");
        assert!(json.get("link").is_none());
    }

    /// Scenario text with one bad key, and the key its message must name.
    const BAD_SCENARIOS: &[(&str, &str)] = &[
        ("clientz = [1]", "clientz"),
        ("clients = [", "clients"),
        ("clients = 5", "clients"),
        ("clients = [-1]", "clients"),
        ("clients = [0]", "clients"),
        ("clients = []", "clients"),
        ("clients = [4294967296]", "clients"),
        ("transports = [\"websocket\"]", "websocket"),
        ("transports = []", "transports"),
        ("transports = \"ws\"", "transports"),
        ("rates = [-1.0]", "rates"),
        ("rates = [nan]", "rates"),
        ("rates = [inf]", "rates"),
        ("rates = [2e6]", "rates"),
        ("rates = []", "rates"),
        ("rates = [\"fast\"]", "rates"),
        ("payload = -1", "payload"),
        ("payload = 1.5", "payload"),
        ("payload = 20000000", "payload"),
        ("topics = 0", "topics"),
        ("topics = 2000000", "topics"),
        ("burst = 0", "burst"),
        ("burst = 1001", "burst"),
        ("burst = 5\ntarget = \"http://127.0.0.1:8080/\"", "burst"),
        ("duration_s = 0.0", "duration_s"),
        ("duration_s = -1.0", "duration_s"),
        ("duration_s = nan", "duration_s"),
        ("duration_s = 100000.0", "duration_s"),
        ("duration_s = \"9s\"", "duration_s"),
        ("warmup_s = -1.0", "warmup_s"),
        ("ramp_up_s = inf", "ramp_up_s"),
        ("poll_interval_ms = 3600001", "poll_interval_ms"),
        ("poll_interval_ms = -5", "poll_interval_ms"),
        ("longpoll_timeout_s = 0", "longpoll_timeout_s"),
        ("longpoll_timeout_s = 301", "longpoll_timeout_s"),
        ("ws_binary = \"yes\"", "ws_binary"),
        ("source_addresses = 255", "source_addresses"),
        ("source_addresses = -1", "source_addresses"),
        ("target = \"ftp://x\"", "target"),
        ("target = \"http://127.0.0.1:8080/stats\"", "target"),
        ("target = 5", "target"),
        (
            "target = \"http://127.0.0.1:1,http://127.0.0.1:2\"\ntarget_kind = \"nchan\"",
            "a nchan target is one URL",
        ),
        (
            "target = \"http://127.0.0.1:1,https://127.0.0.1:2\"",
            "same scheme",
        ),
        ("tls = \"yes\"", "tls"),
        ("tls = []", "tls"),
        ("http = \"3\"", "http"),
        ("http = []", "http"),
        ("http = [\"2\", \"2\"]", "http"),
        ("h2_streams = 0", "h2_streams"),
        ("h2_streams = 101\nhttp = \"2\"", "h2_streams"),
        ("h2_streams = 5", "h2_streams"),
        ("h2_streams = 5\nhttp = \"1.1\"", "h2_streams"),
        ("coding = []", "coding"),
        ("coding = \"zstd\"", "zstd"),
        ("coding = [\"gzip\", \"deflate\"]", "deflate"),
        ("coding = 1", "coding"),
        ("transports = [\"ws\"]\ncoding = \"br\"", "coding"),
        ("link = []", "link"),
        ("link = \"wifi\"", "wifi"),
        ("link = [\"3g\", \"rtt=10ms,down=fast\"]", "down=fast"),
        ("link = [\"3g\", \"3g\"]", "link"),
        ("link = 5", "link"),
    ];

    #[test]
    fn every_bad_key_is_refused_naming_it() {
        for (text, key) in BAD_SCENARIOS {
            let message = match parse(text) {
                Err(message) => message,
                Ok(s) => match validate(&s) {
                    Err(err) => err.to_string(),
                    Ok(()) => panic!("{text}: accepted"),
                },
            };
            assert!(message.contains(key), "{text}: {message}");
            // One line per case: a two-key case's keys joined with "; ".
            let case = text.replace('\n', "; ");
            crate::reliability("input/scenario", &case, "refused, names the key");
        }
    }

    #[test]
    fn values_at_the_limits_are_accepted() {
        let text = format!(
            "rates = [0.0, {MAX_RATE}]\npayload = {MAX_PAYLOAD}\ntopics = {MAX_TOPICS}\n\
             burst = 1\n\
             duration_s = {MAX_SECONDS}\nwarmup_s = 0.0\nlongpoll_timeout_s = {}\n\
             target = \"http://127.0.0.1:8080/\"\n",
            max_longpoll_timeout_s()
        );
        let s = parse(&text).expect("parse");
        assert!(validate(&s).is_ok(), "{text}");
        let s = parse(&format!(
            "http = [\"1.1\", \"2\"]\nh2_streams = {}\ntarget = \"http://127.0.0.1:8080/\"\n",
            crate::h2_client::MAX_H2_STREAMS
        ))
        .expect("parse");
        assert!(validate(&s).is_ok(), "{s:?}");
        let s = parse(&format!("burst = {MAX_BURST}\n")).expect("parse");
        assert!(validate(&s).is_ok(), "{s:?}");
    }

    #[test]
    fn validation_names_the_field() {
        assert!(validate(&Scenario::default()).is_ok());
        let s = Scenario {
            clients: vec![0],
            ..Scenario::default()
        };
        assert!(validate(&s).is_err_and(|e| e.to_string().contains("clients")));
        let s = Scenario {
            duration_s: f64::NAN,
            ..Scenario::default()
        };
        assert!(validate(&s).is_err_and(|e| e.to_string().contains("duration_s")));
        let s = Scenario {
            headers: Vec::new(),
            ..Scenario::default()
        };
        assert!(validate(&s).is_err_and(|e| e.to_string().contains("headers")));
        let s = Scenario {
            tls: vec![true],
            target: Some("http://127.0.0.1:8080".into()),
            ..Scenario::default()
        };
        assert!(validate(&s).is_err_and(|e| e.to_string().contains("tls")));
        crate::reliability(
            "input/scenario",
            "tls = true with a target (no certificate to pin)",
            "refused, names the key",
        );
        let pinned = Scenario {
            target_cert: Some("cert.pem".into()),
            ..s
        };
        assert!(validate(&pinned).is_ok());
        let s = Scenario {
            target_cert: Some("cert.pem".into()),
            ..Scenario::default()
        };
        assert!(validate(&s).is_err_and(|e| e.to_string().contains("target_cert")));
        crate::reliability(
            "input/scenario",
            "target_cert without a target",
            "refused, names the key",
        );
        for keep_alive in [vec![], vec![false, false, true]] {
            let s = Scenario {
                keep_alive,
                ..Scenario::default()
            };
            assert!(validate(&s).is_err_and(|e| e.to_string().contains("keep_alive")));
        }
        let s = Scenario {
            keep_alive: vec![false],
            http: vec![HttpVersion::Http2],
            ..Scenario::default()
        };
        let err = validate(&s).expect_err("h2 without keep-alive");
        assert!(err.to_string().contains("HTTP/1.1 only"), "{err}");
    }

    #[test]
    fn streaming_runs_once_per_keep_alive_sweep() {
        let s = Scenario {
            keep_alive: vec![false, true],
            ..Scenario::default()
        };
        assert!(validate(&s).is_ok());
        assert_eq!(
            parse("keep_alive = false\n").expect("one").keep_alive,
            vec![false]
        );
        for (transport, runs) in [
            (Transport::LongPoll, [true, true]),
            (Transport::ShortPoll, [true, true]),
            (Transport::Ws, [true, false]),
            (Transport::Sse, [true, false]),
        ] {
            assert_eq!(
                [false, true].map(|k| keep_alive_applies(&s, transport, k)),
                runs,
                "{transport}"
            );
        }
        assert!(!phase_keep_alive(Transport::LongPoll, false));
        assert!(phase_keep_alive(Transport::Ws, false));
    }
}
