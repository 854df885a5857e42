#!/usr/bin/env bash
# Scale run: 19,000 concurrent connections per transport against one
# `pushbench serve`, one event per second broadcast to all of them.
# Writes bench-results/<date>-scale/ with the results, the report and a
# README naming the command, the machine and the versions.
#
# Usage: scripts/scale.sh [OUT_DIR [extra `pushbench run` flags...]]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench-results/$(date -u +%F)-scale}
shift || true
# PUSHBENCH_BIN names a prebuilt binary; otherwise build the release one.
bin=${PUSHBENCH_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release -q
  bin=target/release/pushbench
fi
mkdir -p "$out"
cmd=("$bin" run --scenario scenarios/scale-19k.toml --out "$out" "$@")
echo "+ ${cmd[*]}" >&2
start=$(date -u +%FT%TZ)
"${cmd[@]}" 2>"$out/run.log" | tee "$out/summary.txt"
{
  echo "# Scale run, $start"
  echo
  echo "Command (from the repository root):"
  echo
  echo '```sh'
  echo "scripts/scale.sh $out $*"
  echo "# which runs:"
  echo "${cmd[*]}"
  echo '```'
  echo
  echo "## Machine and versions"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) logical CPUs"
  echo "- Memory: $(free -h | awk '/Mem:/ {print $2}')"
  echo "- Kernel: $(uname -sr)"
  echo "- Open-files limit (hard): $(ulimit -Hn)"
  echo "- $(rustc -V)"
  echo "- $("$bin" --version), commit $(git rev-parse --short HEAD)"
  echo "- Load average when it started: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo
  echo "## Summary"
  echo
  echo "Latency here is the time from an event's creation to its receipt by each"
  echo "client, so its max is the time one broadcast took to reach all clients."
  echo "Server and load generator share the machine's cores."
  echo
  echo '```'
  cat "$out/summary.txt"
  echo '```'
  echo
  echo "Full report: [report.md](report.md)."
} > "$out/README.md"
echo "wrote $out/README.md" >&2
