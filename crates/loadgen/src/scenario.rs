//! Scenario files (TOML) and scenario validation.
//!
//! A file holds any subset of [`Scenario`]'s fields; the rest keep their
//! defaults. An unknown key is an error that names it.

use std::path::Path;

use pushbench_protocol::Scenario;

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

/// Checks that a scenario can run; the message names the field.
pub fn validate(s: &Scenario) -> Result<()> {
    let bad = |m: &str| Err(Error::Scenario(m.to_owned()));
    if s.transports.is_empty() {
        return bad("transports: at least one transport is needed");
    }
    if s.clients.is_empty() || s.clients.contains(&0) {
        return bad("clients: every client count must be at least 1");
    }
    if s.rates.is_empty() || s.rates.iter().any(|r| !r.is_finite() || *r < 0.0) {
        return bad("rates: every rate must be a finite number >= 0");
    }
    for (name, v) in [
        ("duration_s", s.duration_s),
        ("warmup_s", s.warmup_s),
        ("ramp_up_s", s.ramp_up_s),
    ] {
        if !v.is_finite() || !(0.0..=86_400.0).contains(&v) {
            return Err(Error::Scenario(format!(
                "{name}: must be between 0 and 86400 seconds, got {v}"
            )));
        }
    }
    if s.duration_s <= 0.0 {
        return bad("duration_s: the measured window must be longer than 0 s");
    }
    if s.poll_interval_ms > 3_600_000 {
        return bad("poll_interval_ms: must be between 0 (back to back) and 3600000 (an hour)");
    }
    if s.longpoll_timeout_s == 0 {
        return bad("longpoll_timeout_s: must be at least 1");
    }
    if s.topics == 0 {
        return bad("topics: must be at least 1");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pushbench_protocol::Transport;

    #[test]
    fn files_override_defaults_and_unknown_keys_are_named() {
        let s = parse("transports = [\"ws\", \"sse\"]\nclients = [10, 100]\nduration_s = 2.5\n")
            .expect("parse");
        assert_eq!(s.transports, vec![Transport::Ws, Transport::Sse]);
        assert_eq!(s.clients, vec![10, 100]);
        assert_eq!(s.payload, Scenario::default().payload);
        let err = parse("clientz = [1]\n").expect_err("unknown key");
        assert!(err.contains("clientz"), "{err}");
        let err = parse("transports = [\"websocket\"]\n").expect_err("unknown transport");
        assert!(err.contains("websocket"), "{err}");
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
    }
}
