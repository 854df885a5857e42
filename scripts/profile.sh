#!/usr/bin/env bash
# Profile: where `pushbench serve` spends its CPU per delivered event.
# For each transport, one `pushbench serve` (with the extra serve flags of
# SERVE_ARGS, e.g. "--workers 1") under a fan-out load from `pushbench run
# --target`, sampled by `perf record --call-graph dwarf` for the middle of
# the measured window. Writes bench-results/<UTC date>-<LABEL>/ with, per
# transport T: T/results.json (the run), T/breakdown.md and .json (the
# server's samples booked to the parts of the delivery path by
# scripts/lib/perf-breakdown.py, with µs per delivery from the run's
# server CPU), T/folded.txt.gz (folded stacks, gzipped) and T/flamegraph.svg (when
# `inferno-flamegraph` is on PATH: `cargo install inferno`), and a README.
#
# With it, the load generator (`pushbench run`) is sampled the same way:
# T/loadgen-breakdown.md and .json (its classifier, meter and histogram
# as parts of their own, with µs per received event from the run's
# load-generator CPU), T/loadgen-folded.txt.gz and T/loadgen-flamegraph.svg.
#
# Usage: scripts/profile.sh [transports (default ws,sse,stream)]
#   env RATE (5000), CLIENTS (100), PAYLOAD (128): the load
#   env RAMP (0.5), WARMUP (1), DURATION (6): the run's seconds; perf
#       samples SAMPLE seconds (3) from the middle of the measured window
#   env RUN_ARGS: extra `pushbench run` flags (e.g. "--source-addresses 4"
#       for 19,000 clients: RATE=1 CLIENTS=19000 RAMP=15 WARMUP=3
#       DURATION=20 SAMPLE=10 RUN_ARGS="--source-addresses 4")
#   env SERVE_ARGS: extra `pushbench serve` flags
#   env LABEL (profile), FORCE=1 to replace the folder
# Needs perf (Debian: linux-perf) and root or kernel.perf_event_paranoid<=1.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
transports=${1:-ws,sse,stream}
rate=${RATE:-5000}
clients=${CLIENTS:-100}
payload=${PAYLOAD:-128}
ramp=${RAMP:-0.5}
warmup=${WARMUP:-1}
duration=${DURATION:-6}
sample=${SAMPLE:-3}
# Sampling starts this many seconds after the run: the middle of its window.
sample_at=$(python3 -c "print(max(0.0, $ramp + $warmup + ($duration - $sample) / 2))")
command -v perf >/dev/null || { echo "$0: needs perf (apt-get install linux-perf)" >&2; exit 1; }
bench_prepare "${LABEL:-profile}"
bench_env RATE CLIENTS PAYLOAD RAMP WARMUP DURATION SAMPLE RUN_ARGS SERVE_ARGS LABEL

port_file=$(mktemp)
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -f "$port_file"; }
trap cleanup EXIT

# breakdown T PID ROLE CPU PREFIX: books T's samples of PID.
breakdown() {
  local t=$1 pid=$2 role=$3 cpu=$4 prefix=$5 title
  perf script -i "$out/$t/${prefix}perf.data" -F pid,tid,period,ip,sym,dso 2>/dev/null |
    python3 scripts/lib/perf-breakdown.py --pid "$pid" --role "$role" --cpu-us-per-delivery "$cpu" \
      --folded "$out/$t/${prefix}folded.txt" --json "$out/$t/${prefix}breakdown.json" \
      >"$out/$t/${prefix}breakdown.md"
  rm "$out/$t/${prefix}perf.data"
  if command -v inferno-flamegraph >/dev/null; then
    title="pushbench $([ "$role" = server ] && echo serve || echo run), $t: $clients clients x $rate ev/s"
    inferno-flamegraph --title "$title" <"$out/$t/${prefix}folded.txt" >"$out/$t/${prefix}flamegraph.svg"
  fi
  gzip -9 "$out/$t/${prefix}folded.txt"
}

# per_event T WHO: the CPU µs per event of WHO (server, load_generator) in T's run.
per_event() {
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['phases'][0][sys.argv[2]]['cpu_us_per_event'])" "$out/$1/results.json" "$2"
}

bench_start
for t in ${transports//,/ }; do
  mkdir -p "$out/$t"
  # shellcheck disable=SC2086
  "$exe" serve --addr 127.0.0.1:0 --rate "$rate" --payload "$payload" ${SERVE_ARGS:-} >"$port_file" 2>"$out/$t/serve.log" &
  server=$!
  for _ in $(seq 50); do grep -q "listening on" "$port_file" && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$port_file" | head -1)
  [ -n "$url" ] || { echo "$0: serve did not start (see $out/$t/serve.log)" >&2; exit 1; }
  # shellcheck disable=SC2086
  "$exe" run --target "$url" --target-kind pushbench --target-pid "$server" \
    --transports "$t" --clients "$clients" --payload "$payload" \
    --duration "$duration" --warmup "$warmup" --ramp-up "$ramp" ${RUN_ARGS:-} \
    --out "$out/$t" --no-report >"$out/$t/summary.txt" 2>"$out/$t/run.log" &
  load=$!
  sleep "$sample_at"
  perf record -q -p "$load" -F 999 --call-graph dwarf,8192 -o "$out/$t/loadgen-perf.data" -- sleep "$sample" 2>/dev/null &
  load_perf=$!
  perf record -q -p "$server" -F 999 --call-graph dwarf,8192 -o "$out/$t/perf.data" -- sleep "$sample" 2>/dev/null
  wait "$load_perf" "$load"
  kill "$server"; wait "$server" 2>/dev/null || true
  breakdown "$t" "$server" server "$(per_event "$t" server)" ""
  breakdown "$t" "$load" loadgen "$(per_event "$t" load_generator)" loadgen-
  server=
done
bench_finish
ran=(serve --addr 127.0.0.1:0 --rate "$rate" --payload "$payload" ${SERVE_ARGS:-} "&&" run --target URL --target-kind pushbench --target-pid PID --transports T --clients "$clients" --payload "$payload" --duration "$duration" --warmup "$warmup" --ramp-up "$ramp" ${RUN_ARGS:-})

{
  cat <<EOT
# Where \`pushbench serve\` spends its CPU, $(date -u +%F)

$(bench_command_md "$@")

with \`perf record -p PID -F 999 --call-graph dwarf,8192 -- sleep $sample\` on the
server and, at the same time, on the load generator, during the middle of
each measured window, and
\`perf script | scripts/lib/perf-breakdown.py\`, which books every sample
to one part of the delivery path (the innermost frame that names one;
kernel samples by the system call they are in). µs per delivery is the
part's share of the server's CPU per delivered event in that run; the
load generator's table books its own parts (the classifier; the meter,
tracker and histogram) and gives µs per received event.
Sending includes the kernel's loopback delivery into the receiving
socket, which runs in the sender's system call.

$(bench_machine_md)
EOT
  for t in ${transports//,/ }; do
    printf '\n## %s\n\n' "$t"
    sed -n '/^phase/,/^$/p' "$out/$t/summary.txt" | sed 's/^/    /'
    echo
    cat "$out/$t/breakdown.md"
    [ -f "$out/$t/flamegraph.svg" ] && printf '\n[flame graph](%s/flamegraph.svg)\n' "$t"
    printf '\nThe load generator in the same window:\n\n'
    cat "$out/$t/loadgen-breakdown.md"
    [ -f "$out/$t/loadgen-flamegraph.svg" ] && printf '\n[flame graph](%s/loadgen-flamegraph.svg)\n' "$t"
  done
} >"$out/README.md"
echo "profile: wrote $out"
