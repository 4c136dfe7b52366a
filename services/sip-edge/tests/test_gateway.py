"""The ASP WebSocket gateway end to end: a real WebSocket client against the gateway
(``python -m sip_edge.gateway``, its own process), a real Redis and the real workers
(``python -m stt_worker`` / ``llm_worker`` / ``tts_worker``, their own processes, with the
fake engines: the STT hears "Qual é o horário de atendimento?", the TTS speaks a 440 Hz
tone, 50 ms per character).

Each test checks what the client gets (messages, binary frames in its own framing and
format) and what the session log on Redis shows (``XRANGE asp:session:{<id>}``)."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import numpy as np
import pytest
import redis
from asp import streams as layout
from asp.messages import ResponseCancel, SessionEnd, SessionStart, Utterance
from pipeline.testing import RedisServer
from sip_edge.gateway import g711
from sip_edge.gateway.framing import seed_hash
from sip_edge.gateway.testing import (
    AspClient,
    GatewayProcess,
    SessionAudio,
    running_workers,
    seed_frame,
)
from sip_edge.testing import metric, read_wav, session_messages, speech_wav
from websockets.exceptions import InvalidStatus

MAX_SESSIONS = 4
MAX_PER_ADDRESS = 12
MAX_MESSAGE = 64 * 1024


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[GatewayProcess, redis.Redis]]:
    tmp = tmp_path_factory.mktemp("gateway")
    r = redis.Redis.from_url(redis_server.url)
    with (
        running_workers(tmp, redis_server.url),
        GatewayProcess(
            tmp / "gateway.log",
            REDIS_URL=redis_server.url,
            ASP_GATEWAY_MAX_SESSIONS_PER_CONNECTION=str(MAX_SESSIONS),
            ASP_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS=str(MAX_PER_ADDRESS),
            ASP_GATEWAY_MAX_MESSAGE_BYTES=str(MAX_MESSAGE),
            ASP_GATEWAY_HANDSHAKE_TIMEOUT_S="4",
        ) as gw,
    ):
        yield gw, r
        log = gw.log()
    assert "Traceback" not in log, log[-5000:]
    r.close()


@pytest.fixture(scope="module")
def question(tmp_path_factory: pytest.TempPathFactory) -> dict[int, bytes]:
    """The project's speech fixture (espeak-ng + sox) at 8 and 16 kHz, with 1 s of silence."""
    tmp = tmp_path_factory.mktemp("speech")
    out = {}
    for rate in (8000, 16000):
        samples, _ = read_wav(
            speech_wav("Qual é o horário de atendimento?", tmp / f"q{rate}.wav", rate=rate)
        )
        out[rate] = samples.astype("<i2").tobytes() + bytes(rate * 2)
    return out


def start_msg(sid: str, rate: int = 8000, *, legacy: bool = False, **extra: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": "session.start", "session_id": sid, "call_id": f"c-{sid[:8]}"}
    if legacy:  # the seed's older shape
        msg["audio_config"] = {
            "sample_rate": rate,
            "channels": 1,
            "sample_width": 2,
            "frame_duration_ms": 20,
        }
    else:
        msg["audio"] = {
            "sample_rate": rate,
            "encoding": "pcm_s16le",
            "channels": 1,
            "frame_duration_ms": 20,
        }
    msg.update(extra)
    return msg


def dominant_hz(pcm: bytes, rate: int) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[int(np.argmax(spectrum[1:])) + 1])


async def open_client(gw: GatewayProcess, **kwargs: Any) -> AspClient:
    client = await AspClient.open(gw.url(token=gw.token), **kwargs)
    await client.wait_for(type="protocol.capabilities")
    return client


@pytest.fixture
async def client(stack: tuple[GatewayProcess, redis.Redis]) -> AsyncIterator[AspClient]:
    """A client past the gateway's handshake; closed when the test ends."""
    opened = await open_client(stack[0])
    yield opened
    await opened.close()


async def start_session(
    gw: GatewayProcess, rate: int = 8000, **start: Any
) -> tuple[AspClient, str]:
    """A new client that sent ``session.start`` (:func:`start_msg`'s arguments) for a new
    session; (the client, the session id)."""
    client = await open_client(gw)
    sid = str(uuid.uuid4())
    await client.send(start_msg(sid, rate, **start))
    return client, sid


async def until(check: Any, timeout: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def log_of(r: redis.Redis, sid: str) -> list[Any]:
    return session_messages(r, sid)[1]


# --- authentication ------------------------------------------------------------------------


async def test_a_client_without_a_valid_token_is_refused(
    stack: tuple[GatewayProcess, redis.Redis],
) -> None:
    gw, _ = stack
    for url, headers in (
        (gw.url(), None),
        (gw.url(token="wrong"), None),  # noqa: S106 - a wrong token on purpose
        (gw.url(), {"Authorization": "Bearer wrong"}),
    ):
        with pytest.raises(InvalidStatus) as e:
            await AspClient.open(url, additional_headers=headers)
        assert e.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as e:
        await AspClient.open(gw.url("/other", token=gw.token))
    assert e.value.response.status_code == 404
    # header and query parameter both work
    for client in (
        await AspClient.open(gw.url(), additional_headers={"Authorization": f"Bearer {gw.token}"}),
        await AspClient.open(gw.url("/asp", token=gw.token)),
    ):
        caps = await client.wait_for(type="protocol.capabilities")
        assert caps["capabilities"]["supported_sample_rates"] == [8000, 16000]
        await client.close()
    assert (
        metric(gw.metrics(), 'asp_gateway_connection_attempts_total{outcome="unauthorized"}') >= 3
    )


# --- handshake and negotiation -------------------------------------------------------------


async def test_handshake_every_negotiation_outcome(
    stack: tuple[GatewayProcess, redis.Redis], client: AspClient
) -> None:
    _, r = stack
    caps = client.of(type="protocol.capabilities")[0]
    assert caps["capabilities"]["supported_encodings"] == ["pcm_s16le", "mulaw", "alaw"]
    assert caps["capabilities"]["vad_configurable"] is True

    rejected = {
        2001: start_msg(str(uuid.uuid4()), 11025),
        2002: {**start_msg(str(uuid.uuid4())), "audio": {"sample_rate": 8000, "encoding": "opus"}},
        2003: {
            **start_msg(str(uuid.uuid4())),
            "audio": {"sample_rate": 8000, "frame_duration_ms": 25},
        },
        1004: start_msg(str(uuid.uuid4()), version="2.0.0"),
    }
    for code, msg in rejected.items():
        await client.send(msg)
        answer = await client.wait_for(type="session.started", session_id=msg["session_id"])
        assert answer["status"] == "rejected"
        assert [e["code"] for e in answer["errors"]] == [code]
        assert not r.exists(layout.session_stream(msg["session_id"]))

    # a rejected session may be tried again, corrected, on the same connection
    retry = start_msg(rejected[2001]["session_id"], 16000, version="1.0.0")
    await client.send(retry)
    ok = await client.wait_for(
        type="session.started", session_id=retry["session_id"], status="accepted"
    )
    assert ok["negotiated"]["audio"]["sample_rate"] == 16000
    assert ok["negotiated"]["adjustments"] == []

    changed = start_msg(str(uuid.uuid4()), vad={"silence_threshold_ms": 2500, "threshold": 0.6})
    await client.send(changed)
    answer = await client.wait_for(type="session.started", session_id=changed["session_id"])
    assert answer["status"] == "accepted_with_changes"
    assert answer["negotiated"]["vad"]["silence_threshold_ms"] == 2000
    assert answer["negotiated"]["vad"]["threshold"] == 0.6
    (adj,) = answer["negotiated"]["adjustments"]
    assert (adj["field"], adj["requested"], adj["applied"]) == (
        "vad.silence_threshold_ms",
        2500,
        2000,
    )

    # each accepted session is a pipeline session on Redis, started with what was negotiated
    await until(lambda: r.exists(layout.session_stream(changed["session_id"])), what="session log")
    start = next(m for m in log_of(r, changed["session_id"]) if isinstance(m, SessionStart))
    assert start.vad is not None
    assert start.vad.silence_threshold_ms == 2000
    assert start.metadata is not None
    assert start.metadata["transport"] == "asp-websocket"


# --- a spoken question, 16 kHz and 8 kHz, both framings, both session.start shapes -------


@pytest.mark.parametrize(
    ("rate", "framing", "legacy", "encoding"),
    [
        (16000, "asp", False, "pcm_s16le"),
        (8000, "seed", True, "pcm_s16le"),
        (8000, "asp", False, "mulaw"),
    ],
    ids=["16k-asp-audio", "8k-seed-audio_config", "8k-asp-mulaw"],
)
async def test_a_spoken_question_gets_the_answer_in_the_clients_format(
    stack: tuple[GatewayProcess, redis.Redis],
    question: dict[int, bytes],
    rate: int,
    framing: str,
    legacy: bool,
    encoding: str,
    client: AspClient,
) -> None:
    _, r = stack
    sid = str(uuid.uuid4())
    start = start_msg(sid, rate, legacy=legacy, playback="fast")
    if encoding != "pcm_s16le":
        start["audio"]["encoding"] = encoding
    width = 2 if encoding == "pcm_s16le" else 1
    await client.send(start)
    await client.wait_for(type="session.started", session_id=sid, status="accepted")
    await client.wait_for(type="response.end", session_id=sid, response_id="greeting")
    greeting = client.audio_of(sid, framing)
    assert greeting, "no greeting audio"
    if encoding != "pcm_s16le":
        greeting = g711.decode(greeting, encoding)
    # fast playback: the whole greeting is here at once; the caller speaks once it has been
    # played (the gateway keeps the playback time: speech before that would be a barge-in)
    await asyncio.sleep(len(greeting) / (2 * rate))

    await client.send_pcm(sid, question[rate], SessionAudio(rate, encoding, framing))
    utterance_end = await client.wait_for(
        type="response.start", session_id=sid, within=30, response_id="r-u1"
    )
    rid = utterance_end["response_id"]
    end = await client.wait_for(type="response.end", session_id=sid, response_id=rid, within=30)
    assert end["interrupted"] is False
    # a client that declared no version is a 1.0 client: no pipeline events
    assert not client.of(type="transcript")
    assert not client.of(type="response.text")
    audio = client.audio_of(sid, framing)
    if encoding != "pcm_s16le":
        audio = g711.decode(audio, encoding)
    audio = audio[len(greeting) :]
    # the TTS's 440 Hz tone, at the client's rate: played at another rate it would not be
    assert len(audio) > rate  # more than half a second
    assert abs(dominant_hz(audio, rate) - 440) < 10
    frame_bytes = rate // 50 * width
    kinds = {f[:2] for _, f in client.frames}
    assert kinds == ({b"\x01\x01"} if framing == "seed" else {b"\x02\x00"})
    header = 12 if framing == "seed" else 15
    assert {len(f) - header for _, f in client.frames} == {frame_bytes}

    log = log_of(r, sid)
    (utterance,) = [m for m in log if isinstance(m, Utterance)]
    assert utterance.sample_rate == rate
    types = session_messages(r, sid)[0]
    assert (
        types.index("utterance")
        < types.index("transcript")
        < types.index("response.audio", types.index("transcript"))
    )

    await client.send({"type": "session.end", "session_id": sid, "reason": "call_hangup"})
    ended = await client.wait_for(type="session.ended", session_id=sid)
    stats = ended["statistics"]
    assert stats["audio_frames_received"] == len(question[rate]) // (rate // 50 * 2)
    assert stats["audio_frames_sent"] == len(client.frames)
    assert stats["vad_speech_events"] >= 1
    assert stats["barge_in_count"] == 0
    assert ended["duration_seconds"] > 0
    await until(lambda: any(isinstance(m, SessionEnd) for m in log_of(r, sid)), what="session.end")


async def test_paced_playback_sends_audio_at_the_rate_it_plays(
    stack: tuple[GatewayProcess, redis.Redis],
) -> None:
    gw, _ = stack
    client, sid = await start_session(
        gw, 8000, audio={"sample_rate": 8000, "frame_duration_ms": 30}
    )
    await client.wait_for(type="response.end", session_id=sid, response_id="greeting", within=30)
    times = [t for t, _ in client.frames]
    assert {len(f) for _, f in client.frames} == {15 + 480}  # 30 ms frames, as negotiated
    played_s = len(times) * 0.03
    span = times[-1] - times[0]
    assert played_s * 0.8 < span + 0.03 < played_s * 1.3, (played_s, span)
    await client.close()


# --- several sessions on one connection (seed framing) -------------------------------------


async def test_several_sessions_share_one_connection_with_the_seed_framing(
    stack: tuple[GatewayProcess, redis.Redis], question: dict[int, bytes], client: AspClient
) -> None:
    _, r = stack
    sids = [str(uuid.uuid4()) for _ in range(3)]
    for sid in sids:
        await client.send(start_msg(sid, 8000, legacy=True, playback="fast"))
    for sid in sids:
        await client.wait_for(
            type="response.end", session_id=sid, response_id="greeting", within=30
        )
        assert client.audio_of(sid, "seed"), sid
    # only the middle session speaks: only its log gets an utterance
    await client.send_pcm(sids[1], question[8000], SessionAudio(8000, framing="seed"))
    await client.wait_for(type="response.end", session_id=sids[1], response_id="r-u1", within=30)
    utterances = {sid: sum(isinstance(m, Utterance) for m in log_of(r, sid)) for sid in sids}
    assert utterances == {sids[0]: 0, sids[1]: 1, sids[2]: 0}
    for sid in sids:
        await client.send({"type": "session.end", "session_id": sid})
        await client.wait_for(type="session.ended", session_id=sid)


# --- barge-in --------------------------------------------------------------------------------


async def test_speech_while_the_agent_speaks_cuts_the_answer(
    stack: tuple[GatewayProcess, redis.Redis], question: dict[int, bytes]
) -> None:
    gw, r = stack
    client, sid = await start_session(gw, 16000, version="1.2.0")
    await client.wait_for(type="response.start", session_id=sid, response_id="greeting", within=30)
    await until(lambda: len(client.frames) >= 10, what="greeting audio")
    await client.send_pcm(sid, question[16000], SessionAudio(16000), realtime=1.0)
    end = await client.wait_for(type="response.end", session_id=sid, response_id="greeting")
    assert end["interrupted"] is True
    cut = next(
        m for m in log_of(r, sid) if isinstance(m, ResponseCancel) and m.response_id == "greeting"
    )
    assert cut.reason == "barge_in"
    # the interrupting speech is the next turn, and a 1.2 client hears its transcript
    await client.wait_for(type="transcript", session_id=sid, within=30)
    await client.wait_for(type="response.end", session_id=sid, response_id="r-u1", within=30)
    await client.send({"type": "session.end", "session_id": sid})
    ended = await client.wait_for(type="session.ended", session_id=sid)
    assert ended["statistics"]["barge_in_count"] == 1
    await client.close()


# --- bad input -------------------------------------------------------------------------------


async def test_every_bad_input_gets_its_error_and_the_session_goes_on(
    stack: tuple[GatewayProcess, redis.Redis], question: dict[int, bytes]
) -> None:
    gw, r = stack
    # audio before session.start
    early = await open_client(gw)
    await early.ws.send(seed_frame(str(uuid.uuid4()), bytes(320)))
    err = await early.wait_for(type="protocol.error")
    assert err["error"]["code"] == 1003

    client, sid = await start_session(gw, 8000, legacy=True, playback="fast")
    await client.wait_for(type="session.started", session_id=sid)
    await client.ws.send(seed_frame(sid, bytes(320)))  # confirms the seed framing

    async def error_for(data: str | bytes) -> dict[str, Any]:
        before = len(client.of(type="protocol.error"))
        await client.ws.send(data)
        await until(
            lambda: len(client.of(type="protocol.error")) > before, what=f"error for {data[:40]!r}"
        )
        error: dict[str, Any] = client.of(type="protocol.error")[before]["error"]
        return error

    assert (await error_for("{not json"))["code"] == 1001
    assert (await error_for("[1, 2]"))["code"] == 1001
    assert (await error_for(json.dumps({"type": "no.such.type", "session_id": sid})))[
        "code"
    ] == 1003
    assert (
        await error_for(
            json.dumps({"type": "response.start", "session_id": sid, "response_id": "x"})
        )
    )["code"] == 1003
    assert (await error_for(seed_frame(str(uuid.uuid4()), bytes(320))))["code"] == 4001
    big = await error_for(seed_frame(sid, bytes(MAX_MESSAGE + 2)))
    assert big["code"] == 1001
    assert big["details"]["limit"] == MAX_MESSAGE
    assert (await error_for("x" * (MAX_MESSAGE + 1)))["code"] == 1001
    assert (await error_for(json.dumps(start_msg(sid, 8000))))["code"] == 1005
    assert (await error_for(b"\x07\x00garbage"))["code"] == 1003
    assert (
        await error_for(
            json.dumps({"type": "session.update", "session_id": str(uuid.uuid4()), "vad": {}})
        )
    )["code"] == 4001
    bad_field = await error_for(json.dumps({**start_msg(str(uuid.uuid4())), "framing": "mp3"}))
    assert bad_field["code"] == 1001
    assert bad_field["details"]["field"] == "session.start.framing"
    # sessions per connection: the live one plus MAX_SESSIONS - 1 more, then 4003
    others = [str(uuid.uuid4()) for _ in range(MAX_SESSIONS - 1)]
    for other in others:
        await client.send(start_msg(other, 8000, legacy=True))
        await client.wait_for(type="session.started", session_id=other)
    assert (await error_for(json.dumps(start_msg(str(uuid.uuid4()), 8000, legacy=True))))[
        "code"
    ] == 4003
    for other in others:
        await client.send({"type": "session.end", "session_id": other})
        await client.wait_for(type="session.ended", session_id=other)

    # after all that, the first session still answers a question
    await client.send_pcm(sid, question[8000], SessionAudio(8000, framing="seed"))
    await client.wait_for(type="response.end", session_id=sid, response_id="r-u1", within=30)
    assert any(isinstance(m, Utterance) for m in log_of(r, sid))
    assert metric(gw.metrics(), 'asp_gateway_protocol_errors_total{code="1001"}') >= 4
    await client.close()
    await early.close()


async def test_no_session_start_in_time_closes_with_1002(
    stack: tuple[GatewayProcess, redis.Redis],
) -> None:
    gw, _ = stack
    client = await open_client(gw)
    await asyncio.wait_for(client.closed.wait(), 10)
    assert client.of(type="protocol.error")[0]["error"]["code"] == 1002
    assert client.ws.close_code == 1008


async def test_too_many_connections_from_one_address_get_4003(
    stack: tuple[GatewayProcess, redis.Redis],
) -> None:
    gw, _ = stack
    clients = [await open_client(gw) for _ in range(MAX_PER_ADDRESS)]
    extra = await AspClient.open(gw.url(token=gw.token))
    await asyncio.wait_for(extra.closed.wait(), 10)
    assert extra.of(type="protocol.error")[0]["error"]["code"] == 4003
    assert extra.ws.close_code == 1013
    for c in clients:
        await c.close()
    await until(lambda: metric(gw.metrics(), "asp_gateway_connections") == 0, what="closed")
    # the slots come back
    again = await open_client(gw)
    await again.close()


# --- a client that never reads, a client that goes away -----------------------------------


def raw_upgrade(port: int, token: str) -> socket.socket:
    """A WebSocket client that never reads after the upgrade (a small receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(
        (
            f"GET /?token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n", 1)[0]
    return s


def masked_text(payload: bytes) -> bytes:
    """A client text frame (masked with a zero key, so the payload reads as is)."""
    if len(payload) < 126:
        head = bytes((0x81, 0x80 | len(payload)))
    else:
        head = bytes((0x81, 0x80 | 126)) + struct.pack(">H", len(payload))
    return head + b"\x00\x00\x00\x00" + payload


async def test_a_client_that_never_reads_is_closed_and_others_go_on(
    stack: tuple[GatewayProcess, redis.Redis],
) -> None:
    gw, _ = stack
    before = metric(gw.metrics(), "asp_gateway_slow_clients_closed_total")
    s = raw_upgrade(gw.port, gw.token)
    # a live session (no handshake timeout), then a flood of requests that each get an answer
    sid = str(uuid.uuid4())
    s.sendall(masked_text(json.dumps(start_msg(sid, 16000, playback="fast")).encode()))
    update = {"type": "session.update", "session_id": sid, "vad": {"threshold": 0.6}}
    s.setblocking(False)
    bad = masked_text(json.dumps(update).encode())
    deadline = time.monotonic() + 60
    closed = False
    while time.monotonic() < deadline and not closed:
        try:
            s.send(bad * 50)
        except BlockingIOError:
            await asyncio.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        if metric(gw.metrics(), "asp_gateway_slow_clients_closed_total") > before:
            closed = True
        await asyncio.sleep(0)
    s.close()
    assert closed, "the gateway kept a client that never reads"
    assert "send queue full" in gw.log()
    client, sid = await start_session(gw)
    await client.wait_for(type="session.started", session_id=sid)
    await client.close()


async def test_a_client_gone_mid_answer_ends_its_session_and_cancels_the_work(
    stack: tuple[GatewayProcess, redis.Redis],
) -> None:
    gw, r = stack
    client, sid = await start_session(gw, 8000)
    await client.wait_for(type="response.start", session_id=sid, response_id="greeting", within=30)
    await until(lambda: len(client.frames) >= 5, what="greeting audio")
    client.ws.transport.abort()  # gone without a close handshake

    def ended() -> bool:
        return any(isinstance(m, SessionEnd) for m in log_of(r, sid))

    await until(ended, what="session.end on Redis")
    log = log_of(r, sid)
    (end,) = [m for m in log if isinstance(m, SessionEnd)]
    assert end.reason == "client_disconnected"
    cancels = [m for m in log if isinstance(m, ResponseCancel) and m.response_id == "greeting"]
    assert cancels
    assert cancels[0].reason == "client_disconnected"
    assert r.sismember(layout.cancelled_key(sid), "greeting")  # every replica drops it
    await until(lambda: metric(gw.metrics(), "asp_gateway_sessions") == 0, what="no live session")


async def test_metrics_and_readiness(stack: tuple[GatewayProcess, redis.Redis]) -> None:
    gw, _ = stack
    # ready: Redis answers a PING within 2 s (on a loaded machine one probe may miss)
    await until(lambda: gw.ready() == 200, 15, "ready")
    text = gw.metrics()
    for name in (
        "asp_gateway_connections",
        "asp_gateway_sessions_started_total",
        "sip_edge_vad_events_total",
    ):
        assert name in text, name
    assert seed_hash("x") == bytes.fromhex(
        "9dd4e461268c8034"
    )  # MD5("x")[:8], as the seed computes it
