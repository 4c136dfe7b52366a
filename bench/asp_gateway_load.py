"""N concurrent ASP WebSocket sessions through the asp-gateway, with the real workers on
their fake engines (issue 17): what the gateway adds, and its CPU per session.

Each session: ``session.start`` (16 kHz, ASP framing, paced playback), waits for the
greeting to be played, then streams a spoken question (espeak-ng) in real time, 20 ms
frames, and waits for the answer. Measured:

- **added latency**: from the TTS's first ``response.audio`` of the answer entering Redis
  (its stream entry id, a millisecond clock) to the client receiving the answer's first
  binary frame: the gateway's read from Redis, pacer and WebSocket (same host clock);
- **CPU per session**: the gateway process's CPU time (``/proc``) while every session
  streams, divided by the sessions and the seconds (share of one core).

    .venv/bin/python bench/asp_gateway_load.py --sessions 10 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import cast

import redis
from asp import streams as layout
from pipeline.testing import RedisServer
from sip_edge.gateway.testing import AspClient, GatewayProcess, running_workers
from sip_edge.testing import read_wav, speech_wav

RATE = 16000
FRAME = RATE // 50 * 2


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one(gw: GatewayProcess, speech: bytes, r: redis.Redis, out: list[float]) -> None:
    client = await AspClient.open(gw.url(token=gw.token))
    sid = str(uuid.uuid4())
    await client.send({"type": "session.start", "session_id": sid, "audio": {"sample_rate": RATE}})
    await client.wait_for(within=120, type="response.end", session_id=sid, response_id="greeting")
    await asyncio.sleep(0.5)
    before = len(client.frames)  # the greeting is over: every frame after is the answer
    start = time.monotonic()
    for seq, i in enumerate(range(0, len(speech) - FRAME + 1, FRAME)):
        frame = b"\x01\x00" + seq.to_bytes(4, "little") + (seq * 20_000).to_bytes(8, "little")
        await client.ws.send(frame + speech[i : i + FRAME])
        await asyncio.sleep(max(0.0, start + (seq + 1) * 0.02 - time.monotonic()))
    await client.wait_for(within=120, type="response.start", session_id=sid, response_id="r-u1")
    while len(client.frames) == before:  # noqa: ASYNC110 - the reader task appends frames
        await asyncio.sleep(0.002)
    got_at = time.time() - (time.monotonic() - client.frames[before][0])
    entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", r.xrange(layout.session_stream(sid)))
    for entry_id, fields in entries:
        if fields.get(b"type") == b"response.audio" and fields.get(b"response_id") == b"r-u1":
            ms = int(entry_id.split(b"-")[0])
            out.append(got_at * 1000 - ms)
            break
    await client.send({"type": "session.end", "session_id": sid})
    await client.wait_for(within=60, type="session.ended", session_id=sid)
    await client.close()


async def run(n: int, gw: GatewayProcess, speech: bytes, r: redis.Redis) -> dict[str, float]:
    added: list[float] = []
    assert gw.proc is not None
    cpu0, t0 = cpu_seconds(gw.proc.pid), time.monotonic()
    await asyncio.gather(*(one(gw, speech, r, added) for _ in range(n)))
    cpu = cpu_seconds(gw.proc.pid) - cpu0
    wall = time.monotonic() - t0
    added.sort()
    return {
        "sessions": n,
        "answered": len(added),
        "p50_ms": statistics.median(added) if added else float("nan"),
        "p99_ms": added[min(len(added) - 1, int(len(added) * 0.99))] if added else float("nan"),
        "cpu_per_session_pct": 100 * cpu / wall / n,
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, nargs="+", default=[10, 100])
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        samples, _ = read_wav(
            speech_wav("Qual é o horário de atendimento?", tmp / "q.wav", rate=RATE)
        )
        speech = samples.astype("<i2").tobytes() + bytes(RATE * 2)
        with RedisServer() as server:
            r = redis.Redis.from_url(server.url)
            limits = {"ASP_GATEWAY_MAX_CONNECTIONS_PER_ADDRESS": "1000"}
            with (
                running_workers(tmp, server.url),
                GatewayProcess(tmp / "gw.log", REDIS_URL=server.url, **limits) as gw,
            ):
                print(f"load before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
                for n in args.sessions:
                    res = asyncio.run(run(n, gw, speech, r))
                    print(
                        f"{n} sessions: answered {res['answered']}, added latency p50 "
                        f"{res['p50_ms']:.1f} ms p99 {res['p99_ms']:.1f} ms, gateway CPU "
                        f"{res['cpu_per_session_pct']:.2f} % of a core per session "
                        f"({res['wall_s']:.0f} s), load {os.getloadavg()[0]:.1f}"
                    )


if __name__ == "__main__":
    main()
