#!/usr/bin/env python3
"""Writes the committed seed corpus, fuzz/corpus/<target>/seed-*.

The wire targets are seeded from the golden traces of `pushbench trace`
(crates/cli/tests/golden/trace-*.txt): each row of a trace is the bytes of
one class, escaped, so the exchange is rebuilt byte for byte (placeholders
such as <date> and <created_us> are filled to the row's byte count, masking
keys become zero) and encoded in the targets' input format (see
fuzz/src/script.rs): reads of at most 127 bytes, a tag byte each whose bit 7
is the direction. Each trace gives two seeds: one read per row, and one read
per 127 bytes. The other targets get a few hand-written messages.

Run from anywhere: python3 fuzz/seeds.py (it rewrites the seed-* files only).
"""

import pathlib
import re
import zlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "crates/cli/tests/golden"
CORPUS = ROOT / "fuzz/corpus"
MAX_READ = 0x7F
SENT, RECEIVED = 0, 1

ROW = re.compile(r"^\s+(\d+)  (\w+)\s+(.*?)(?:  <- (.*))?$")
HEX = re.compile(r"^(?:[0-9a-f?]{2} )*[0-9a-f?]{2}$")
FILLERS = {
    "<date>": "Tue, 01 Dec 2026 08:00:00 GMT",
    "<created_us>": "1764576000000000",
}


def unescape(text):
    """The trace's escaping: \\r \\n \\t \\\\ and \\xNN; the rest is literal."""
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            n = text[i + 1]
            if n == "x":
                out.append(int(text[i + 2 : i + 4], 16))
                i += 4
                continue
            out += {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\"}.get(n, n.encode())
            i += 2
            continue
        out += c.encode()
        i += 1
    return bytes(out)


def row_bytes(count, shown, note):
    if shown == "<masked>":
        # The masking key is written as zeros, so masked equals unmasked.
        match = re.search(r"unmasked: (\S+?);", note or "")
        data = unescape(match.group(1)) if match else b"\0" * count
    elif HEX.match(shown) and len(shown.split()) == count:
        data = bytes(0 if t == "??" else int(t, 16) for t in shown.split())
    else:
        # Placeholders stand for values that change per run; a row has at
        # most one, filled to the row's byte count.
        text = shown.replace("PORT", "<port>")
        holes = re.findall(r"<[a-z_]+>", text)
        if len(holes) > 1:
            raise ValueError(f"more than one placeholder in {shown!r}")
        data = unescape(re.sub(r"<[a-z_]+>", "", text))
        if holes:
            need = count - len(data)
            fill = FILLERS.get(holes[0], "").ljust(need, "7")[:need]
            data = unescape(text.replace(holes[0], fill))
    if len(data) != count:
        raise ValueError(f"row of {count} bytes rebuilt as {len(data)}: {shown!r}")
    return data


def parse_trace(path):
    """The exchange as (direction, [row bytes]) blocks."""
    blocks = []
    for line in path.read_text().splitlines():
        if line.startswith("client -> server"):
            blocks.append((SENT, []))
        elif line.startswith("server -> client"):
            blocks.append((RECEIVED, []))
        elif line.startswith("bytes by class"):
            break
        elif blocks and (m := ROW.match(line)):
            blocks[-1][1].append(row_bytes(int(m.group(1)), m.group(3), m.group(4)))
    return blocks


def encode(reads):
    out = bytearray()
    for direction, data in reads:
        for at in range(0, max(len(data), 1), MAX_READ):
            piece = data[at : at + MAX_READ]
            out.append(direction << 7 | len(piece))
            out += piece
    return bytes(out)


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data)


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def fixed(status, body):
    """A response with a content-length body."""
    return b"HTTP/1.1 %s\r\ncontent-length: %d\r\n\r\n%s" % (status, len(body), body)


def event_json(seq, payload=b"BCDEFGHIJKLMNOPQ"):
    return b'{"seq":%d,"topic":"t0","created_us":1764576000000000,"payload":"%s"}' % (
        seq,
        payload,
    )


# HTTP/2 (the h2_classifier target): frames built by hand, header blocks
# from HPACK's static table and literals (RFC 7541), so no encoder is
# needed; the first input byte picks the transport (fuzz/src/h2.rs).
H2_TRANSPORT = {"short_poll": 0, "long_poll": 1, "stream": 2, "sse": 3, "ws": 4}
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST_STREAM, SETTINGS, PING, WINDOW_UPDATE = 0, 1, 3, 4, 6, 8
END_STREAM, END_HEADERS, PADDED = 0x1, 0x4, 0x8


def h2_frame(kind, flags, stream, payload=b""):
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def hpack_literal(index, value):
    """A literal field with incremental indexing, name from static `index`."""
    return bytes([0x40 | index, len(value)]) + value


def hpack_new(name, value):
    return b"\x40" + bytes([len(name)]) + name + bytes([len(value)]) + value


def h2_request(path):
    # :method GET, :scheme http, :path, :authority.
    return b"\x82\x86" + hpack_literal(4, path) + hpack_literal(1, b"127.0.0.1")


def h2_response(content_type):
    # :status 200, content-type (static index 31).
    return b"\x88" + hpack_literal(31, content_type)


def h2_open():
    client = PREFACE + h2_frame(SETTINGS, 0, 0, b"\x00\x02\x00\x00\x00\x00")
    server = h2_frame(SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64") + h2_frame(SETTINGS, 1, 0)
    return [(SENT, client), (RECEIVED, server), (SENT, h2_frame(SETTINGS, 1, 0))]


def write_h2(name, transport, reads):
    write("h2_classifier", name, bytes([H2_TRANSPORT[transport]]) + encode(reads))


def h2_seeds(gap):
    get = h2_frame(HEADERS, END_HEADERS | END_STREAM, 1, h2_request(b"/sse"))
    sse = b": keep-alive\n\nid: 10\ndata: " + event_json(10) + b"\n\ndata: " + gap + b"\n\n"
    write_h2(
        "sse",
        "sse",
        h2_open()
        + [
            (SENT, get),
            (
                RECEIVED,
                h2_frame(HEADERS, END_HEADERS, 1, h2_response(b"text/event-stream"))
                + h2_frame(DATA, 0, 1, sse[:40])
                + h2_frame(DATA, 0, 1, sse[40:])
                + h2_frame(DATA, END_STREAM, 1),
            ),
            (SENT, h2_frame(WINDOW_UPDATE, 0, 0, b"\x00\x00\x10\x00") + h2_frame(PING, 0, 0, b"\x00" * 8)),
        ],
    )
    lines = event_json(1) + b"\n" + event_json(2) + b"\n"
    padded = bytes([4]) + lines + b"\x00" * 4
    write_h2(
        "stream-padded",
        "stream",
        h2_open()
        + [
            (SENT, h2_frame(HEADERS, END_HEADERS | END_STREAM, 1, h2_request(b"/stream"))),
            (
                RECEIVED,
                h2_frame(HEADERS, END_HEADERS, 1, h2_response(b"application/x-ndjson"))
                + h2_frame(DATA, PADDED | END_STREAM, 1, padded),
            ),
        ],
    )
    full = b'{"events":[' + event_json(3) + b'],"next":3,"gap":null}'
    empty = b'{"events":[],"next":3,"gap":null}'
    block = h2_request(b"/poll?since=2")
    # The second request reuses the dynamic table: index 62 is the
    # authority, 63 the path the first request added.
    again = b"\x82\x86\xbf\xbe"
    write_h2(
        "short-poll",
        "short_poll",
        h2_open()
        + [
            (SENT, h2_frame(HEADERS, END_HEADERS | END_STREAM, 1, block)),
            (SENT, h2_frame(HEADERS, END_HEADERS | END_STREAM, 3, again)),
            (
                RECEIVED,
                h2_frame(HEADERS, END_HEADERS, 3, h2_response(b"application/json"))
                + h2_frame(HEADERS, END_HEADERS, 1, b"\x88\xbe")
                + h2_frame(DATA, 0, 1, full[:30])
                + h2_frame(DATA, END_STREAM, 3, empty)
                + h2_frame(DATA, END_STREAM, 1, full[30:]),
            ),
        ],
    )
    write_h2(
        "long-poll-reset",
        "long_poll",
        h2_open()
        + [
            (SENT, h2_frame(HEADERS, END_HEADERS | END_STREAM, 1, h2_request(b"/longpoll?since=3&timeout=30"))),
            (SENT, h2_frame(RST_STREAM, 0, 1, b"\x00\x00\x00\x08")),
        ],
    )
    connect = b"\x02\x07CONNECT" + hpack_new(b":protocol", b"websocket") + b"\x86" + hpack_literal(4, b"/ws")
    text = event_json(5)
    write_h2(
        "ws",
        "ws",
        h2_open()
        + [
            (SENT, h2_frame(HEADERS, END_HEADERS, 1, connect)),
            (
                RECEIVED,
                h2_frame(HEADERS, END_HEADERS, 1, b"\x88")
                + h2_frame(DATA, 0, 1, bytes([0x81, 126, 0, len(text)]) + text + b"\x89\x00"),
            ),
            (SENT, h2_frame(DATA, END_STREAM, 1, b"\x8a\x80\x01\x02\x03\x04\x88\x80\x00\x00\x00\x00")),
            (RECEIVED, h2_frame(DATA, END_STREAM, 1, b"\x88\x00")),
        ],
    )


def socketio_seeds():
    """Engine.IO v4 / Socket.IO exchanges (the `socketio` target kind), as
    captured from scripts/targets/socketio: long polling (handshake,
    connect, events, a ping and its pong) and WebSocket frames."""
    sid = b"3aP0a7QDpRAkLsf7AAAA"
    query = b"/socket.io/?EIO=4&transport=polling"
    poll = b"GET %s&sid=%s HTTP/1.1\r\nhost: h\r\n\r\n" % (query, sid)

    def post(body):
        return b"POST %s&sid=%s HTTP/1.1\r\nhost: h\r\ncontent-length: %d\r\n\r\n%s" % (query, sid, len(body), body)

    def packet(seq):
        return b'42["event",%s]' % event_json(seq)

    ok = fixed(b"200 OK", b"ok")
    write(
        "wire_socketio_long_poll",
        "session",
        encode(
            [
                (SENT, b"GET %s HTTP/1.1\r\nhost: h\r\n\r\n" % query),
                (RECEIVED, fixed(b"200 OK", b'0{"sid":"%s","upgrades":["websocket"],"pingInterval":25000}' % sid)),
                (SENT, post(b"40")),
                (RECEIVED, ok),
                (SENT, poll),
                (RECEIVED, fixed(b"200 OK", b'40{"sid":"XyZSReSFWiJujozLAAAA"}')),
                (SENT, poll),
                (RECEIVED, fixed(b"200 OK", packet(1) + b"\x1e" + packet(2) + b"\x1e2")),
                (SENT, post(b"3")),
                (RECEIVED, ok),
                (SENT, poll),
                (RECEIVED, fixed(b"400 Bad Request", b'{"code":1,"message":"Session ID unknown"}')),
            ]
        ),
    )
    event = packet(3)
    write(
        "wire_socketio_ws",
        "session",
        encode(
            [
                (SENT, b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nupgrade: websocket\r\n\r\n"),
                (RECEIVED, b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"),
                (RECEIVED, b"\x81\x1b" + b'0{"sid":"%s"}' % sid[:16]),
                (SENT, b"\x81\x82\x01\x02\x03\x04" + bytes(c ^ (1, 2, 3, 4)[i] for i, c in enumerate(b"40"))),
                (RECEIVED, bytes([0x81, 126, 0, len(event)]) + event + b"\x81\x012"),
                (SENT, b"\x81\x81\x01\x02\x03\x04" + bytes([ord("3") ^ 1])),
            ]
        ),
    )


def main():
    for trace in sorted(GOLDEN.glob("trace-*.txt")):
        target = "wire_" + trace.stem.removeprefix("trace-").replace("-", "_")
        blocks = parse_trace(trace)
        rows = [(d, r) for d, block in blocks for r in block]
        whole = [(d, b"".join(block)) for d, block in blocks]
        write(target, "rows", encode(rows))
        write(target, "blocks", encode(whole))

    # Paths the golden traces do not take: gap markers, keep-alives, error
    # answers, binary WebSocket events.
    gap = b'{"gap":{"from":2,"to":9}}'
    get = b"GET /x HTTP/1.1\r\nhost: h\r\n\r\n"
    chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    write(
        "wire_stream",
        "gap",
        encode([(SENT, get), (RECEIVED, chunked + chunk(gap + b"\n") + chunk(event_json(10) + b"\n") + b"0\r\n\r\n")]),
    )
    # A chunk-size line over the classifier's 1,024-byte limit, refused
    # whatever the read boundaries (the fuzzer does not grow one by itself).
    write(
        "wire_stream",
        "long-size-line",
        encode([(RECEIVED, chunked + b"0" * 1100 + b"2\r\nab\r\n0\r\n\r\n")]),
    )
    write(
        "wire_sse",
        "gap-keepalive",
        encode(
            [
                (SENT, get),
                (
                    RECEIVED,
                    chunked
                    + chunk(b": keep-alive\n\n")
                    + chunk(b"retry: 1000\nevent: gap\ndata: " + gap + b"\n\n")
                    + chunk(b"id: 10\r\ndata: " + event_json(10) + b"\r\n\r\n"),
                ),
            ]
        ),
    )
    poll_error = b'{"error":"since=9 is ahead of the stream"}'
    write(
        "wire_short_poll",
        "error",
        encode(
            [
                (SENT, b"GET /poll?since=9 HTTP/1.1\r\nhost: h\r\n\r\n"),
                (RECEIVED, fixed(b"400 Bad Request", poll_error)),
                (SENT, b"GET /poll?since=0 HTTP/1.1\r\nhost: h\r\n\r\n"),
                (RECEIVED, fixed(b"200 OK", b'{"events":[],"next":0,"gap":{"from":1,"to":2}}')),
            ]
        ),
    )
    binary_event = (
        (7).to_bytes(8, "big") + (1764576000000000).to_bytes(8, "big") + (2).to_bytes(2, "big") + b"t0" + b"PAYLOAD!"
    )
    upgrade = b"GET /ws?format=binary HTTP/1.1\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    switching = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n\r\n"
    write(
        "wire_ws",
        "binary-ping",
        encode(
            [
                (SENT, upgrade),
                (RECEIVED, switching + bytes([0x82, len(binary_event)]) + binary_event + b"\x89\x00"),
                (SENT, b"\x8a\x80\x01\x02\x03\x04" + b"\x81\x82\x00\x00\x00\x00hi"),
                (RECEIVED, bytes([0x81, 126, 0, len(gap)]) + gap),
            ]
        ),
    )

    # Content-coded bodies (gzip; Python has no Brotli): a stream with one
    # sync flush per event, as `serve --compression` sends it, and a poll
    # answer compressed whole.
    gzip_stream = zlib.compressobj(1, zlib.DEFLATED, 31)
    coded_chunks = b"".join(
        chunk(gzip_stream.compress(event_json(seq) + b"\n") + gzip_stream.flush(zlib.Z_SYNC_FLUSH))
        for seq in (1, 2)
    ) + chunk(gzip_stream.flush())
    coded_head = b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n"
    write(
        "wire_stream",
        "gzip",
        encode([(SENT, get), (RECEIVED, coded_head + coded_chunks + b"0\r\n\r\n")]),
    )
    poll_body = b'{"events":[%s],"next":3,"gap":null}' % event_json(3)
    gzip_poll = zlib.compressobj(1, zlib.DEFLATED, 31)
    coded_poll = gzip_poll.compress(poll_body) + gzip_poll.flush()
    write(
        "wire_short_poll",
        "gzip",
        encode(
            [
                (SENT, b"GET /poll?since=2 HTTP/1.1\r\nhost: h\r\naccept-encoding: gzip\r\n\r\n"),
                (
                    RECEIVED,
                    b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
                    % (len(coded_poll), coded_poll),
                ),
            ]
        ),
    )
    h2_seeds(gap)
    socketio_seeds()

    event = event_json(42)
    write("event_codec", "json", event)
    write("event_codec", "gap", gap)
    write("event_codec", "binary", binary_event)
    write("event_codec", "escaped", b'{"seq":1,"created_us":2,"payload":"a\\"b\\u00e9","topic":"t"}')

    stats = b'{"last_seq":3,"process":{"cpu_seconds":0.5,"rss_bytes":1}}'
    request = b"GET /stats HTTP/1.1\r\nhost: h\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    write(
        "control",
        "stats-chunked",
        encode([(SENT, request), (RECEIVED, chunked + chunk(stats[:20]) + chunk(stats[20:]) + b"0\r\n\r\n")]),
    )
    write(
        "control",
        "publish",
        encode(
            [
                (SENT, b"POST /publish?topic=t0 HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi"),
                (RECEIVED, fixed(b"200 OK", b'{"seq":4}')),
            ]
        ),
    )

    write("server_query", "all", b"since=5&timeout=0.5&format=binary&topic=t0&client=c-1&connections=1\n12")
    write("server_query", "encoded", b"since=%31&timeout=1e2&format=json&topic=a%20b&connections=yes\n 7 ")
    write("server_query", "bad", b"since=-1&timeout=NaN&format=xml&topic=&client=a/b&connections=maybe\nx")


if __name__ == "__main__":
    main()
