//! `pushbench report`: charts, `report.md` and `report.html` from a results file.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

/// Options of `pushbench report`.
#[derive(Debug, Parser)]
pub struct Args {
    /// A `results.json`, or the run folder that holds one.
    pub results: PathBuf,
    /// Where to write the charts and reports (default: beside the results).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Reads the results, writes the report, prints the summary and the files.
pub fn run(args: Args) -> anyhow::Result<()> {
    let result = pushbench_report::load_results(&args.results)?;
    let out = match args.out {
        Some(dir) => dir,
        None => {
            let file = pushbench_report::results_file(&args.results);
            file.parent()
                .map(|p| {
                    if p.as_os_str().is_empty() {
                        PathBuf::from(".")
                    } else {
                        p.to_path_buf()
                    }
                })
                .unwrap_or_else(|| PathBuf::from("."))
        }
    };
    let written = pushbench_report::write_report(&result, &out)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    print!("{}", pushbench_report::terminal_summary(&result));
    println!();
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_into_the_out_folder() {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../report/tests/fixtures/results.json"
        );
        let out = std::env::temp_dir().join(format!("pushbench-cli-report-{}", std::process::id()));
        let out_arg = out.to_string_lossy().into_owned();
        run(Args::parse_from(["report", fixture, "--out", &out_arg])).expect("report");
        assert!(out.join("report.html").is_file());
        assert!(out.join("bytes_per_event.png").is_file());
        let missing = run(Args::parse_from(["report", "/nonexistent/results.json"]));
        assert!(missing.is_err());
    }
}
