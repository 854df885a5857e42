//! Value parsers for numeric flags. Each message says what is allowed, and
//! clap puts the flag in front of it: `invalid value '-1' for '--clients
//! <CLIENTS>': expected a whole number from 1 to 4294967295, got `-1``.
//! Numeric flags also set `allow_negative_numbers`, so that `--rate -5`
//! reaches its parser instead of being taken for an unknown flag `-5`.

/// A whole number from `min` to `max`, as `T`.
pub fn whole<T>(min: u64, max: u64) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync
where
    T: TryFrom<u64>,
{
    move |raw| {
        raw.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .and_then(|n| T::try_from(n).ok())
            .ok_or_else(|| {
                if max == u64::MAX {
                    format!("expected a whole number of at least {min}, got `{raw}`")
                } else {
                    format!("expected a whole number from {min} to {max}, got `{raw}`")
                }
            })
    }
}

/// A finite number of `unit` from `min` to `max`.
pub fn decimal(
    min: f64,
    max: f64,
    unit: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |raw| match raw.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(n),
        _ => Err(format!("expected {unit} from {min} to {max}, got `{raw}`")),
    }
}

/// A finite number of `unit` greater than 0 and at most `max`.
pub fn above_zero(
    max: f64,
    unit: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync {
    move |raw| match raw.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n <= max => Ok(n),
        _ => Err(format!(
            "expected {unit} greater than 0 and at most {max}, got `{raw}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_is_allowed() {
        assert_eq!(whole::<u32>(1, 10)("7"), Ok(7));
        for bad in ["0", "11", "-1", "x", "1.5", ""] {
            let err = whole::<u32>(1, 10)(bad).expect_err(bad);
            assert!(err.contains("from 1 to 10"), "{err}");
        }
        assert!(whole::<u8>(0, u64::MAX)("300").is_err(), "beyond the type");
        assert!(whole::<u64>(1, u64::MAX)("0").is_err_and(|e| e.contains("at least 1")));
        assert_eq!(decimal(0.0, 5.0, "seconds")("0"), Ok(0.0));
        for bad in ["-0.1", "5.1", "NaN", "inf", "soon"] {
            let err = decimal(0.0, 5.0, "seconds")(bad).expect_err(bad);
            assert!(err.contains("seconds from 0 to 5"), "{err}");
        }
        assert!(above_zero(5.0, "seconds")("0").is_err_and(|e| e.contains("greater than 0")));
        assert_eq!(above_zero(5.0, "seconds")("0.5"), Ok(0.5));
    }
}
