//! The event rate a phase records, and where it comes from.
//!
//! A server the run starts publishes at the scenario's rate. A running
//! `--target` publishes at whatever it was started with, so the scenario's
//! rates do not apply: the runner asks its `/stats` once, and the phases
//! record the target's own generator rate when it names one, or else (no
//! generator, events published by others) each window's measured publish
//! rate. The choice is pure, so it is tested without a socket.

use pushbench_protocol::results::RateSource;

use crate::control_client::Generator;

/// A phase's event rate, as far as it is known before the phase runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PhaseRate {
    /// Known in advance: the scenario's rate (the server this run started
    /// publishes at it) or a target's generator rate from its `/stats`.
    Known {
        /// Events per second.
        rate: f64,
        /// Which of the two it is.
        source: RateSource,
    },
    /// Known only afterwards: the events published in the measured window
    /// divided by its length.
    Measured,
}

impl PhaseRate {
    /// The scenario's `rate`, which a server the run started publishes at.
    pub fn scenario(rate: f64) -> Self {
        PhaseRate::Known {
            rate,
            source: RateSource::Scenario,
        }
    }

    /// The rate of a running target whose `/stats` named `generator`
    /// (`None` when it did not say): its generator's rate when it has one
    /// running, else measured per window (a target whose events come from
    /// publishers, or one that does not describe itself).
    pub fn of_target(generator: Option<&Generator>) -> Self {
        match generator {
            Some(g) if g.rate > 0.0 => PhaseRate::Known {
                rate: g.rate,
                source: RateSource::Target,
            },
            _ => PhaseRate::Measured,
        }
    }

    /// The rate a phase records, given the events published in its window
    /// and the window's length. A measured rate is rounded to 0.01 ev/s:
    /// finer digits are noise of the window's timing, and the rate names
    /// the phase's histogram file.
    pub fn recorded(self, published: u64, duration_s: f64) -> (f64, RateSource) {
        match self {
            PhaseRate::Known { rate, source } => (rate, source),
            PhaseRate::Measured => {
                let rate = if duration_s > 0.0 {
                    (published as f64 / duration_s * 100.0).round() / 100.0
                } else {
                    0.0
                };
                (rate, RateSource::Measured)
            }
        }
    }
}

impl std::fmt::Display for PhaseRate {
    /// `37 ev/s`, or `measured ev/s` before a measured rate is known.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PhaseRate::Known { rate, .. } => write!(f, "{rate} ev/s"),
            PhaseRate::Measured => f.write_str("measured ev/s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator(rate: f64) -> Generator {
        Generator {
            rate,
            payload: 128,
            topics: 1,
        }
    }

    #[test]
    fn a_target_with_a_generator_records_its_rate() {
        let rate = PhaseRate::of_target(Some(&generator(37.0)));
        assert_eq!(
            rate,
            PhaseRate::Known {
                rate: 37.0,
                source: RateSource::Target
            }
        );
        assert_eq!(
            rate.recorded(999, 5.0),
            (37.0, RateSource::Target),
            "the generator's rate, whatever else was published"
        );
    }

    #[test]
    fn a_target_without_a_generator_is_measured() {
        for generator in [Some(generator(0.0)), None] {
            let rate = PhaseRate::of_target(generator.as_ref());
            assert_eq!(rate, PhaseRate::Measured, "{generator:?}");
            assert_eq!(rate.recorded(100, 5.0), (20.0, RateSource::Measured));
        }
    }

    #[test]
    fn a_measured_rate_is_rounded_and_zero_without_a_window() {
        assert_eq!(
            PhaseRate::Measured.recorded(100, 3.0),
            (33.33, RateSource::Measured)
        );
        assert_eq!(
            PhaseRate::Measured.recorded(5, 0.0),
            (0.0, RateSource::Measured)
        );
    }

    #[test]
    fn a_scenario_rate_is_recorded_as_it_was_asked() {
        assert_eq!(
            PhaseRate::scenario(20.0).recorded(7, 1.0),
            (20.0, RateSource::Scenario)
        );
        assert_eq!(PhaseRate::scenario(0.5).to_string(), "0.5 ev/s");
        assert_eq!(PhaseRate::Measured.to_string(), "measured ev/s");
    }
}
