#!/usr/bin/env bash
# Ground truth for pushbench's byte counts: capture the loopback traffic of a
# real multi-transport run with tshark and compare, per transport and per
# direction, the TCP payload bytes in the capture with the client sockets'
# counts (they must be equal to the byte), and the capture's packets and
# IP+TCP header bytes with the `tcp_ip` estimate from TCP_INFO.
#
# Every transport runs in the clear and over TLS (the server is a `serve
# --tls`, whose port answers both; the run pins the certificate it wrote
# out), and over HTTP/1.1 and HTTP/2 when this pushbench speaks it; the
# table has a row pair per transport and variant.
#
# With LINK=PROFILE the clients reach the server over an emulated link
# (`run --link PROFILE --target`): the server listens on 0.0.0.0 on the
# host, the run puts its clients in a namespace behind a userspace link
# whose host end is a TUN device, and tshark captures the server's side of
# the link (`-i any`, the server's port, not 127.0.0.1: the runner's
# control calls stay on loopback and are left out). Payload bytes are each
# conversation's sequence extent, so they must still equal the sockets'
# counts to the byte, lossy link or not; the bytes seen more than once are
# set against `link_measured.retransmits` (the server's side sees each of
# the server's retransmissions, and only those of the client's that
# reached it). The TCP_INFO segment/header check applies to loopback only.
#
# Usage: scripts/verify-wire.sh [OUT_DIR]
#   env PUSHBENCH   the pushbench binary (default: cargo build --release one)
#   env CLIENTS, RATE, DURATION, PAYLOAD   the run (defaults 5, 20, 3, 128)
#   env TLS         the run's --tls (default off,on)
#   env HTTP        the run's --http (default 1.1,2 when `run` has --http)
#   env TRANSPORTS  the run's --transports (default all five)
#   env LINK        an emulated link profile, e.g. rtt=20ms,loss=1% (default
#                   none: loopback); TLS defaults to off with it. Needs root.
#   env TARGET_KIND another kind of server (`--target-kind`, e.g. nchan),
#                   started by scripts/targets/KIND/start instead of `serve`;
#                   plaintext HTTP/1.1 only (TLS off, HTTP 1.1), the load
#                   generator publishing at RATE. Default: pushbench.
# Writes OUT_DIR/{capture.pcapng,wire.jsonl,results.json,comparison.md,
# comparison.json}; prints comparison.md. Exit 0: every byte matches;
# 1: a mismatch; 77: capture not possible here (no tshark, not permitted).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-$(mktemp -d /tmp/pushbench-wire.XXXXXX)}
mkdir -p "$out"
clients=${CLIENTS:-5}
rate=${RATE:-20}
duration=${DURATION:-3}
payload=${PAYLOAD:-128}
transports=${TRANSPORTS:-short-poll,long-poll,stream,sse,ws}
link=${LINK:-}
kind=${TARGET_KIND:-pushbench}
if [ -n "$link" ] || [ "$kind" != pushbench ]; then tls=${TLS:-off}; else tls=${TLS:-off,on}; fi
if [ "$kind" != pushbench ]; then
  HTTP=${HTTP:-1.1}
  [ -z "$link" ] || { echo "verify-wire: TARGET_KIND runs on loopback only" >&2; exit 2; }
  [ -x "scripts/targets/$kind/start" ] || { echo "verify-wire: no scripts/targets/$kind/start" >&2; exit 2; }
fi

if ! command -v tshark >/dev/null; then
  echo "verify-wire: tshark is not installed (Debian package tshark)" >&2
  exit 77
fi
if [ -z "${PUSHBENCH:-}" ]; then
  cargo build --release -q -p pushbench-cli
  PUSHBENCH=${CARGO_TARGET_DIR:-target}/release/pushbench
fi

pids=()
# A target's start script stops its server on SIGTERM: wait for that.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -n "${SERVER_PID:-}" ] && wait "$SERVER_PID" 2>/dev/null || true
}
trap cleanup EXIT

# The server, on an ephemeral port; its first stdout line names it.
if [ -z "${HTTP+set}" ] && "$PUSHBENCH" run --help | grep -q -- '--http '; then
  HTTP=1.1,2
fi
http_args=()
[ -n "${HTTP:-}" ] && http_args=(--http "$HTTP")

listen=127.0.0.1:0
link_args=()
filter_extra=""
iface=lo
if [ -n "$link" ]; then
  # The link's host end reaches the server on the host's own address for
  # it, so the server listens on every address.
  listen=0.0.0.0:0
  link_args=(--link "$link")
  filter_extra=" and not host 127.0.0.1"
  iface=any
fi
kind_args=()
if [ "$kind" = pushbench ]; then
  coproc SERVER { exec "$PUSHBENCH" serve --addr "$listen" --rate "$rate" --payload "$payload" \
    --tls --tls-cert-out "$out/cert.pem" 2>"$out/server.stderr"; }
  kind_args=(--target-cert "$out/cert.pem")
else
  # The targets' contract: first line `KIND listening on URL`; the load
  # generator publishes into it at the run's rate.
  coproc SERVER { exec "scripts/targets/$kind/start" --addr "$listen" 2>"$out/server.stderr"; }
  kind_args=(--target-kind "$kind" --rate "$rate" --payload "$payload")
fi
pids+=("$SERVER_PID")
# Pushpin starts its own processes and zurl, and may try three times
# (scripts/targets/pushpin/start): give it time.
read -r -t 90 line <&"${SERVER[0]}" || true
if [ "$kind" != pushbench ] && read -r -t 5 pid_line <&"${SERVER[0]}"; then
  kind_args+=(--target-pid "${pid_line#pid }")
fi
url=${line#"$kind" listening on }
port=${url##*:}
url=${url/0.0.0.0/127.0.0.1}
case $port in ''|*[!0-9]*)
  echo "verify-wire: unexpected server line: $line" >&2
  cat "$out/server.stderr" >&2
  exit 1;;
esac

# The capture: only this server's port; headers are enough (-s 128).
tshark -q -i "$iface" -f "tcp port $port$filter_extra" -s 128 -w "$out/capture.pcapng" 2>"$out/tshark.stderr" &
pids+=("$!")
tshark_pid=$!
for _ in $(seq 1 100); do
  grep -q "Capturing on" "$out/tshark.stderr" 2>/dev/null && break
  if ! kill -0 "$tshark_pid" 2>/dev/null; then
    echo "verify-wire: capture not possible: $(cat "$out/tshark.stderr")" >&2
    exit 77
  fi
  sleep 0.1
done
grep -q "Capturing on" "$out/tshark.stderr" || { echo "verify-wire: tshark did not start" >&2; exit 77; }
# dumpcap announces itself a moment before its filter sees packets; on a
# busy machine the first connection could otherwise be missed.
sleep 1

"$PUSHBENCH" run --target "$url" --transports "$transports" "${link_args[@]}" \
  --clients "$clients" --duration "$duration" --warmup 0.5 --ramp-up 0.2 \
  --tls "$tls" "${kind_args[@]}" "${http_args[@]}" \
  --out "$out" --no-report --wire-log "$out/wire.jsonl" >"$out/run.stdout" 2>"$out/run.stderr" \
  || { echo "verify-wire: the run failed:" >&2; cat "$out/run.stderr" >&2; exit 1; }

# Let the last FINs land in the capture and dumpcap write them (it can lag
# on a busy machine): wait until the file stops growing, then stop it.
sleep 1
last=-1
for _ in $(seq 1 50); do
  size=$(stat -c %s "$out/capture.pcapng" 2>/dev/null || echo 0)
  [ "$size" = "$last" ] && break
  last=$size
  sleep 0.5
done
kill -INT "$tshark_pid"
wait "$tshark_pid" 2>/dev/null || true

tshark -r "$out/capture.pcapng" -T fields -E separator=, \
  -e tcp.stream -e tcp.srcport -e tcp.dstport -e tcp.len -e ip.len -e tcp.seq -e frame.time_relative \
  >"$out/packets.csv"

python3 - "$out" "$port" "$link" "$kind" <<'PY'
import collections, json, sys
out, port, link, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
conns = [json.loads(l) for l in open(f"{out}/wire.jsonl")]
# Over a link, the connections on loopback (the runner's control calls)
# are not in the capture of the link's server side.
off_link = [c for c in conns if link and c["local"].startswith("127.")]
conns = [c for c in conns if not (link and c["local"].startswith("127."))]
# Each connection's variant, from its phase in results.json (phase 0: the
# runner's own control calls).
phases = json.load(open(f"{out}/results.json"))["phases"]
def variant(c):
    if c["phase"] == 0:
        return c["kind"]
    p = phases[c["phase"] - 1]
    return c["kind"] + (" h2" if p.get("http") == "2" else "") + (" tls" if p.get("tls") else "")
for c in conns:
    c["variant"] = variant(c)
lport = lambda c: int(c["local"].rsplit(":", 1)[1])
# Per captured TCP conversation (tshark's tcp.stream, split at each new SYN,
# so a client port the kernel reuses is two conversations): client port and,
# per direction, payload bytes, packets, IP+TCP header bytes.
streams = {}
for line in open(f"{out}/packets.csv"):
    *fields, time = line.strip().split(",")
    stream, src, dst, tlen, iplen, seq = map(int, fields)
    st = streams.setdefault(stream, {"port": src if dst == port else dst, "start": float(time),
                                     "sent": [0, 0, 0, 0], "received": [0, 0, 0, 0]})
    c = st["sent" if dst == port else "received"]
    # Payload bytes are the stream's extent (relative seq starts at 1 after
    # the SYN), so a retransmitted segment is not counted twice; c[3] keeps
    # the sum of segment lengths to show retransmissions.
    if tlen:
        c[0] = max(c[0], seq + tlen - 1)
    c[1] += 1; c[2] += iplen - tlen; c[3] += tlen
# Each logged connection must have its own captured conversation on its
# port carrying exactly its socket counts; every conversation must be used.
free = collections.defaultdict(list)
for st in streams.values():
    free[st["port"]].append(st)
cap = {}
unknown = []
for i, c in enumerate(conns):
    cands = free[lport(c)]
    match = next((st for st in cands if st["sent"][0] == c["socket_sent"]
                  and st["received"][0] == c["socket_received"]), None)
    if match is None and cands:
        match = cands[0]  # the bytes differ: keep it so the table shows by how much
    if match is not None:
        cands.remove(match)
        cap[(i, "sent")], cap[(i, "received")] = match["sent"], match["received"]
unknown = sorted(st["port"] for sts in free.values() for st in sts)
# Over a link the runner first checks that the target answers through it
# (loadgen `reachable_across`), and against another kind of server it
# checks the server still accepts connections where pushbench's own
# answers /stats (loadgen `observed_target`): a connection opened and
# closed without a byte of payload, not logged.
empty = lambda st: st["sent"][3] == 0 and st["received"][3] == 0
checks = link or kind != "pushbench"
probes = sorted(st["port"] for sts in free.values() for st in sts if checks and empty(st))
unknown = [p for p in unknown if p not in probes]
order = ["short-poll", "long-poll", "stream", "sse", "ws", "control"]
kinds = sorted({c["variant"] for c in conns},
               key=lambda v: (order.index(v.split()[0]) if v.split()[0] in order else 99, v))
rows, ok = [], not unknown
# Each connection's classes add up to its socket counts (every byte booked
# once), which the capture then checks.
unbooked = [c["local"] for c in conns if c.get("classes_sent", c["socket_sent"]) != c["socket_sent"]
            or c.get("classes_received", c["socket_received"]) != c["socket_received"]]
ok &= not unbooked
for kind in kinds:
    mine = [(i, c) for i, c in enumerate(conns) if c["variant"] == kind]
    if not mine:
        continue
    for d, seg in (("sent", "segs_out"), ("received", "segs_in")):
        none = [0, 0, 0, 0]
        sock = sum(c[f"socket_{d}"] for _, c in mine)
        cb = sum(cap.get((i, d), none)[0] for i, _ in mine)
        cpk = sum(cap.get((i, d), none)[1] for i, _ in mine)
        chb = sum(cap.get((i, d), none)[2] for i, _ in mine)
        segs = sum(c[seg] or 0 for _, c in mine) if kind != "control" else None
        est = sum(c[f"tcp_ip_{d}"] for _, c in mine) if kind != "control" else None
        retx = sum(cap.get((i, d), none)[3] for i, _ in mine) - cb
        ok &= all((i, d) in cap for i, _ in mine)
        equal = sock == cb
        ok &= equal
        if segs is not None and not link:
            # TCP_INFO is read just before the client closes, so the
            # teardown's FIN/ACK segments (at most 2 per connection and
            # direction) are the only packets it may lack; and every
            # segment's IP+TCP header is what tcp_ip_header_bytes says.
            # Over TLS the client's close_notify (and the ACK of the
            # server's) also follow the read: up to 4. A live stream may
            # deliver one more event between the read and the close (its
            # segment, and the client's ACK of it): one more each way.
            # The bytes of such an event are counted on the socket all the
            # same; only the estimate's segment count lags.
            teardown = cpk - segs
            ok &= 0 <= teardown <= (5 if kind.endswith(" tls") else 3) * len(mine)
            # Each teardown segment's header is 52 bytes, or 64 with a
            # SACK block (seen when a TLS client's close_notify crosses the
            # server's FIN); the segments TCP_INFO counted match exactly.
            ok &= 52 * teardown <= chb - est <= 64 * teardown
        rows.append(dict(kind=kind, direction=d, connections=len(mine), socket_bytes=sock,
                         capture_bytes=cb, equal=equal, capture_packets=cpk, retransmitted_bytes=retx, tcp_info_segments=segs,
                         capture_header_bytes=chb, tcp_ip_estimate=est))
md = ["Capture vs socket, per transport and direction (client view: sent = client to server).", "",
      "| transport | dir | conns | socket bytes | capture bytes | equal | retransmitted B | capture packets | TCP_INFO segs | capture IP+TCP header B | tcp_ip estimate B |",
      "|---|---|---:|---:|---:|:-:|---:|---:|---:|---:|---:|"]
for r in rows:
    f = lambda v: "-" if v is None else str(v)
    md.append(f"| {r['kind']} | {r['direction']} | {r['connections']} | {r['socket_bytes']} | {r['capture_bytes']} | "
              f"{'yes' if r['equal'] else '**NO**'} | {r['retransmitted_bytes']} | {r['capture_packets']} | {f(r['tcp_info_segments'])} | "
              f"{r['capture_header_bytes']} | {f(r['tcp_ip_estimate'])} |")
retx = []
for n, p in enumerate(phases, 1):
    m = (p.get("link_measured") or {}).get("retransmits")
    if not link or m is None:
        continue
    mine = [i for i, c in enumerate(conns) if c["phase"] == n]
    for d in ("sent", "received"):
        # The server's side sees every segment the server sent, so its
        # retransmitted bytes should equal the server sockets' count (when
        # each was read); of the client's it misses those whose first copy
        # the link dropped, so it sees at most the client sockets' count.
        total = sum(cap[(i, d)][3] for i in mine if (i, d) in cap)
        extent = sum(cap[(i, d)][0] for i in mine if (i, d) in cap)
        retx.append(dict(phase=n, transport=p.get("transport"), direction=d,
                         capture_segment_bytes=total, capture_extent_bytes=extent,
                         capture_retransmitted_bytes=total - extent,
                         tcp_info_retransmitted_bytes=m[f"{d}_bytes"],
                         tcp_info_retransmitted_segments=m[f"{d}_segments"],
                         sockets=m["client_sockets" if d == "sent" else "server_sockets"]))
        r = retx[-1]
        r["expected"] = "capture <= TCP_INFO" if d == "sent" else "capture = TCP_INFO"
        r["holds"] = (r["capture_retransmitted_bytes"] <= r["tcp_info_retransmitted_bytes"] if d == "sent"
                      else r["capture_retransmitted_bytes"] == r["tcp_info_retransmitted_bytes"]
                      or r["sockets"] < len(mine))
if retx:
    md += ["", f"Retransmissions over the link `{link}`, per phase and direction: the capture's payload bytes",
           "seen more than once (sum of segment lengths minus the sequence extent) vs `link_measured.retransmits`",
           "(`tcpi_bytes_retrans` of the client sockets for sent, of the server sockets for received).", "",
           "Expected: received (the server's) equal; sent (the client's) capture at most TCP_INFO, as the",
           "capture misses a retransmitted segment's first copy the link dropped before the server. Not a",
           "pass/fail condition of the script (its exit is the byte check).", "",
           "| phase | transport | dir | capture segment B | capture extent B | capture retransmitted B | TCP_INFO retransmitted B | TCP_INFO retransmitted segs | sockets read | expected | holds |",
           "|---:|---|---|---:|---:|---:|---:|---:|---:|---|:-:|"]
    for r in retx:
        md.append(f"| {r['phase']} | {r['transport']} | {r['direction']} | {r['capture_segment_bytes']} | {r['capture_extent_bytes']} | "
                  f"{r['capture_retransmitted_bytes']} | {r['tcp_info_retransmitted_bytes']} | {r['tcp_info_retransmitted_segments']} | {r['sockets']} | "
                  f"{r['expected']} | {'yes' if r['holds'] else '**no**'} |")
if probes:
    md.append(f"\n{len(probes)} captured conversation(s) without payload and not in the wire log (reachability checks): ports {probes[:10]}")
if off_link:
    md.append(f"\n{len(off_link)} connection(s) on loopback (the runner's control calls) are not on the link and not compared.")
if unbooked:
    md.append(f"\n{len(unbooked)} connection(s) whose classes do not add up to their socket counts: {unbooked[:10]}")
if unknown:
    md.append(f"\ncapture has {len(unknown)} conversation(s) not in the wire log: ports {unknown[:10]}")
open(f"{out}/comparison.md", "w").write("\n".join(md) + "\n")
json.dump(dict(ok=ok, link=link or None, unknown_ports=unknown, probe_ports=probes, rows=rows, retransmits=retx), open(f"{out}/comparison.json", "w"), indent=1)
if not link:
    md += ["", "Packets the capture has beyond TCP_INFO's segments are the teardown (FIN and its ACKs, and over TLS",
           "the close_notify records, sent after the counters are read); the header bytes differ by 52 per such packet",
           "(64 for one carrying a SACK block)."]
print("\n".join(md))
print("\nverify-wire:", "every byte matches" if ok else "MISMATCH", f"({out})")
sys.exit(0 if ok else 1)
PY
