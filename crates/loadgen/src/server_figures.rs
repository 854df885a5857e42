//! The plain functions behind `pushbench servers` ([`crate::server_runs`]):
//! the order the servers run in, the common load's rate, and each
//! server's figures and the ratios of `pushbench serve` against the others,
//! all from the phases' results; and the method text that says how.

use pushbench_protocol::peer_results::{PeerComparison, median};
use pushbench_protocol::results::PhaseResult;
use pushbench_protocol::server_results::{
    CapacityFigure, CommonLoad, PublisherCeiling, ServersSettings, TechniqueResult,
};
use pushbench_protocol::{ByteClass, ByteLedger, TargetKind, Traffic, Transport};

use crate::capacity_search::{SearchPolicy, sustained};
use crate::peer_runs::comparison;
use crate::runner::RunOutcome;

/// Warm-up seconds before every phase's window.
pub const WARMUP_S: f64 = 1.0;

/// Ramp-up seconds of every phase: the clients connect over it.
pub const RAMP_UP_S: f64 = 0.5;

/// The common load's rate when neither `--rate` nor a capacity search
/// chose one (`--no-capacity`), events per second: low enough for any
/// server here to hold with a few hundred clients.
pub const DEFAULT_COMMON_RATE: f64 = 50.0;

/// The common load, as a fraction of the lowest highest-sustained rate of
/// a technique's servers: under every server's limit, near enough to it
/// to show how each behaves when busy.
pub const COMMON_FRACTION: f64 = 0.9;

/// The servers that offer `transport`, in the order their capacity is
/// searched: `servers` (pushbench's own first) rotated left by the
/// technique's index among those run, so each server in turn runs first.
pub fn capacity_order(
    servers: &[TargetKind],
    transport: Transport,
    index: usize,
) -> Vec<TargetKind> {
    let mut offering: Vec<TargetKind> = servers
        .iter()
        .copied()
        .filter(|k| k.offers_transport(transport))
        .collect();
    if !offering.is_empty() {
        let n = offering.len();
        offering.rotate_left(index % n);
    }
    offering
}

/// The order of common-load round `round` (from 0): the capacity order
/// reversed (the server searched last, on the warmest machine, goes first),
/// rotated left by the round.
pub fn common_order(capacity_order: &[TargetKind], round: u32) -> Vec<TargetKind> {
    let mut order: Vec<TargetKind> = capacity_order.iter().rev().copied().collect();
    if !order.is_empty() {
        let n = order.len();
        order.rotate_left(round as usize % n);
    }
    order
}

/// The common load's rate and where it came from: `asked`, else
/// [`COMMON_FRACTION`] of the lowest highest-sustained rate in `sustained`
/// (rounded, at least 1), else [`DEFAULT_COMMON_RATE`] when no search ran;
/// `None` when searches ran and none sustained anything.
pub fn common_rate(asked: Option<f64>, searched: bool, sustained: &[f64]) -> (Option<f64>, String) {
    if let Some(rate) = asked {
        return (Some(rate), "--rate".to_owned());
    }
    if !searched {
        return (
            Some(DEFAULT_COMMON_RATE),
            "the default without capacity searches".to_owned(),
        );
    }
    match sustained.iter().copied().min_by(f64::total_cmp) {
        Some(lowest) => (
            Some((lowest * COMMON_FRACTION).max(1.0).round()),
            format!(
                "{:.0} % of the lowest highest-sustained rate ({lowest} ev/s)",
                COMMON_FRACTION * 100.0
            ),
        ),
        None => (None, "no server sustained any rate".to_owned()),
    }
}

/// The capacity figure of a search's result (`run` is its folder).
pub fn capacity_figure(
    outcome: &RunOutcome,
    run: &str,
    ceiling: Option<&PublisherCeiling>,
) -> Option<CapacityFigure> {
    let searched = outcome.result.capacity.as_ref()?.transports.first()?;
    let failed = searched
        .steps
        .iter()
        .filter(|s| !s.sustained)
        .min_by(|a, b| a.rate.total_cmp(&b.rate));
    let lowest_failed_rate = failed.map(|s| s.rate);
    Some(CapacityFigure {
        max_rate: searched.max_rate,
        max_deliveries_per_second: searched.max_delivered_per_second,
        lowest_failed_rate,
        failed_because: failed.map(|s| s.failed.clone()).unwrap_or_default(),
        steps: searched.steps.len() as u32,
        publisher_bound: match (lowest_failed_rate, ceiling) {
            (Some(rate), Some(c)) => c.bounds(rate),
            _ => false,
        },
        run: run.to_owned(),
    })
}

/// The bytes per event by class of `traffic` over `delivered` events, both
/// directions together; classes with no bytes left out.
pub fn bytes_by_class(
    traffic: &Traffic,
    delivered: u64,
) -> std::collections::BTreeMap<String, f64> {
    let mut both = ByteLedger::default();
    both.merge(&traffic.sent);
    both.merge(&traffic.received);
    ByteClass::ALL
        .into_iter()
        .filter(|&c| both.get(c) > 0)
        .map(|c| {
            (
                c.name().to_owned(),
                both.get(c) as f64 / delivered.max(1) as f64,
            )
        })
        .collect()
}

/// One common-load round of one server: its phase, the publisher's bytes
/// (empty for `pushbench serve`) and its folder.
#[derive(Clone, Debug)]
pub struct Round {
    /// The phase.
    pub phase: PhaseResult,
    /// The run's `publish_traffic`.
    pub publish: Traffic,
    /// The run's folder.
    pub run: String,
}

/// A server's common load from its rounds, judged by `criteria`.
pub fn common_load(
    rounds: &[Round],
    criteria: &[crate::threshold::Threshold],
    ceiling: Option<&PublisherCeiling>,
) -> Option<CommonLoad> {
    let first = rounds.first()?;
    let each = |f: &dyn Fn(&PhaseResult) -> f64| {
        median(&rounds.iter().map(|r| f(&r.phase)).collect::<Vec<_>>())
    };
    let sum = |f: &dyn Fn(&PhaseResult) -> u64| rounds.iter().map(|r| f(&r.phase)).sum::<u64>();
    let mut traffic = Traffic::default();
    let mut publish = Traffic::default();
    for r in rounds {
        traffic.merge(&r.phase.traffic);
        publish.merge(&r.publish);
    }
    let delivered = sum(&|p| p.events.delivered);
    let mut failed: Vec<String> = Vec::new();
    for r in rounds {
        for f in sustained(&r.phase, criteria) {
            if !failed.contains(&f) {
                failed.push(f);
            }
        }
    }
    let rate = first.phase.rate;
    Some(CommonLoad {
        rate,
        clients: first.phase.clients,
        delivered,
        missed: sum(&|p| p.events.missed),
        duplicated_or_reordered: sum(&|p| p.events.duplicated + p.events.out_of_order),
        deliveries_per_second: each(&|p| p.derived.events_per_second),
        p50_ms: each(&|p| p.latency_us.p50 as f64 / 1e3),
        p99_ms: each(&|p| p.latency_us.p99 as f64 / 1e3),
        cpu_us_per_delivery: each(&|p| p.server.cpu_us_per_event),
        rss_per_connection_bytes: each(&|p| p.server.rss_per_connection_bytes),
        bytes_per_event: bytes_by_class(&traffic, delivered),
        publish_bytes: publish.total(),
        held: failed.is_empty(),
        failed,
        publisher_bound: ceiling.is_some_and(|c| c.bounds(rate)),
        runs: rounds.iter().map(|r| r.run.clone()).collect(),
    })
}

/// `pushbench serve` against every other server of `technique`: the
/// highest sustained deliveries/s (goal 1: at least as many), then p99 and
/// CPU per delivery at the common load (p99's goal 1: no slower; CPU for
/// information), each round's pair kept.
pub fn technique_comparisons(
    technique: &TechniqueResult,
    rounds: &[(TargetKind, Vec<Round>)],
    settings: &ServersSettings,
    ceilings: &[(TargetKind, PublisherCeiling)],
) -> Vec<PeerComparison> {
    let t = technique.transport;
    let n = settings.clients;
    let find = |k: TargetKind| technique.servers.iter().find(|s| s.kind == k);
    let rounds_of = |k: TargetKind| {
        rounds
            .iter()
            .find(|(kind, _)| *kind == k)
            .map(|(_, r)| r.as_slice())
    };
    let Some(ours) = find(TargetKind::Pushbench) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for theirs in technique
        .servers
        .iter()
        .filter(|s| s.kind != TargetKind::Pushbench)
    {
        let k = theirs.kind;
        let vs = k.title();
        if let (Some(a), Some(b)) = (&ours.capacity, &theirs.capacity)
            && a.max_rate.is_some()
            && b.max_rate.is_some()
        {
            let ceiling = ceilings.iter().find(|(c, _)| *c == k).map(|(_, c)| c);
            let bound = match (b.publisher_bound, ceiling) {
                (true, Some(c)) => format!(
                    "; PUBLISHER-BOUND: {vs} failed at {} ev/s, at least {:.0} % of the {:.0} ev/s \
                     the publisher reached into it alone, so the publisher may be the limit",
                    b.lowest_failed_rate.unwrap_or_default(),
                    pushbench_protocol::server_results::PUBLISHER_BOUND_FRACTION * 100.0,
                    c.events_per_second
                ),
                (false, Some(c)) => format!(
                    "; the publisher reached {:.0} ev/s into {vs} alone",
                    c.events_per_second
                ),
                _ => String::new(),
            };
            let ceiling_hit = |side: &str, c: &CapacityFigure| match c.lowest_failed_rate {
                None => format!(
                    "; {side} held every rate tried, up to the search's ceiling of {} ev/s: its \
                     capacity is at least that",
                    settings.max_rate
                ),
                Some(_) => String::new(),
            };
            let limits = format!(
                "{bound}{}{}",
                ceiling_hit("pushbench serve", a),
                ceiling_hit(vs, b)
            );
            let flag = if b.publisher_bound {
                " (publisher-bound)"
            } else {
                ""
            };
            out.push(comparison(
                (
                    &format!("{t}, {n} clients: highest sustained deliveries/s{flag}"),
                    &format!("{t} deliveries/s vs {vs}{flag}"),
                ),
                "deliveries/s",
                true,
                "pushbench serve",
                (
                    &[a.max_deliveries_per_second],
                    &[b.max_deliveries_per_second],
                ),
                vs,
                Some(1.0),
                format!(
                    "capacity searches (doubling from {} ev/s, at most {}, then {} bisection \
                     steps; sustained = nothing missed or failed, >= 98 % delivered in the \
                     window, p99 < {} ms); folders {} and {}{limits}",
                    settings.start_rate,
                    settings.max_rate,
                    settings.refine_steps,
                    settings.max_p99_ms,
                    a.run,
                    b.run
                ),
            ));
        }
        let (Some(a), Some(b)) = (rounds_of(TargetKind::Pushbench), rounds_of(k)) else {
            continue;
        };
        if a.is_empty() || b.is_empty() {
            continue;
        }
        let rate = a[0].phase.rate;
        let folders: Vec<&str> = a.iter().chain(b).map(|r| r.run.as_str()).collect();
        let method = format!(
            "`pushbench run --transports {t} --clients {n} --rate {rate} --payload {}` \
             against each server, {} round(s) in alternating order, medians compared; folders {}",
            settings.payload,
            a.len().min(b.len()),
            folders.join(", ")
        );
        let p99 = |r: &[Round]| {
            r.iter()
                .map(|r| r.phase.latency_us.p99 as f64 / 1e3)
                .collect::<Vec<_>>()
        };
        let cpu = |r: &[Round]| {
            r.iter()
                .map(|r| r.phase.server.cpu_us_per_event)
                .collect::<Vec<_>>()
        };
        for (what, label, metric, (ours, theirs), goal) in [
            ("p99 latency", "p99", "p99 ms", (p99(a), p99(b)), Some(1.0)),
            (
                "server CPU per delivery",
                "CPU/delivery",
                "CPU µs/delivery",
                (cpu(a), cpu(b)),
                None,
            ),
        ] {
            out.push(comparison(
                (
                    &format!("{t}, {rate} ev/s to {n} clients: {what}"),
                    &format!("{t} {label} vs {vs}"),
                ),
                metric,
                false,
                "pushbench serve",
                (&ours, &theirs),
                vs,
                goal,
                method.clone(),
            ));
        }
    }
    out
}

/// The rate the publisher's ceiling is measured at: far above any rate the
/// searches try and any one connection's round trips allow, so the
/// publisher sends back to back and what the server accepts is its limit.
pub fn ceiling_rate(policy: &SearchPolicy) -> f64 {
    (policy.max_rate * 2.0).max(100_000.0)
}

/// How the run was measured, a paragraph each, for `servers.json` and
/// `servers.md`.
pub fn method_text(settings: &ServersSettings, ceiling_asked: f64) -> Vec<String> {
    let s = settings;
    let mut text = vec![
        format!(
            "Every server gets the same load: {} clients of each technique it offers, {}-byte \
             payloads, {} s measured after a {} s warm-up (the clients connect over {} s \
             before it). `pushbench serve` is started as `pushbench run` starts it: a child \
             process per rate whose own generator creates the events. Every other server is \
             started by its start script (`scripts/targets/<kind>/start`) and published into \
             by the load generator over HTTP: one publish request per event, on one kept-alive \
             connection, each waiting for its answer before the next, stamped with the time it \
             was due. Its CPU and memory are read from /proc, for the process tree rooted at \
             the pid its script printed. The publisher's bytes are counted apart from the \
             clients' and are not in the bytes per event.",
            s.clients, s.payload, s.duration_s, s.warmup_s, RAMP_UP_S
        ),
        format!(
            "The publisher's ceiling: into each other server, with one client subscribed, the \
             load generator was asked for {ceiling_asked} ev/s; what the server accepted per \
             second is the most the publisher can offer any phase (less with many clients, \
             when the server is busier). A capacity whose first failing rate, or a common \
             load whose rate, is at least {:.0} % of that ceiling is marked publisher-bound: \
             there the publisher, not the server, may be the limit.",
            pushbench_protocol::server_results::PUBLISHER_BOUND_FRACTION * 100.0
        ),
        "Order: techniques in the order short-poll, long-poll, stream, sse, ws; for the i-th \
         technique the servers' capacity searches run in the list's order rotated by i, the \
         common-load phases in the reverse of that order, rotated by one more each round, \
         so no server always runs first on a machine the one before has warmed."
            .to_owned(),
    ];
    if s.capacity {
        text.push(format!(
            "Capacity: per technique and server, rates doubling from {} ev/s (at most {}), \
             then {} bisection steps; a rate is sustained when nothing is missed, duplicated, \
             reordered or failed, at least 98 % of the window's events are delivered within \
             it, and p99 < {} ms (short polling adds its poll interval). `pushbench serve` is \
             started afresh for every step (its rate is a flag); another server is started \
             once per search and serves every step, published into at each step's rate.",
            s.start_rate, s.max_rate, s.refine_steps, s.max_p99_ms
        ));
    }
    text.push(match s.rate {
        Some(rate) => format!("Common load: {rate} ev/s (--rate), {} round(s).", s.rounds),
        None if s.capacity => format!(
            "Common load: per technique, {:.0} % of the lowest highest-sustained rate among \
             its servers, so every server is measured at a load all of them held; {} round(s), \
             medians compared.",
            COMMON_FRACTION * 100.0,
            s.rounds
        ),
        None => format!(
            "Common load: {DEFAULT_COMMON_RATE} ev/s (no capacity search ran), {} round(s).",
            s.rounds
        ),
    });
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::results::{
        Connections, Derived, EventCounts, LatencySummary, ServerCost,
    };
    use pushbench_protocol::server_results::ServerMeasure;
    use pushbench_protocol::{ByteClass, ByteLedger};

    use TargetKind::*;

    /// A ws phase at `rate` to 4 clients: `delivered` events, p99 `p99_ms`,
    /// CPU `cpu` µs per delivery; each delivery 128 B payload + 70 B framing.
    fn phase(rate: f64, delivered: u64, p99_ms: f64, cpu: f64) -> PhaseResult {
        let mut received = ByteLedger::default();
        received.add(ByteClass::Payload, 128 * delivered);
        received.add(ByteClass::Framing, 70 * delivered);
        PhaseResult {
            transport: Transport::Ws,
            clients: 4,
            rate,
            rate_source: Default::default(),
            headers: Default::default(),
            tls: false,
            keep_alive: true,
            http: Default::default(),
            coding: Default::default(),
            link: Default::default(),
            link_measured: None,
            duration_s: 1.0,
            connections: Connections::default(),
            traffic: Traffic {
                received,
                ..Traffic::default()
            },
            events: EventCounts {
                published: delivered / 4,
                delivered,
                ..EventCounts::default()
            },
            latency_us: LatencySummary {
                p50: (p99_ms * 500.0) as u64,
                p99: (p99_ms * 1e3) as u64,
                ..LatencySummary::default()
            },
            derived: Derived {
                events_per_second: delivered as f64,
                ..Derived::default()
            },
            server: ServerCost {
                cpu_us_per_event: cpu,
                ..ServerCost::default()
            },
            load_generator: Default::default(),
            histogram_log: None,
            setup_traffic: Traffic::default(),
            setup_bytes_per_connection: 0.0,
            incomplete: false,
            outage: Default::default(),
            clock_slew_us: None,
        }
    }

    fn round(phase: PhaseResult, run: &str) -> Round {
        Round {
            phase,
            publish: Traffic::default(),
            run: run.to_owned(),
        }
    }

    fn settings() -> ServersSettings {
        ServersSettings {
            transports: vec![Transport::Ws],
            clients: 4,
            payload: 128,
            duration_s: 1.0,
            warmup_s: WARMUP_S,
            rate: None,
            rounds: 2,
            capacity: true,
            max_p99_ms: 100.0,
            start_rate: 25.0,
            max_rate: 20_000.0,
            refine_steps: 3,
        }
    }

    #[test]
    fn each_server_runs_first_in_turn() {
        let servers = [Pushbench, Nchan, Socketio, NodeWs];
        assert_eq!(
            capacity_order(&servers, Transport::Ws, 0),
            [Pushbench, Nchan, Socketio, NodeWs]
        );
        assert_eq!(
            capacity_order(&servers, Transport::Ws, 1),
            [Nchan, Socketio, NodeWs, Pushbench]
        );
        // Only those that offer it: Socket.IO and Node ws have no SSE.
        assert_eq!(
            capacity_order(&servers, Transport::Sse, 3),
            [Nchan, Pushbench]
        );
        let order = capacity_order(&servers, Transport::Ws, 0);
        assert_eq!(
            common_order(&order, 0),
            [NodeWs, Socketio, Nchan, Pushbench]
        );
        assert_eq!(
            common_order(&order, 1),
            [Socketio, Nchan, Pushbench, NodeWs]
        );
        assert!(common_order(&[], 3).is_empty());
    }

    #[test]
    fn the_common_rate_is_one_every_server_held() {
        assert_eq!(common_rate(Some(33.0), true, &[10.0]).0, Some(33.0));
        assert_eq!(common_rate(None, false, &[]).0, Some(DEFAULT_COMMON_RATE));
        let (rate, why) = common_rate(None, true, &[400.0, 90.0, 1_000.0]);
        assert_eq!(rate, Some(81.0));
        assert!(why.contains("90 ev/s"), "{why}");
        assert_eq!(common_rate(None, true, &[0.5]).0, Some(1.0));
        assert_eq!(common_rate(None, true, &[]).0, None);
    }

    #[test]
    fn common_loads_take_medians_and_say_what_broke() {
        let ceiling = PublisherCeiling {
            events_per_second: 100.0,
            asked_rate: 100_000.0,
            transport: Transport::Ws,
            run: "ceiling-nchan".into(),
        };
        let criteria = crate::capacity_search::default_criteria(Transport::Ws, 10.0, 250, 1.0);
        let rounds = [
            round(phase(90.0, 360, 2.0, 30.0), "a"),
            round(phase(90.0, 360, 4.0, 10.0), "b"),
            round(phase(90.0, 360, 30.0, 20.0), "c"),
        ];
        let load = common_load(&rounds, &criteria, Some(&ceiling)).expect("rounds");
        assert_eq!((load.delivered, load.missed), (1080, 0));
        assert_eq!((load.p99_ms, load.cpu_us_per_delivery), (4.0, 20.0));
        assert_eq!(load.bytes_per_event.get("payload"), Some(&128.0));
        assert_eq!(load.bytes_per_event.get("framing"), Some(&70.0));
        assert!(!load.bytes_per_event.contains_key("control"));
        // Round c's p99 broke the 10 ms bound; 90 ev/s is 90 % of the ceiling.
        assert!(
            !load.held && load.failed[0].starts_with("p99<10ms"),
            "{load:?}"
        );
        assert!(load.publisher_bound);
        assert_eq!(load.runs, ["a", "b", "c"]);
        assert_eq!(common_load(&[], &criteria, None), None);
    }

    #[test]
    fn serve_is_compared_with_every_other_server_as_ratios() {
        let capacity = |rate: f64, deliveries: f64, bound: bool| CapacityFigure {
            max_rate: Some(rate),
            max_deliveries_per_second: deliveries,
            lowest_failed_rate: Some(rate * 2.0),
            failed_because: vec!["p99<100ms (measured 300 ms)".into()],
            steps: 5,
            publisher_bound: bound,
            run: "capacity".into(),
        };
        let measure = |kind, cap| ServerMeasure {
            capacity: Some(cap),
            ..ServerMeasure::new(kind)
        };
        let technique = TechniqueResult {
            transport: Transport::Ws,
            common_rate: Some(90.0),
            common_rate_source: "test".into(),
            servers: vec![
                measure(NodeWs, capacity(100.0, 400.0, true)),
                measure(Pushbench, capacity(1_000.0, 4_000.0, false)),
            ],
        };
        let rounds = vec![
            (NodeWs, vec![round(phase(90.0, 360, 8.0, 40.0), "n")]),
            (Pushbench, vec![round(phase(90.0, 360, 2.0, 10.0), "p")]),
        ];
        let compared = technique_comparisons(&technique, &rounds, &settings(), &[]);
        let ratios: Vec<(&str, f64, Option<f64>)> = compared
            .iter()
            .map(|c| (c.metric.as_str(), c.ratio, c.goal))
            .collect();
        assert_eq!(
            ratios,
            [
                ("deliveries/s", 10.0, Some(1.0)),
                ("p99 ms", 4.0, Some(1.0)),
                ("CPU µs/delivery", 4.0, None),
            ]
        );
        assert!(compared.iter().all(|c| c.peer == "Node + ws"));
        assert!(
            compared[0].label.contains("publisher-bound"),
            "{:?}",
            compared[0]
        );
        assert_eq!(compared[1].rounds, [(2.0, 8.0)]);
    }

    #[test]
    fn a_step_that_published_less_than_its_rate_owes_did_not_hold() {
        assert!(sustained(&phase(90.0, 360, 1.0, 1.0), &[]).is_empty());
        // Every publish refused: nothing missed, nothing delivered.
        let refused = sustained(&phase(200.0, 0, 0.0, 0.0), &[]);
        assert_eq!(
            refused,
            ["published 0 of the 200 events the rate owes the window"]
        );
        // A publisher that kept up with only half the rate.
        assert_eq!(sustained(&phase(200.0, 400, 1.0, 1.0), &[]).len(), 1);
    }

    #[test]
    fn the_method_says_how_the_other_kinds_are_published_into() {
        let text = method_text(&settings(), ceiling_rate(&SearchPolicy::default())).join("\n");
        assert!(text.contains("one publish request per event"), "{text}");
        assert!(text.contains("publisher-bound"), "{text}");
        assert!(text.contains("rotated by i"), "{text}");
    }
}
