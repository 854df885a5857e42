//! How the report writes numbers: every table, chart label and document
//! uses these, so a figure reads the same wherever it appears.

/// A number with at most three decimals and none it does not need: an
/// event rate (`20`, `0.5`), a ratio or an axis label (`1.234`).
pub fn format_decimal(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A latency in microseconds in the unit that suits it: `850 µs`,
/// `12.3 ms`, `1.25 s`.
pub fn format_us(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        let ms = us / 1_000.0;
        if ms < 10.0 {
            format!("{ms:.2} ms")
        } else {
            format!("{ms:.1} ms")
        }
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// A byte count with a binary-free decimal unit: `512 B`, `1.5 kB`, `2.0 MB`.
pub fn format_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes;
    let mut unit = 0;
    while value.abs() >= 1_000.0 && unit < UNITS.len() - 1 {
        value /= 1_000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// An integer with thousands separators: `100,000`.
pub fn format_count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A CPU cost per event in µs: one decimal from 1 µs (`13.8`), two
/// below (`0.13`), where a fan-out's costs lie and one decimal would
/// make the server's and the load generator's look alike.
pub fn format_cpu_us(us: f64) -> String {
    if us < 1.0 {
        format!("{us:.2}")
    } else {
        format!("{us:.1}")
    }
}

/// A figure in a comparison table or beside a bar: a count with
/// separators from 100 up (`12,345`), two decimals below (`39.89`).
pub fn format_figure(v: f64) -> String {
    if v >= 100.0 {
        format_count(v.round() as u64)
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_read_well() {
        assert_eq!(format_decimal(20.0), "20");
        assert_eq!(format_decimal(0.5), "0.5");
        assert_eq!(format_decimal(1.25), "1.25");
        assert_eq!(format_decimal(100.0), "100");
        assert_eq!(format_us(850.0), "850 µs");
        assert_eq!(format_us(1_234.0), "1.23 ms");
        assert_eq!(format_us(12_345.0), "12.3 ms");
        assert_eq!(format_us(1_250_000.0), "1.25 s");
        assert_eq!(format_cpu_us(13.84), "13.8");
        assert_eq!(format_cpu_us(1.0), "1.0");
        assert_eq!(format_cpu_us(0.134), "0.13");
        assert_eq!(format_bytes(512.0), "512 B");
        assert_eq!(format_bytes(871_000.0), "871.0 kB");
        assert_eq!(format_count(100_000), "100,000");
        assert_eq!(format_count(999), "999");
        assert_eq!(format_count(1_000), "1,000");
    }
}
