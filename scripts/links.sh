#!/usr/bin/env bash
# The links reference run: every transport over loopback and the emulated
# lan, cable, 4g, 3g and lossy paths (scripts/links.toml), HTTP/2 over TLS
# on two of them, and the four teaching claims of docs/networks.md, each in
# a folder of its own:
#   burst/        RFC 6202's long-polling worst case: events in bursts of
#                 5 over a 100 ms RTT (long polling, SSE, WebSocket);
#   quantum-leap/ the "Quantum Leap" paper's 150 ms against 50 ms: a new
#                 TCP connection per poll (--keep-alive off) against
#                 WebSocket at 50 ms one way (when this build has
#                 --keep-alive);
#   h2-loss/      2 % loss: HTTP/2 with 20 clients on one connection
#                 against HTTP/1.1's connection each;
#   uplink/       the uplink cost of polling heads on 3g: 20 clients with
#                 browser headers.
# Writes bench-results/<UTC date>-links/ with results.json, the report,
# every chart and a README naming the commands, machine and versions.
# Needs root (CAP_NET_ADMIN: namespaces and TUN devices). About 12
# minutes on 2 cores, plus the release build.
#
# Usage: scripts/links.sh [extra `pushbench run` flags, applied to every run...]
#   env FORCE=1      replace an existing folder of the same name
#   env LABEL        folder suffix (default: links)
#   env BENCH_ROOT   parent folder (default: bench-results)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-links}"
help=$("$exe" run --help)
has_flag() { grep -qE -- "--$1([^a-z0-9-]|$)" <<<"$help"; }

cp scripts/links.toml "$out/scenario.toml"
bench_run run --scenario "$out/scenario.toml" --out "$out" "$@"
commands=("${exe} ${ran[*]}")
main_started=$started
main_load_before=$load_before
main_out=$out

# part NAME ARGS...: one run into $main_out/NAME.
part() {
  local name=$1
  shift
  out=$main_out/$name
  mkdir -p "$out"
  bench_run run --out "$out" "$@"
  commands+=("${exe} ${ran[*]}")
  out=$main_out
}
common=(--clients 10 --rate 5 --payload 128 --duration 6 --warmup 2 --ramp-up 0.5)
part h2-tls --transports short-poll,long-poll,stream,sse,ws --link '4g;lossy' \
  --http 2 --tls on "${common[@]}" "$@"
part burst --transports long-poll,sse,ws --link rtt=100ms --burst 5 "${common[@]}" "$@"
ql_md="Not measured: this build's \`pushbench run\` has no \`--keep-alive\`."
if has_flag keep-alive; then
  part quantum-leap --transports short-poll,long-poll,ws --link rtt=100ms \
    --keep-alive off "${common[@]}" "$@"
  ql_md="[quantum-leap/](quantum-leap/report.md)"
fi
part h2-loss --transports sse,ws --link lossy --http 1.1,2 --h2-streams 20 \
  --clients 20 --rate 10 --payload 128 --duration 8 --warmup 2 --ramp-up 0.5 "$@"
part uplink --transports short-poll,long-poll,sse --link 3g --headers browser \
  --clients 20 --rate 5 --payload 128 --duration 6 --warmup 2 --ramp-up 0.5 "$@"
started=$main_started
load_before=$main_load_before

printf -v command_lines '%s\n' "${commands[@]}"
cat >"$out/README.md" <<EOT
# Links, $(date -u +%F)

Made by \`scripts/links.sh${*:+ $*}\`, which ran (from the repository root, as root):

\`\`\`sh
cargo build --release -p pushbench-cli
${command_lines}\`\`\`

The main run ([scenario.toml](scenario.toml), from
[scripts/links.toml](../../scripts/links.toml)): every transport at 10
clients and 5 events/s of 128-byte payloads over each link, against an
embedded \`pushbench serve\` child in a network namespace of its own, the
clients in another, joined by pushbench's emulated link (\`--link\`; the
profiles' figures and their sources are in crates/protocol/src/link.rs).
The parts: [h2-tls/](h2-tls/report.md) (HTTP/2 over TLS on 4g and lossy),
[burst/](burst/report.md) (bursts of 5 over a 100 ms RTT),
${ql_md} (a new connection per poll over a 100 ms RTT),
[h2-loss/](h2-loss/report.md) (2 % loss, 20 clients on one HTTP/2
connection against a connection each over HTTP/1.1),
[uplink/](uplink/report.md) (20 polling clients with browser heads on 3g).
How to read it: [docs/networks.md](../../docs/networks.md).

$(bench_machine_md)

## Summary
$(bench_section "$out/report.md" Summary)

![latency against RTT](latency_vs_rtt.svg)

Full report: [report.md](report.md), [report.html](report.html). Raw
data: [results.json](results.json) and each part's, the HdrHistogram logs
\`latency-*.hlog\`, the terminal summaries \`summary.txt\` and the
progress logs \`run.log\`.
EOT
echo "links: wrote $out"
