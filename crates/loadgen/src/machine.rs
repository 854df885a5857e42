//! The machine a run measured on, and UTC timestamps without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

use pushbench_protocol::results::Machine;

fn read(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Describes this machine from `/proc` (fields stay empty where unknown).
pub fn this_machine() -> Machine {
    let cpu_model = cpu_model(&read("/proc/cpuinfo"));
    let memory_bytes = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kib| kib * 1024);
    Machine {
        hostname: read("/proc/sys/kernel/hostname"),
        os: format!(
            "{} {}",
            read("/proc/sys/kernel/ostype"),
            read("/proc/sys/kernel/osrelease")
        )
        .trim()
        .to_owned(),
        cpu_model,
        cores: std::thread::available_parallelism().map_or(0, |n| n.get() as u32),
        memory_bytes,
        // Set by build.rs from `$RUSTC --version`: the compiler that built
        // this binary, which is the one that matters for its figures.
        rustc: env!("PUSHBENCH_RUSTC").to_owned(),
    }
}

/// The value of the first `key : value` line of `/proc/cpuinfo` text.
fn cpuinfo_field<'a>(cpuinfo: &'a str, key: &str) -> Option<&'a str> {
    cpuinfo.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name.trim() == key).then(|| value.trim())
    })
}

/// The CPU's `model name`, with its family, model and stepping numbers when
/// the name alone does not identify it (a VM often reports a bare "AMD
/// EPYC", which covers several generations).
fn cpu_model(cpuinfo: &str) -> String {
    let name = cpuinfo_field(cpuinfo, "model name").unwrap_or_default();
    let numbers: Vec<String> = [
        ("cpu family", "family"),
        ("model", "model"),
        ("stepping", "stepping"),
    ]
    .iter()
    .filter_map(|(key, label)| Some(format!("{label} {}", cpuinfo_field(cpuinfo, key)?)))
    .collect();
    match (name.is_empty(), numbers.is_empty()) {
        (_, true) => name.to_owned(),
        (true, false) => numbers.join(", "),
        (false, false) => format!("{name} ({})", numbers.join(", ")),
    }
}

/// (year, month, day, hour, minute, second) in UTC for a Unix time.
fn civil(secs: u64) -> (i64, u32, u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// RFC 3339 UTC, e.g. `2025-01-31T12:00:00Z`.
pub fn rfc3339(secs: u64) -> String {
    let (y, mo, d, h, mi, s) = civil(secs);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Now, RFC 3339 UTC.
pub fn now_rfc3339() -> String {
    rfc3339(unix_now())
}

/// Now as a folder name, e.g. `2025-01-31T120000Z`.
pub fn now_folder_stamp() -> String {
    let (y, mo, d, h, mi, s) = civil(unix_now());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}{mi:02}{s:02}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_names_family_model_and_stepping() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\n\
                       model\t\t: 17\nmodel name\t: AMD EPYC\nstepping\t: 1\n";
        assert_eq!(
            cpu_model(cpuinfo),
            "AMD EPYC (family 25, model 17, stepping 1)"
        );
        assert_eq!(cpu_model("model name\t: Some CPU\n"), "Some CPU");
        assert_eq!(cpu_model(""), "");
    }

    #[test]
    fn rustc_version_is_recorded() {
        assert!(this_machine().rustc.starts_with("rustc "));
    }

    #[test]
    fn unix_times_format_as_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_599), "2024-12-31T23:59:59Z");
    }
}
