//! `pushbench compare`: two runs side by side, optionally failing on a
//! regression.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

/// Options of `pushbench compare`.
#[derive(Debug, Parser)]
pub struct Args {
    /// The baseline run: a `results.json` or its folder.
    pub a: PathBuf,
    /// The run compared against it.
    pub b: PathBuf,
    /// Exit with an error when any lower-is-better figure of B is worse than
    /// A's by more than PCT percent.
    #[arg(long, value_name = "PCT", value_parser = crate::flags::decimal(0.0, 1_000_000.0, "percent"), allow_negative_numbers = true)]
    pub fail_over: Option<f64>,
    /// Instead of the changes, judge whether B (a merged N-shard run)
    /// measured what A (a 1-process run of the same scenario) did: every
    /// figure normalised (per client, event, response or connection) and
    /// held to a stated allowance (exact, seq digits, window edges, the
    /// histograms' precision, or not judged when it follows timing);
    /// exits with an error when a count or byte figure is not the same.
    #[arg(long, conflicts_with = "fail_over")]
    pub equivalence: bool,
    /// With --equivalence: also write the table and verdicts as Markdown
    /// to FILE.
    #[arg(long, value_name = "FILE", requires = "equivalence")]
    pub out: Option<PathBuf>,
}

/// Prints the comparison; fails on a regression over `--fail-over`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let a = pushbench_report::load_results(&args.a).context("reading run A")?;
    let b = pushbench_report::load_results(&args.b).context("reading run B")?;
    println!("A: {}\nB: {}\n", args.a.display(), args.b.display());
    if args.equivalence {
        return judge_equivalence(&args, &a, &b);
    }
    let comparison = pushbench_report::compare(&a, &b);
    print!("{}", comparison.table().to_text());
    if comparison.is_unchanged() {
        println!("\nno change");
    }
    if let Some(pct) = args.fail_over {
        let regressions = comparison.regressions(pct);
        if !regressions.is_empty() {
            eprintln!();
            for change in &regressions {
                eprintln!(
                    "regression: {} {}: {} -> {} ({})",
                    change.phase,
                    change.figure,
                    change.a,
                    change.b,
                    if change.ratio().is_infinite() {
                        "was 0".to_owned()
                    } else {
                        format!("worse by {:.1}%", change.worse_by_percent())
                    }
                );
            }
            bail!("{} figure(s) worse by more than {pct}%", regressions.len());
        }
    }
    Ok(())
}

/// `--equivalence`: the checks, the verdict per phase, the Markdown.
fn judge_equivalence(
    args: &Args,
    a: &pushbench_protocol::RunResult,
    b: &pushbench_protocol::RunResult,
) -> anyhow::Result<()> {
    let eq = pushbench_report::equivalence(a, b);
    let verdicts: Vec<String> = eq
        .verdicts()
        .iter()
        .map(|v| format!("{}: {}", v.phase, v.words()))
        .collect();
    print!("{}", eq.table().to_text());
    println!();
    for line in &verdicts {
        println!("{line}");
    }
    if let Some(path) = &args.out {
        let mut md = format!(
            "A: `{}`\n\nB: `{}`\n\n{}\n",
            args.a.display(),
            args.b.display(),
            eq.table().to_markdown()
        );
        for line in &verdicts {
            md.push_str(&format!("- {line}\n"));
        }
        std::fs::write(path, md).with_context(|| format!("writing {}", path.display()))?;
    }
    if !eq.counts_and_bytes_equal() {
        bail!(
            "B is not the same run as A: a count or byte figure differs beyond its allowance (see DIFFERS above)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;

    fn fixture() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../report/tests/fixtures/results.json")
    }

    #[test]
    fn a_file_against_itself_passes_even_at_zero_percent() {
        let path = fixture();
        let path = path.to_string_lossy();
        let args = Args::parse_from(["compare", &*path, &*path, "--fail-over", "0"]);
        run(args).expect("no change is no regression");
    }

    #[test]
    fn a_worse_run_fails_over_the_threshold() {
        let mut worse = pushbench_report::load_results(&fixture()).expect("fixture");
        worse.phases[0].latency_us.p99 *= 2;
        let dir =
            std::env::temp_dir().join(format!("pushbench-cli-compare-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let b = dir.join("results.json");
        std::fs::write(&b, serde_json::to_string(&worse).expect("json")).expect("write");
        let a = fixture();
        let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
        let err = run(Args::parse_from(["compare", &*a, &*b, "--fail-over", "10"]))
            .expect_err("p99 doubled");
        assert!(
            err.to_string()
                .contains("1 figure(s) worse by more than 10%"),
            "{err:#}"
        );
        run(Args::parse_from([
            "compare",
            &*a,
            &*b,
            "--fail-over",
            "150",
        ]))
        .expect("within 150%");
        run(Args::parse_from(["compare", &*a, &*b])).expect("no threshold, no failure");
    }
}
