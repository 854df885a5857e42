#!/usr/bin/env bash
# The byte-counting overhead, with and without counting (issue 6: "The byte
# counting must cost under 2 % of throughput").
#
# Runs the server's counting bench (crates/server/benches/counting.rs) and the
# load generator's meter bench (crates/loadgen/benches/meter.rs), then prints
# the with/without ratios from criterion's results under
# $CARGO_TARGET_DIR/criterion (default target/criterion):
#   - criterion's own estimates (new/estimates.json, median) of raw and
#     counted, each measured on its own: what criterion shows, but a change
#     in the machine's load between the two runs lands in the ratio;
#   - the interleaved measurement (paired.json): raw, counted and raw again
#     run back to back per iteration, overhead = median over iterations, with
#     an A/A figure (raw again vs raw) showing the method's own noise.
#
# Fails (exit 1) if the server's counting costs 2 % or more of loopback TCP
# throughput in the interleaved measurement, the production path. The
# in-memory (duplex) figure and the load generator's meter are printed, not
# gated: see docs/benchmarks.md.
#
# Usage: scripts/bench-counting.sh [--report-only]
#   --report-only  read the results of an earlier run, run nothing
set -euo pipefail

cd "$(dirname "$0")/.."
LIMIT_PCT=2
run=1
case "${1:-}" in
--report-only) run=0 ;;
"") ;;
*)
    echo "usage: $0 [--report-only]" >&2
    exit 2
    ;;
esac

if [[ $run == 1 ]]; then
    cargo bench -p pushbench-server --bench counting
    cargo bench -p pushbench-loadgen --bench meter
fi

CRITERION_DIR="${CRITERION_HOME:-${CARGO_TARGET_DIR:-target}/criterion}"
export CRITERION_DIR LIMIT_PCT

python3 - <<'EOF'
import json, os, sys

root = os.environ["CRITERION_DIR"]
limit = float(os.environ["LIMIT_PCT"])

def load(*parts):
    path = os.path.join(root, *parts)
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        sys.exit(f"missing {path}: run the benches first (without --report-only)")

def median_ns(*bench):
    return load(*bench, "new", "estimates.json")["median"]["point_estimate"]

print(f"\nresults in {root}\n")
print("criterion estimates, each variant measured on its own (median):")
for medium, tally in [("tcp", "conn-tally"), ("duplex", "atomic-tally")]:
    raw = median_ns("counting", medium, "raw")
    counted = median_ns("counting", medium, tally)
    print(f"  counting/{medium}: raw {raw / 1e6:.3f} ms, {tally} {counted / 1e6:.3f} ms, "
          f"with/without = {counted / raw:.4f} ({100 * (counted / raw - 1):+.2f} %)")

print("\ninterleaved (paired.json), median over iterations:")
gate = None
for group, medium in [
    ("counting", "tcp"),
    ("counting", "duplex"),
    ("counting", "duplex-single-writer"),
    ("counting", "duplex-noop"),
    ("meter", "tcp"),
    ("meter", "duplex"),
]:
    p = load(group, f"{medium}-paired", "paired.json")
    n = p.get("triples", p.get("pairs"))
    lo, hi = p["overhead_ci95_pct"]
    line = (f"  {group}/{medium}: {p['tally']}, {n} iterations, raw {p['raw_mib_s']:.1f} MiB/s, "
            f"counted {p['counted_mib_s']:.1f} MiB/s, overhead {p['overhead_pct']:+.2f} % "
            f"(95 % CI {lo:+.2f} .. {hi:+.2f})")
    if "aa_pct" in p:
        line += f", A/A {p['aa_pct']:+.2f} %"
    if "ns_per_event" in p:
        line += f", {p['ns_per_event']:.0f} ns/event"
    print(line)
    if (group, medium) == ("counting", "tcp"):
        gate = p

print()
if abs(gate["aa_pct"]) >= 1.0:
    print(f"warning: A/A difference {gate['aa_pct']:+.2f} % is large; the machine was noisy, rerun")
o = gate["overhead_pct"]
if o >= limit:
    print(f"FAIL: server byte counting costs {o:.2f} % of TCP throughput (limit {limit:g} %)")
    sys.exit(1)
print(f"ok: server byte counting costs {o:+.2f} % of TCP throughput (limit {limit:g} %)")
EOF
