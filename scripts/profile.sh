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
# Usage: scripts/profile.sh [transports (default ws,sse,stream)]
#   env RATE (5000), CLIENTS (100), PAYLOAD (128): the load
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
command -v perf >/dev/null || { echo "$0: needs perf (apt-get install linux-perf)" >&2; exit 1; }
bench_prepare "${LABEL:-profile}"

port_file=$(mktemp)
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -f "$port_file"; }
trap cleanup EXIT

bench_start
for t in ${transports//,/ }; do
  mkdir -p "$out/$t"
  # shellcheck disable=SC2086
  "$exe" serve --addr 127.0.0.1:0 --rate "$rate" --payload "$payload" ${SERVE_ARGS:-} >"$port_file" 2>"$out/$t/serve.log" &
  server=$!
  for _ in $(seq 50); do grep -q "listening on" "$port_file" && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.:]*' "$port_file" | head -1)
  [ -n "$url" ] || { echo "$0: serve did not start (see $out/$t/serve.log)" >&2; exit 1; }
  "$exe" run --target "$url" --target-kind pushbench --target-pid "$server" \
    --transports "$t" --clients "$clients" --payload "$payload" \
    --duration 6 --warmup 1 --ramp-up 0.5 --out "$out/$t" --no-report \
    >"$out/$t/summary.txt" 2>"$out/$t/run.log" &
  load=$!
  # The window runs from about 1.5 s to 7.5 s: sample 3 s of its middle.
  sleep 3.5
  perf record -q -p "$server" -F 999 --call-graph dwarf,8192 -o "$out/$t/perf.data" -- sleep 3 2>/dev/null
  wait "$load"
  kill "$server"; wait "$server" 2>/dev/null || true
  cpu=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['phases'][0]['server']['cpu_us_per_event'])" "$out/$t/results.json")
  perf script -i "$out/$t/perf.data" -F pid,tid,period,ip,sym,dso 2>/dev/null |
    python3 scripts/lib/perf-breakdown.py --pid "$server" --cpu-us-per-delivery "$cpu" \
      --folded "$out/$t/folded.txt" --json "$out/$t/breakdown.json" >"$out/$t/breakdown.md"
  rm "$out/$t/perf.data"
  if command -v inferno-flamegraph >/dev/null; then
    inferno-flamegraph --title "pushbench serve, $t: $clients clients x $rate ev/s" \
      <"$out/$t/folded.txt" >"$out/$t/flamegraph.svg"
  fi
  gzip -9 "$out/$t/folded.txt"
  server=
done
bench_finish
ran=(serve --addr 127.0.0.1:0 --rate "$rate" --payload "$payload" ${SERVE_ARGS:-} "&&" run --target URL --target-kind pushbench --target-pid PID --transports T --clients "$clients" --payload "$payload" --duration 6 --warmup 1 --ramp-up 0.5)

{
  cat <<EOT
# Where \`pushbench serve\` spends its CPU, $(date -u +%F)

$(bench_command_md "$@")

with \`perf record -p PID -F 999 --call-graph dwarf,8192 -- sleep 3\` on the
server during the middle of each measured window, and
\`perf script | scripts/lib/perf-breakdown.py\`, which books every sample
to one part of the delivery path (the innermost frame that names one;
kernel samples by the system call they are in). µs per delivery is the
part's share of the server's CPU per delivered event in that run.
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
  done
} >"$out/README.md"
echo "profile: wrote $out"
