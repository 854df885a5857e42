#!/usr/bin/env bash
# The matrix reference run: every transport in every combination of HTTP
# version (1.1, 2), TLS (off, on), content coding (identity, gzip) and
# request header profile (minimal, browser), from scripts/matrix.toml, then
# br against gzip on the modern stack alone (HTTP/2, TLS, browser headers;
# the transports whose bodies are coded) in br/, and 100 clients over
# HTTP/2 with one and with ten clients per connection in streams-1/ and
# streams-10/. Writes
# bench-results/<UTC date>-matrix/ with results.json, the report, every
# chart (the classic-argument chart among them) and a README naming the
# commands, machine, load and versions. About 8 minutes on 2 cores
# (88 phases of 5.5 s), plus the release build.
#
# Usage: scripts/matrix.sh [extra `pushbench run` flags, applied to both runs...]
#   env FORCE=1      replace an existing folder of the same name
#   env LABEL        folder suffix (default: matrix)
#   env BENCH_ROOT   parent folder (default: bench-results)
# A dimension this build's `pushbench run` cannot run yet (no --http or
# no --compression flag) is left out of the scenario that runs
# ($out/scenario.toml) rather than recorded as a label without an effect;
# the README says which. Run it on an otherwise quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-matrix}"

# What this build can vary: a flag in `run --help` means the dimension
# does something.
help=$("$exe" run --help)
has_flag() { grep -qE -- "--$1([^a-z0-9-]|$)" <<<"$help"; }
scenario=$out/scenario.toml
cp scripts/matrix.toml "$scenario"
left_out=()
if ! has_flag http; then
  sed -i -E '/^(http|h2_streams) *=/d' "$scenario"
  left_out+=("HTTP/2 (\`http\`: this build's \`pushbench run\` has no \`--http\`)")
fi
if ! has_flag compression; then
  sed -i -E '/^coding *=/d' "$scenario"
  left_out+=("content codings (\`coding\`: this build's \`pushbench run\` has no \`--compression\`)")
fi

bench_run run --scenario "$scenario" --out "$out" "$@"
main_ran=("${ran[@]}")
main_started=$started
main_load_before=$load_before

# br where it adds information: on the stack a browser uses today, against
# gzip on the same bodies (identity is in the main run). WebSocket is left
# out: its frames are not content-coded.
br_md="br was not measured: it needs \`--compression\`."
br_command=""
if has_flag compression; then
  br=$out/br
  mkdir -p "$br"
  br_flags=(--transports short-poll,long-poll,stream,sse --compression gzip,br --tls on
    --headers browser)
  if has_flag http; then
    br_flags+=(--http 2)
  fi
  main_out=$out
  out=$br
  bench_run run --scenario "$scenario" --out "$br" "${br_flags[@]}" "$@"
  out=$main_out
  br_command="${exe} ${ran[*]}"
  br_md="[br/](br/report.md): gzip against br, \`${br_flags[*]}\` (its summary:
[br/summary.txt](br/summary.txt), its charts and report beside it)."
fi
# Many streams on one connection: 100 clients over HTTP/2 and TLS, one
# connection each and then ten clients per connection (`--h2-streams`), for
# the transports that hold a stream open and for long polling.
streams_md="Streams per connection were not measured: it needs \`--h2-streams\`."
streams_commands=""
streams_sections=""
if has_flag h2-streams; then
  main_out=$out
  for k in 1 10; do
    out=$main_out/streams-$k
    mkdir -p "$out"
    bench_run run --out "$out" --transports long-poll,sse,ws --http 2 --tls on \
      --clients 100 --rate 20 --duration 4 --warmup 1 --h2-streams "$k" "$@"
    streams_commands+="
${exe} ${ran[*]}"
  done
  out=$main_out
  streams_sections="## HTTP/2: a connection per client, then ten clients per connection

### One stream per connection (streams-1/)
$(bench_section "$out/streams-1/report.md" Summary)

### Ten streams per connection (streams-10/)
$(bench_section "$out/streams-10/report.md" Summary)
"
  streams_md="[streams-1/](streams-1/report.md) and [streams-10/](streams-10/report.md):
100 clients over HTTP/2 and TLS, a connection each against ten clients per
connection (\`--h2-streams 10\`)."
fi
started=$main_started
load_before=$main_load_before

if [ ${#left_out[@]} -eq 0 ]; then
  left_out_md="Every dimension of [scenario.toml](scenario.toml) ran."
else
  left_out_md="Left out of this run (not yet in this build): $(printf '%s; ' "${left_out[@]}" | sed 's/; $//')."
fi

cat >"$out/README.md" <<EOT
# The matrix, $(date -u +%F)

Made by \`scripts/matrix.sh${*:+ $*}\`, which ran (from the repository root):

\`\`\`sh
cargo build --release -p pushbench-cli
${exe} ${main_ran[*]}${br_command:+
$br_command}${streams_commands}
\`\`\`

The scenario that ran is [scenario.toml](scenario.toml) (from
[scripts/matrix.toml](../../scripts/matrix.toml)): every transport at 20
clients and 20 events/s of 128-byte payloads, short polls every 50 ms,
against an embedded \`pushbench serve\` child on a loopback port, in every
combination of its \`http\`, \`tls\`, \`coding\` and \`headers\`; the
flags after it in the commands above override it.
${left_out_md} ${br_md} ${streams_md} How to read it: [docs/matrix.md](../../docs/matrix.md).

$(bench_machine_md)

## The classic argument, measured
$(bench_section "$out/report.md" "The classic argument, measured")

![classic argument](classic_argument.svg)

## Summary
$(bench_section "$out/report.md" Summary)

${streams_sections}
Full report: [report.md](report.md), [report.html](report.html) (the
variant table by class, every chart). Raw data: [results.json](results.json),
[results.csv](results.csv), the HdrHistogram logs \`latency-*.hlog\`, the
terminal summary [summary.txt](summary.txt) and the progress log
[run.log](run.log).
EOT
echo "matrix: wrote $out"
