"""RFC 6455 edge cases against `/echo` and `/ws`, driven by Python `websockets`.

Well-formed traffic goes through the library's public API. Malformed frames
are built with the library's own framing, `websockets.frames.Frame(...)
.serialize(mask=..., extensions=[])`; where `serialize` refuses to build
something (reserved bits, reserved opcodes, long or fragmented control
frames) a valid frame is serialized and its first header byte patched. The
bytes go straight to the transport, and the server's close frame is read
back through the library, which validates the server's side of the exchange.

Every test is bounded: each receive waits at most `TIMEOUT` seconds and each
loop a fixed number of messages.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import struct

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from conftest import MAX_PAYLOAD

TIMEOUT = 5.0
SIZES = [0, 125, 126, 127, 65535, 65536]


# --- helpers -----------------------------------------------------------------

def run(coro):
    return asyncio.run(asyncio.wait_for(coro, timeout=30))


def open_ws(url: str):
    # No keepalive pings of our own: they would interleave with raw frames.
    return connect(
        url, max_size=None, ping_interval=None, open_timeout=TIMEOUT, close_timeout=TIMEOUT
    )


def frame(opcode: Opcode, data: bytes, *, fin: bool = True, mask: bool = True) -> bytes:
    return Frame(opcode, data, fin=fin).serialize(mask=mask, extensions=[])


def patch(raw: bytes, *, set_bits: int = 0, clear_bits: int = 0, opcode: int | None = None) -> bytes:
    """Rewrites the first header byte (FIN, RSV1-3, opcode) of a serialized frame."""
    head = (raw[0] | set_bits) & ~clear_bits & 0xFF
    if opcode is not None:
        head = (head & 0xF0) | opcode
    return bytes([head]) + raw[1:]


def send_raw(ws: ClientConnection, *frames: bytes) -> None:
    ws.transport.write(b"".join(frames))


async def server_close_code(ws: ClientConnection, max_messages: int = 1000) -> int | None:
    """Reads until the connection closes; the close code the server sent."""
    for _ in range(max_messages):
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed as closed:
            if closed.rcvd is None:
                raise AssertionError(
                    "the server closed TCP without a close frame"
                ) from closed
            return closed.rcvd.code
    raise AssertionError(f"no close within {max_messages} messages")


async def violation(path_url: str, *frames: bytes) -> int | None:
    async with open_ws(path_url) as ws:
        send_raw(ws, *frames)
        return await server_close_code(ws)


def check_close(observed, code: int | None, expected: int) -> None:
    observed(f"close {code}")
    assert code == expected, f"expected close {expected}, got {code}"


async def echo_once(url: str, message):
    async with open_ws(url) as ws:
        await ws.send(message)
        return await asyncio.wait_for(ws.recv(), TIMEOUT)


# --- echo --------------------------------------------------------------------

@pytest.mark.expect("echoed as one text message")
@pytest.mark.parametrize("size", SIZES)
def test_echo_text(server, observed, size):
    message = ("é" * size)[: size // 2] + "a" * (size - 2 * (size // 2))
    assert len(message.encode()) == size
    got = run(echo_once(server.url("/echo"), message))
    observed(f"text, {len(got.encode())} bytes" if isinstance(got, str) else "binary")
    assert got == message


@pytest.mark.expect("echoed as one binary message")
@pytest.mark.parametrize("size", SIZES)
def test_echo_binary(server, observed, size):
    message = secrets.token_bytes(size)
    got = run(echo_once(server.url("/echo"), message))
    observed(f"binary, {len(got)} bytes" if isinstance(got, bytes) else "text")
    assert got == message


# --- fragmentation -------------------------------------------------------------

@pytest.mark.expect("3 text fragments echoed as the whole message")
def test_fragmented_text(server, observed):
    got = run(echo_once(server.url("/echo"), ["frag", "ment", "ed"]))
    observed(repr(got))
    assert got == "fragmented"


@pytest.mark.expect("3 binary fragments echoed as the whole message")
def test_fragmented_binary(server, observed):
    got = run(echo_once(server.url("/echo"), [b"\x00\x01", b"\x02", b"\x03\xff"]))
    observed(repr(got))
    assert got == b"\x00\x01\x02\x03\xff"


@pytest.mark.expect("echoed (a code point split across fragments is valid)")
def test_fragmented_utf8_split_codepoint(server, observed):
    euro = "€".encode()  # 3 bytes, split 1 + 2

    async def go():
        async with open_ws(server.url("/echo")) as ws:
            send_raw(ws, frame(Opcode.TEXT, b"a" + euro[:1], fin=False),
                     frame(Opcode.CONT, euro[1:] + b"b"))
            return await asyncio.wait_for(ws.recv(), TIMEOUT)

    got = run(go())
    observed(repr(got))
    assert got == "a€b"


@pytest.mark.expect("pong with the ping's payload, then the whole message")
def test_ping_between_fragments(server, observed):
    async def go():
        async with open_ws(server.url("/echo")) as ws:
            pong = None

            async def fragments():
                nonlocal pong
                yield "before-"
                pong = await ws.ping(b"between")
                yield "after"

            await ws.send(fragments())
            await asyncio.wait_for(pong, TIMEOUT)
            return await asyncio.wait_for(ws.recv(), TIMEOUT)

    got = run(go())
    observed(f"pong, then {got!r}")
    assert got == "before-after"


# --- ping / pong ---------------------------------------------------------------

@pytest.mark.expect("pong with the same payload")
@pytest.mark.parametrize("size", [0, 1, 125])
def test_ping_payload(server, observed, size):
    async def go():
        async with open_ws(server.url("/echo")) as ws:
            # The library resolves this waiter only on a pong whose payload
            # equals the ping's.
            waiter = await ws.ping(secrets.token_bytes(size) if size else b"")
            await asyncio.wait_for(waiter, TIMEOUT)

    run(go())
    observed("pong")


@pytest.mark.expect("ignored; the connection goes on")
def test_unsolicited_pong(server, observed):
    async def go():
        async with open_ws(server.url("/echo")) as ws:
            await ws.pong(b"unasked")
            await ws.send("still here")
            return await asyncio.wait_for(ws.recv(), TIMEOUT)

    got = run(go())
    observed(repr(got))
    assert got == "still here"


@pytest.mark.expect("permessage-deflate offered and declined: no extension, frames uncompressed")
def test_permessage_deflate_offer_declined(server, observed):
    # `websockets` offers permessage-deflate unless told not to; pushbench's
    # stack (axum 0.8 on tungstenite 0.29) negotiates no extension, so the
    # 101 must carry none and the events must arrive as plain frames (a
    # frame with RSV1 set would fail the connection).
    async def go():
        async with connect(
            server.url("/ws"), compression="deflate", max_size=None,
            ping_interval=None, open_timeout=TIMEOUT, close_timeout=TIMEOUT,
        ) as ws:
            offered = ws.request.headers.get("Sec-WebSocket-Extensions")
            answered = ws.response.headers.get("Sec-WebSocket-Extensions")
            message = await asyncio.wait_for(ws.recv(), TIMEOUT)
            return offered, answered, ws.protocol.extensions, message

    offered, answered, extensions, message = run(go())
    observed(f"offered {offered!r}, answered {answered!r}, event uncompressed")
    assert offered is not None and "permessage-deflate" in offered
    assert answered is None
    assert extensions == []
    assert json.loads(message)["seq"] > 0


# --- close handshake -------------------------------------------------------------

@pytest.mark.expect("server answers the close (same code, or 1000)")
@pytest.mark.parametrize("code,reason", [(1000, ""), (4000, "bye")])
@pytest.mark.parametrize("path", ["/echo", "/ws"])
def test_client_close(server, observed, path, code, reason):
    async def go():
        async with open_ws(server.url(path)) as ws:
            await ws.close(code, reason)
            return ws.protocol.close_rcvd_then_sent, ws.protocol.close_rcvd

    rcvd_then_sent, rcvd = run(go())
    assert rcvd is not None, "no close frame from the server"
    observed(f"close {rcvd.code} {rcvd.reason!r}")
    assert rcvd_then_sent is False, "the client sent the close first"
    assert rcvd.code in (code, 1000)


@pytest.mark.expect("close 1001 on both /echo and /ws, exit 0")
def test_server_shutdown(own_server, observed):
    srv = own_server("--rate", "20")

    async def go():
        async with open_ws(srv.url("/echo")) as echo, open_ws(srv.url("/ws")) as ws:
            await echo.send("up")
            assert await asyncio.wait_for(echo.recv(), TIMEOUT) == "up"
            srv.terminate()
            return await server_close_code(echo), await server_close_code(ws)

    codes = run(go())
    status = srv.process.wait(timeout=10)
    observed(f"close {codes[0]} / {codes[1]}, exit {status}")
    assert codes == (1001, 1001)
    assert status == 0


@pytest.mark.expect("close 1002")
@pytest.mark.parametrize("code", [999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])
def test_close_invalid_code(server, observed, code):
    close = frame(Opcode.CLOSE, struct.pack("!H", code) + b"nope")
    check_close(observed, run(violation(server.url("/echo"), close)), 1002)


@pytest.mark.expect("close 1002")
def test_close_one_byte_payload(server, observed):
    close = frame(Opcode.CLOSE, b"\x03")
    check_close(observed, run(violation(server.url("/echo"), close)), 1002)


@pytest.mark.expect("close 1007")
def test_close_reason_invalid_utf8(server, observed):
    close = frame(Opcode.CLOSE, struct.pack("!H", 1000) + b"\xce\xba\xff")
    check_close(observed, run(violation(server.url("/echo"), close)), 1007)


# --- invalid UTF-8, too big ----------------------------------------------------------

INVALID_UTF8 = "κόσμε".encode() + b"\xed\xa0\x80edited"  # a UTF-16 surrogate


@pytest.mark.expect("close 1007")
@pytest.mark.parametrize("path", ["/echo", "/ws"])
def test_text_invalid_utf8(server, observed, path):
    bad = frame(Opcode.TEXT, INVALID_UTF8)
    check_close(observed, run(violation(server.url(path), bad)), 1007)


@pytest.mark.expect("close 1007")
def test_text_invalid_utf8_fragmented(server, observed):
    first = frame(Opcode.TEXT, INVALID_UTF8[:8], fin=False)
    rest = frame(Opcode.CONT, INVALID_UTF8[8:])
    check_close(observed, run(violation(server.url("/echo"), first, rest)), 1007)


@pytest.mark.expect("close 1007 before the message ends (fails fast per frame)")
def test_text_invalid_utf8_first_fragment_fails_fast(server, observed):
    # The final fragment is never sent: only a check per frame can close.
    first = frame(Opcode.TEXT, INVALID_UTF8, fin=False)
    check_close(observed, run(violation(server.url("/echo"), first)), 1007)


@pytest.mark.expect("close 1009")
@pytest.mark.parametrize("path", ["/echo", "/ws"])
def test_message_too_big(server, observed, path):
    async def go():
        async with open_ws(server.url(path)) as ws:
            await ws.send("x" * (MAX_PAYLOAD + 1))
            return await server_close_code(ws)

    check_close(observed, run(go()), 1009)


@pytest.mark.expect("close 1009")
def test_fragmented_message_too_big(server, observed):
    half = "x" * (MAX_PAYLOAD // 2 + 1)

    async def go():
        async with open_ws(server.url("/echo")) as ws:
            await ws.send([half, half])
            return await server_close_code(ws)

    check_close(observed, run(go()), 1009)


# --- framing violations ----------------------------------------------------------------

@pytest.mark.expect("close 1002")
@pytest.mark.parametrize("path", ["/echo", "/ws"])
def test_unmasked_client_frame(server, observed, path):
    bad = frame(Opcode.TEXT, b"unmasked", mask=False)
    check_close(observed, run(violation(server.url(path), bad)), 1002)


@pytest.mark.expect("close 1002")
@pytest.mark.parametrize("bit", [1, 2, 3])
def test_rsv_bit_without_extension(server, observed, bit):
    bad = patch(frame(Opcode.TEXT, b"reserved"), set_bits=0x80 >> bit)
    check_close(observed, run(violation(server.url("/echo"), bad)), 1002)


@pytest.mark.expect("close 1002")
@pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 11, 12, 13, 14, 15])
def test_reserved_opcode(server, observed, opcode):
    bad = patch(frame(Opcode.BINARY, b"x"), opcode=opcode)
    check_close(observed, run(violation(server.url("/echo"), bad)), 1002)


@pytest.mark.expect("close 1002")
def test_control_frame_payload_over_125(server, observed):
    bad = patch(frame(Opcode.BINARY, b"p" * 126), opcode=Opcode.PING)
    check_close(observed, run(violation(server.url("/echo"), bad)), 1002)


@pytest.mark.expect("close 1002")
def test_fragmented_control_frame(server, observed):
    bad = patch(frame(Opcode.PING, b"half"), clear_bits=0x80)
    tail = frame(Opcode.CONT, b"rest")
    check_close(observed, run(violation(server.url("/echo"), bad, tail)), 1002)


@pytest.mark.expect("close 1002")
def test_continuation_without_start(server, observed):
    bad = frame(Opcode.CONT, b"orphan")
    check_close(observed, run(violation(server.url("/echo"), bad)), 1002)


@pytest.mark.expect("close 1002")
@pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY], ids=["text", "binary"])
def test_data_frame_inside_fragmented_message(server, observed, opcode):
    start = frame(Opcode.TEXT, b"start", fin=False)
    intruder = frame(opcode, b"intruder")
    check_close(observed, run(violation(server.url("/echo"), start, intruder)), 1002)


# --- /ws: events and upstream messages ------------------------------------------------------

@pytest.mark.expect("valid JSON text frames, seq consecutive")
def test_ws_events_are_json_in_seq_order(server, observed):
    async def go():
        async with open_ws(server.url("/ws")) as ws:
            return [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(20)]

    messages = run(go())
    assert all(isinstance(m, str) for m in messages), "every frame is a text frame"
    events = [json.loads(m) for m in messages]
    for e in events:
        assert set(e) == {"seq", "topic", "created_us", "payload"}, e
        assert isinstance(e["seq"], int) and isinstance(e["created_us"], int)
        assert len(e["payload"]) == 16
    seqs = [e["seq"] for e in events]
    observed(f"20 events, seq {seqs[0]}..{seqs[-1]}")
    assert seqs == list(range(seqs[0], seqs[0] + 20))


@pytest.mark.expect("binary frames (seq, created_us, topic, payload), seq consecutive")
def test_ws_binary_format(server, observed):
    async def go():
        async with open_ws(server.url("/ws?format=binary")) as ws:
            return [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(20)]

    messages = run(go())
    assert all(isinstance(m, bytes) for m in messages), "every frame is a binary frame"
    seqs = []
    for m in messages:
        seq, created_us, topic_len = struct.unpack("!QQH", m[:18])
        assert created_us > 0
        assert len(m) == 18 + topic_len + 16, "header + topic + 16-byte payload"
        m[18 : 18 + topic_len].decode()
        seqs.append(seq)
    observed(f"20 binary events, seq {seqs[0]}..{seqs[-1]}")
    assert seqs == list(range(seqs[0], seqs[0] + 20))


@pytest.mark.expect("?since=S replays from S+1")
def test_ws_since_resumes(server, observed):
    async def go():
        async with open_ws(server.url("/ws")) as ws:
            first = json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["seq"]
        since = max(first - 5, 0)
        async with open_ws(server.url(f"/ws?since={since}")) as ws:
            return since, json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))["seq"]

    since, got = run(go())
    observed(f"since={since} -> first seq {got}")
    assert got == since + 1


@pytest.mark.expect("published, seen on a second connection with topic upstream")
def test_ws_upstream_message_is_published(server, observed):
    token = f"python-{secrets.token_hex(8)}"

    async def go():
        async with open_ws(server.url("/ws")) as watcher, open_ws(server.url("/ws")) as sender:
            # A first event proves the watcher's subscription is live, so the
            # token cannot be published before it.
            await asyncio.wait_for(watcher.recv(), TIMEOUT)
            await sender.send(token)
            for _ in range(500):
                event = json.loads(await asyncio.wait_for(watcher.recv(), TIMEOUT))
                if event.get("payload") == token:
                    return event
        return None

    event = run(go())
    assert event is not None, "the upstream message never arrived"
    observed(f"seq {event['seq']} topic {event['topic']!r}")
    assert event["topic"] == "upstream"


@pytest.mark.expect("close 1003 (upstream binary must be UTF-8)")
def test_ws_upstream_binary_not_utf8(server, observed):
    async def go():
        async with open_ws(server.url("/ws")) as ws:
            await ws.send(b"\xff\xfe")
            return await server_close_code(ws)

    check_close(observed, run(go()), 1003)
