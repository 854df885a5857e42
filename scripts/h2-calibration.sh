#!/usr/bin/env bash
# HTTP/2 header compression, calibrated against a browser: what one empty
# short poll costs over HTTP/2 and TLS, sent by Debian's headless Chromium
# (tests/browser/h2-poll-cost.mjs, from the server's socket counts) and by
# pushbench's own client (`pushbench run`, same Chromium request headers,
# from its socket counts), each with the `browser` profile's 256-byte
# cookie and with none. The two HPACK encoders differ in one policy: h2,
# which the load generator uses, never indexes a `cookie` value (a rule it
# takes from nghttp2), Chromium does. Writes
# bench-results/<UTC date>-h2-chromium/ with a README (command, machine,
# versions, both figures).
#
# Usage: scripts/h2-calibration.sh
#   env FORCE=1   replace an existing folder of the same name
#   env POLLS     Chromium's polls per measurement (default 100)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/bench.sh
source scripts/lib/bench.sh
bench_prepare "${LABEL:-h2-chromium}"
polls=${POLLS:-100}
npm ci --prefix tests/browser --no-audit --no-fund >/dev/null

bench_start
for cookie in 256 0; do
  PUSHBENCH_BIN="$exe" node tests/browser/h2-poll-cost.mjs "$polls" "$cookie" \
    2>>"$out/run.log" | tee -a "$out/chromium.jsonl"
  profile=browser:$cookie
  # Rate 0: every poll finds nothing, as Chromium's do; 50 ms apart.
  "$exe" run --transports short-poll --http 2 --tls on --headers "$profile" \
    --clients 1 --rate 0 --warmup 1 --duration 5 --poll-interval 50 \
    --out "$out/pushbench-cookie-$cookie" --no-report >>"$out/run.log" 2>&1
done
bench_finish

python3 - "$out" >"$out/table.md" <<'PY'
import json, sys
out = sys.argv[1]
chromium = {r["cookie_bytes"]: r for r in map(json.loads, open(f"{out}/chromium.jsonl"))}
print("| client | cookie B | polls | sent B/poll | received B/poll |")
print("|---|---:|---:|---:|---:|")
for cookie in (256, 0):
    c = chromium[cookie]
    print(f"| Chromium {c['browser']} | {cookie} | {c['polls']} | {c['sent_per_poll']:.1f} | {c['received_per_poll']:.1f} |")
for cookie in (256, 0):
    p = json.load(open(f"{out}/pushbench-cookie-{cookie}/results.json"))["phases"][0]
    polls = p["connections"]["responses"]
    total = lambda d: sum(v for k, v in p["traffic"][d].items() if k != "tcp_ip")
    print(f"| pushbench's HTTP/2 client | {cookie} | {polls} | {total('sent') / polls:.1f} | {total('received') / polls:.1f} |")
PY

cat >"$out/README.md" <<EOT
# HTTP/2 header compression: pushbench's client against Chromium, $(date -u +%F)

Made by \`scripts/$(basename "$0")\`, which ran (from the repository root),
for a cookie of 256 bytes and of none:

\`\`\`sh
cargo build --release -p pushbench-cli
PUSHBENCH_BIN=$exe node tests/browser/h2-poll-cost.mjs $polls COOKIE
$exe run --transports short-poll --http 2 --tls on --headers browser:COOKIE \\
  --clients 1 --rate 0 --warmup 1 --duration 5 --poll-interval 50 --out DIR --no-report
\`\`\`

Both send Chromium's own request headers over HTTP/2 and TLS to the same
\`pushbench serve --tls\`; every poll finds no event. Bytes are the
ciphertext each way per poll (HEADERS and DATA frames, WINDOW_UPDATEs, TLS
records): Chromium's from the server's socket counts of its connection
(one \`/stats\` call's own bytes taken off), pushbench's from its client
sockets (its windowed \`traffic\`, divided by the window's responses).

$(cat "$out/table.md")

Chromium's HPACK encoder indexes the cookie, so after the first request it
costs a byte or two; h2's (the load generator's HTTP/2 client) never
indexes a \`cookie\` value, a policy it shares with nghttp2 (curl, h2load),
so every request carries it again, Huffman-coded. Without a cookie the two
clients are close. Read pushbench's HTTP/2 figures with a cookie as those
of an nghttp2-style client, and the Chromium row as what a browser pays.

$(bench_machine_md)

Raw data: [chromium.jsonl](chromium.jsonl), \`pushbench-cookie-*/results.json\`,
[run.log](run.log).
EOT
cat "$out/table.md"
