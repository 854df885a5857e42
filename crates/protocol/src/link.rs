//! The network path a phase runs over: a [`LinkProfile`].
//!
//! `loopback` is the kernel's loopback, as every run before links had. Any
//! other profile is an emulated path between a client network namespace
//! and a server one: each IP packet is held for its one-way delay (half
//! the RTT, varied by the jitter without reordering), serialized at the
//! direction's rate through a bounded queue (drop-tail), and dropped with
//! the loss probability. The emulator lives in `pushbench-link`; this
//! module is the vocabulary: the named profiles with their sources, the
//! `--link` syntax, and the form results record.
//!
//! The syntax: a profile name, a list of `key=value` parts, or a name
//! followed by parts that override it (`3g,loss=1%`). Keys: `rtt` and
//! `jitter` (a duration: `37ms`, `500us`, `1s`), `down` and `up` (a rate:
//! `10mbit`, `768kbit`, `1gbit`, or bits per second), `loss` (`1.5%` or
//! `0.015`), `queue` (the bottleneck buffer in packets).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// One named or custom network path.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LinkProfile {
    /// The profile's name (`loopback`, `3g`, ...), or `custom` when the
    /// parts did not start from one.
    pub name: String,
    /// Round-trip propagation delay, microseconds: each direction holds a
    /// packet for half of it.
    pub rtt_us: u64,
    /// Each packet's one-way delay varies uniformly within plus or minus
    /// this, microseconds; packets still leave in the order they came.
    pub jitter_us: u64,
    /// Server-to-client rate, bits per second; `None`: not limited.
    pub down_bps: Option<u64>,
    /// Client-to-server rate, bits per second; `None`: not limited.
    pub up_bps: Option<u64>,
    /// Probability that a packet is dropped, each direction, 0 to 1.
    pub loss: f64,
    /// The bottleneck buffer each direction, packets: a packet that finds
    /// it full is dropped (drop-tail).
    pub queue_packets: u32,
}

/// Where each named profile's figures come from, for the docs.
pub const SOURCES: &[(&str, &str)] = &[
    ("loopback", "the kernel's loopback, no emulation"),
    (
        "lan",
        "switched Gigabit Ethernet: about 1 ms RTT through a few switches",
    ),
    (
        "cable",
        "DOCSIS cable broadband: FCC Measuring Broadband America reports \
         idle latencies of 20-40 ms and asymmetric plans of tens of Mbit/s \
         down, a few up",
    ),
    (
        "4g",
        "WebPageTest's \"4G\" connectivity profile: 9 Mbit/s each way, \
         170 ms RTT",
    ),
    (
        "3g",
        "WebPageTest's \"3G\" connectivity profile: 1.6 Mbit/s down, \
         768 kbit/s up, 300 ms RTT",
    ),
    (
        "satellite",
        "geostationary satellite broadband: about 600 ms RTT (four \
         36,000 km hops plus processing), 25 Mbit/s down, 3 up",
    ),
    (
        "lossy",
        "a continental WAN path (50 ms RTT, 10 Mbit/s each way) with 2 % \
         random loss each way, the upper end of the 1-2 % where TCP's \
         throughput collapses",
    ),
];

const MBIT: u64 = 1_000_000;

impl LinkProfile {
    /// The names `--link` takes, in sweep order.
    pub const NAMES: [&'static str; 7] =
        ["loopback", "lan", "cable", "4g", "3g", "satellite", "lossy"];

    /// The kernel's loopback: no namespaces, no emulation.
    pub fn loopback() -> LinkProfile {
        LinkProfile {
            name: "loopback".into(),
            rtt_us: 0,
            jitter_us: 0,
            down_bps: None,
            up_bps: None,
            loss: 0.0,
            queue_packets: 0,
        }
    }

    /// A named profile, or `None`.
    pub fn named(name: &str) -> Option<LinkProfile> {
        let make = |rtt_ms: u64, down: u64, up: u64, loss: f64, queue: u32| LinkProfile {
            name: name.to_owned(),
            rtt_us: rtt_ms * 1000,
            jitter_us: 0,
            down_bps: Some(down),
            up_bps: Some(up),
            loss,
            queue_packets: queue,
        };
        Some(match name {
            "loopback" => LinkProfile::loopback(),
            // Queues: about one bandwidth-delay product, at least 100
            // packets; a Gigabit switch port buffers about 1,000.
            "lan" => LinkProfile {
                rtt_us: 1000,
                ..make(0, 1000 * MBIT, 1000 * MBIT, 0.0, 1000)
            },
            "cable" => make(35, 50 * MBIT, 5 * MBIT, 0.0, 300),
            "4g" => make(170, 9 * MBIT, 9 * MBIT, 0.0, 150),
            "3g" => make(300, 1_600_000, 768_000, 0.0, 100),
            "satellite" => make(600, 25 * MBIT, 3 * MBIT, 0.0, 1250),
            "lossy" => make(50, 10 * MBIT, 10 * MBIT, 0.02, 100),
            _ => return None,
        })
    }

    /// Whether this is the kernel's loopback (no emulated path).
    pub fn is_loopback(&self) -> bool {
        *self == LinkProfile::loopback()
    }

    /// The one-way delay of a direction, microseconds (half the RTT).
    pub fn one_way_us(&self) -> u64 {
        self.rtt_us / 2
    }

    /// The short label of results and charts: the name of an unchanged
    /// named profile, else the `--link` text that makes this one.
    pub fn label(&self) -> String {
        match LinkProfile::named(&self.name) {
            Some(named) if named == *self => self.name.clone(),
            _ => self.to_string(),
        }
    }
}

impl Default for LinkProfile {
    fn default() -> Self {
        LinkProfile::loopback()
    }
}

/// A `--link` text that could not be read: names the part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("could not read {part:?}: {why}")]
pub struct LinkSyntaxError {
    /// The part of the text (`down=fast`) or the whole of it.
    pub part: String,
    /// What was expected.
    pub why: String,
}

fn syntax(part: &str, why: impl Into<String>) -> LinkSyntaxError {
    LinkSyntaxError {
        part: part.to_owned(),
        why: why.into(),
    }
}

/// Reads `37ms`, `500us`, `1.5s` (microseconds).
fn duration_us(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e6)
    } else {
        return None;
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0 && value * scale <= 60e6)
        .then(|| (value * scale).round() as u64)
}

/// Reads `10mbit`, `768kbit`, `1gbit`, `64000` (bits per second).
fn rate_bps(text: &str) -> Option<u64> {
    let text = text.trim().to_ascii_lowercase();
    let (number, scale) = if let Some(n) = text.strip_suffix("gbit") {
        (n, 1e9)
    } else if let Some(n) = text.strip_suffix("mbit") {
        (n, 1e6)
    } else if let Some(n) = text.strip_suffix("kbit") {
        (n, 1e3)
    } else if let Some(n) = text.strip_suffix("bit") {
        (n, 1.0)
    } else {
        (text.as_str(), 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    let bps = value * scale;
    // At least one 1,500-byte packet per second; at most 10 Gbit/s.
    (bps.is_finite() && (12_000.0..=1e10).contains(&bps)).then(|| bps.round() as u64)
}

/// Reads `1.5%` or `0.015`.
fn probability(text: &str) -> Option<f64> {
    let text = text.trim();
    let value = match text.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().ok()? / 100.0,
        None => text.parse::<f64>().ok()?,
    };
    // Above half the packets lost, TCP makes no progress to measure.
    (value.is_finite() && (0.0..=0.5).contains(&value)).then_some(value)
}

impl FromStr for LinkProfile {
    type Err = LinkSyntaxError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.split(',').map(str::trim).peekable();
        let first = parts.peek().copied().unwrap_or_default();
        let mut profile = if first.contains('=') {
            LinkProfile {
                name: "custom".into(),
                ..LinkProfile::loopback()
            }
        } else {
            parts.next();
            LinkProfile::named(&first.to_ascii_lowercase()).ok_or_else(|| {
                syntax(
                    first,
                    format!(
                        "a profile name ({}) or key=value parts",
                        LinkProfile::NAMES.join(", ")
                    ),
                )
            })?
        };
        let mut changed = false;
        for part in parts {
            let Some((key, value)) = part.split_once('=') else {
                return Err(syntax(
                    part,
                    "key=value (rtt, jitter, down, up, loss or queue)",
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            let bad = |what: &str| syntax(part, what.to_owned());
            match key.as_str() {
                "rtt" => {
                    profile.rtt_us =
                        duration_us(value).ok_or_else(|| bad("a duration like 37ms"))?;
                }
                "jitter" => {
                    profile.jitter_us =
                        duration_us(value).ok_or_else(|| bad("a duration like 5ms"))?;
                }
                "down" => {
                    profile.down_bps = Some(
                        rate_bps(value).ok_or_else(|| bad("a rate like 10mbit, from 12kbit"))?,
                    );
                }
                "up" => {
                    profile.up_bps = Some(
                        rate_bps(value).ok_or_else(|| bad("a rate like 768kbit, from 12kbit"))?,
                    );
                }
                "loss" => {
                    profile.loss = probability(value)
                        .ok_or_else(|| bad("a probability like 1.5% or 0.015, at most 50%"))?;
                }
                "queue" => {
                    profile.queue_packets = value
                        .trim()
                        .parse()
                        .ok()
                        .filter(|q| (1..=100_000).contains(q))
                        .ok_or_else(|| bad("a number of packets, 1 to 100000"))?;
                }
                _ => {
                    return Err(bad("a key of rtt, jitter, down, up, loss or queue"));
                }
            }
            changed = true;
        }
        if changed && profile.name == "loopback" {
            // Loopback with parts is an emulated path like any custom one.
            profile.name = "custom".into();
        }
        if !profile.is_loopback() && profile.queue_packets == 0 {
            profile.queue_packets = 1000;
        }
        if profile.jitter_us > profile.one_way_us() {
            return Err(syntax(
                text,
                "a jitter no larger than half the RTT (a delay cannot be negative)",
            ));
        }
        Ok(profile)
    }
}

fn write_duration(f: &mut fmt::Formatter<'_>, us: u64) -> fmt::Result {
    if us.is_multiple_of(1000) {
        write!(f, "{}ms", us / 1000)
    } else {
        write!(f, "{us}us")
    }
}

fn write_rate(f: &mut fmt::Formatter<'_>, bps: u64) -> fmt::Result {
    if bps.is_multiple_of(1_000_000) {
        write!(f, "{}mbit", bps / 1_000_000)
    } else if bps.is_multiple_of(1000) {
        write!(f, "{}kbit", bps / 1000)
    } else {
        write!(f, "{bps}")
    }
}

/// The `--link` text that reads back as this profile: the name alone for
/// an unchanged named profile, else every part.
impl fmt::Display for LinkProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if LinkProfile::named(&self.name).is_some_and(|named| named == *self) {
            return f.write_str(&self.name);
        }
        f.write_str("rtt=")?;
        write_duration(f, self.rtt_us)?;
        if self.jitter_us > 0 {
            f.write_str(",jitter=")?;
            write_duration(f, self.jitter_us)?;
        }
        if let Some(down) = self.down_bps {
            f.write_str(",down=")?;
            write_rate(f, down)?;
        }
        if let Some(up) = self.up_bps {
            f.write_str(",up=")?;
            write_rate(f, up)?;
        }
        if self.loss > 0.0 {
            write!(f, ",loss={}%", self.loss * 100.0)?;
        }
        write!(f, ",queue={}", self.queue_packets)
    }
}

/// A scenario names a profile as text (`link = "3g"`); a result records it
/// as an object of its parameters. Both read back.
impl<'de> Deserialize<'de> for LinkProfile {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Text(String),
            Record {
                name: String,
                rtt_us: u64,
                jitter_us: u64,
                down_bps: Option<u64>,
                up_bps: Option<u64>,
                loss: f64,
                queue_packets: u32,
            },
        }
        match Form::deserialize(d)? {
            Form::Text(text) => text.parse().map_err(serde::de::Error::custom),
            Form::Record {
                name,
                rtt_us,
                jitter_us,
                down_bps,
                up_bps,
                loss,
                queue_packets,
            } => Ok(LinkProfile {
                name,
                rtt_us,
                jitter_us,
                down_bps,
                up_bps,
                loss,
                queue_packets,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_displays_and_has_a_source() {
        for name in LinkProfile::NAMES {
            let p: LinkProfile = name.parse().expect(name);
            assert_eq!(p.name, name);
            assert_eq!(p.to_string(), name);
            assert_eq!(p.label(), name);
            assert!(SOURCES.iter().any(|(n, _)| *n == name), "{name}");
        }
        assert!("loopback".parse::<LinkProfile>().expect("lo").is_loopback());
        assert!(!"lan".parse::<LinkProfile>().expect("lan").is_loopback());
    }

    #[test]
    fn parts_override_a_name_or_build_a_custom_path() {
        let p: LinkProfile = "3g,loss=1%".parse().expect("override");
        assert_eq!(p.name, "3g");
        assert_eq!(p.rtt_us, 300_000);
        assert!((p.loss - 0.01).abs() < 1e-12);
        assert_eq!(
            p.label(),
            "rtt=300ms,down=1600kbit,up=768kbit,loss=1%,queue=100"
        );

        let p: LinkProfile =
            "rtt=37ms, jitter=500us, down=10mbit, up=2.5mbit, loss=0.015, queue=64"
                .parse()
                .expect("custom");
        assert_eq!(
            p,
            LinkProfile {
                name: "custom".into(),
                rtt_us: 37_000,
                jitter_us: 500,
                down_bps: Some(10_000_000),
                up_bps: Some(2_500_000),
                loss: 0.015,
                queue_packets: 64,
            }
        );
        let again: LinkProfile = p.to_string().parse().expect("round trip");
        assert_eq!(again.to_string(), p.to_string());
        // A custom path without a queue gets a default buffer; rates stay
        // unlimited where not given.
        let p: LinkProfile = "rtt=20ms".parse().expect("rtt only");
        assert_eq!((p.queue_packets, p.down_bps, p.up_bps), (1000, None, None));
        assert!(!p.is_loopback());
    }

    #[test]
    fn a_bad_part_is_named() {
        for (text, part, hint) in [
            ("wifi", "wifi", "profile name"),
            ("rtt=37", "rtt=37", "duration"),
            ("rtt=37ms,down=fast", "down=fast", "rate"),
            ("lan,up=1bit", "up=1bit", "12kbit"),
            ("rtt=10ms,loss=60%", "loss=60%", "50%"),
            ("rtt=10ms,queue=0", "queue=0", "packets"),
            ("rtt=10ms,color=red", "color=red", "a key of"),
            ("rtt=10ms,fast", "fast", "key=value"),
            ("rtt=10ms,jitter=6ms", "rtt=10ms,jitter=6ms", "half the RTT"),
        ] {
            let err = text.parse::<LinkProfile>().expect_err(text);
            assert_eq!(err.part, part, "{text}");
            assert!(err.to_string().contains(hint), "{text}: {err}");
        }
    }

    #[test]
    fn results_record_an_object_and_scenarios_a_name() {
        let p = LinkProfile::named("lossy").expect("lossy");
        let json = serde_json::to_value(&p).expect("json");
        assert_eq!(json["rtt_us"], 50_000);
        assert_eq!(json["loss"], 0.02);
        let back: LinkProfile = serde_json::from_value(json).expect("object");
        assert_eq!(back, p);
        let named: LinkProfile = serde_json::from_str("\"lossy\"").expect("text");
        assert_eq!(named, p);
        let err = serde_json::from_str::<LinkProfile>("\"rtt=fast\"").expect_err("bad");
        assert!(err.to_string().contains("rtt=fast"), "{err}");
    }
}
