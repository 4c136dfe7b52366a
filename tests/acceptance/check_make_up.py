"""Acceptance check of `make up` (issue 4): a phone registered as 1001 with the password
from compose/.env dials 2000, speaks, and its speech shows up as an utterance under
``redis-cli --user ops XRANGE asp:session:{<id>} - +`` on 127.0.0.1:6379 (the operator's
ACL user; a client without a password is refused).

Run it against a running `make up` (scripts/check-make-up.sh does up, check, down, holding
the Asterisk lock so that no test run starts another Asterisk meanwhile)::

    .venv/bin/python tests/acceptance/check_make_up.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import redis

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "support"))

from asp import streams as layout  # noqa: E402
from edge_support import (  # noqa: E402
    dial_2000,
    ops_and_phones,
    speak_after_greeting,
    spoken_answer,
)
from pbx_support import read_env  # noqa: E402
from sip_edge.testing import (  # noqa: E402
    read_wav,
    session_messages,
    speech_wav,
)
from sipphone import poll_until  # noqa: E402


def main() -> int:
    env = read_env()
    # make up's Redis has ACL users (scripts/redis_acl.py): a client without a password is
    # refused; the operator's user `ops` reads what the services wrote
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").get(layout.ACTIVE_SESSIONS)
    except redis.exceptions.AuthenticationError:
        print("OK: Redis refuses a client without a password")
    else:
        print("FAIL: Redis on 127.0.0.1:6379 answers a client without a password")
        return 1
    ops_password = env["REDIS_OPS_PASSWORD"]
    with ops_and_phones(env) as (r, stack):
        phone = stack.add_phone("1001", env["EXT_1001_PASSWORD"])
        if phone.reg_status != 200:
            print(f"FAIL: 1001 did not register ({phone.reg_status})")
            return 1
        with tempfile.TemporaryDirectory() as tmp:
            speech = read_wav(speech_wav("Quero falar com o suporte técnico.", Path(tmp) / "s.wav"))
        call, sid = dial_2000(phone, r)
        print(f"answered by sip-edge: session {sid}")
        mark = speak_after_greeting(call, speech[0].astype(np.int16))
        print("OK: the phone hears the greeting")
        key = layout.session_stream(sid)

        def utterance_logged() -> bool:
            out = subprocess.run(  # as an operator would: redis-cli --user ops (docs/DEPLOY.md)
                ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "--user", "ops",
                 "XRANGE", key, "-", "+"],
                capture_output=True, timeout=10, check=True,
                env={**os.environ, "REDISCLI_AUTH": ops_password},
            ).stdout.decode(errors="replace")  # fmt: skip
            return "\nutterance\n" in f"\n{out}\n"

        poll_until(utterance_logged, 30, "an utterance in redis-cli XRANGE", interval=0.5)
        print(f"OK: redis-cli XRANGE {key} - + shows the utterance")
        said = spoken_answer(call, mark, r, sid)
        print("OK: the phone hears a spoken answer (offline defaults)")
        print(f"   the agent's answer (response.text): {said!r}")
        if not said:
            print("FAIL: no response.text besides the greeting (was it the apology?)")
            return 1
        call.hangup()
        rc = check_asp_gateway(env["ASP_GATEWAY_TOKEN"])
        return rc or check_asp_gateway_question(env["ASP_GATEWAY_TOKEN"], r)


def check_asp_gateway(token: str) -> int:
    """The asp-gateway `make up` started answers on ws://127.0.0.1:8765/ with the token of
    compose/.env, and refuses a client without it."""
    import asyncio
    import json
    import uuid

    from websockets.asyncio.client import connect
    from websockets.exceptions import InvalidStatus

    async def run() -> int:
        try:
            async with connect("ws://127.0.0.1:8765/"):
                print("FAIL: asp-gateway accepted a client without a token")
                return 1
        except InvalidStatus as e:
            if e.response.status_code != 401:
                print(f"FAIL: asp-gateway answered {e.response.status_code} without a token")
                return 1
        headers = {"Authorization": f"Bearer {token}"}
        async with connect("ws://127.0.0.1:8765/", additional_headers=headers) as ws:
            caps = json.loads(await ws.recv())
            sid = str(uuid.uuid4())
            await ws.send(json.dumps({"type": "session.start", "session_id": sid}))
            started = json.loads(await ws.recv())
            await ws.send(json.dumps({"type": "session.end", "session_id": sid}))
        if caps.get("type") != "protocol.capabilities" or started.get("status") != "accepted":
            print(f"FAIL: asp-gateway handshake: {caps.get('type')}, {started.get('status')}")
            return 1
        print("OK: asp-gateway ws://127.0.0.1:8765/ accepts a session with ASP_GATEWAY_TOKEN")
        return 0

    return asyncio.run(run())


def check_asp_gateway_question(token: str, r: redis.Redis) -> int:
    """A 16 kHz ASP client (asp-debug) asks a question spoken by the project's Kokoro through
    the asp-gateway, and the real models of `make up` answer it: the transcript is on the
    session's stream and the answer's audio comes back to the client."""
    import asyncio
    import re
    import wave

    from asp.messages import ResponseAudio, Transcript
    from tts_worker.testing import packaged_kokoro

    question = "Qual é o horário de funcionamento?"
    spoken = asyncio.run(packaged_kokoro().synthesize(question, language="pt-BR"))
    pcm = b"".join(c.pcm for c in spoken.render(16000))
    with tempfile.TemporaryDirectory() as tmp:
        ask, answer = Path(tmp) / "pergunta.wav", Path(tmp) / "resposta.wav"
        with wave.open(str(ask), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(pcm)
        out = subprocess.run(
            [str(REPO / ".venv" / "bin" / "asp-debug"), "connect", "ws://127.0.0.1:8765/",
             "--token", token, "--sample-rate", "16000", "--send", str(ask),
             "--save", str(answer), "--timeout", "120"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if out.returncode != 0:
            print(f"FAIL: asp-debug connect exited {out.returncode}:\n{out.stdout}{out.stderr}")
            return 1
        heard, rate = read_wav(answer) if answer.exists() else (np.zeros(0), 16000)
    step = rate // 50  # 20 ms frames
    frames = heard[: len(heard) // step * step].reshape(-1, step)
    voiced_s = float((np.sqrt(np.mean(frames * frames, axis=1)) > 300.0).sum()) * 0.02
    found = re.search(r"session\.start.*?([0-9a-f]{8}-[0-9a-f-]{27})", out.stdout)
    if found is None:
        print(f"FAIL: no session id in asp-debug's output:\n{out.stdout}")
        return 1
    msgs = session_messages(r, found.group(1))[1]
    said = " ".join(m.text for m in msgs if isinstance(m, Transcript))
    audio = [m for m in msgs if isinstance(m, ResponseAudio) and m.response_id != "greeting"]
    print(
        f"   asp-gateway, real models: transcript {said!r}, {len(audio)} answer chunks, "
        f"{voiced_s:.1f} s of speech back"
    )
    if "horário" not in said.lower() or not audio or voiced_s < 0.5:
        print("FAIL: the asp-gateway question was not transcribed and answered with speech")
        return 1
    print("OK: a 16 kHz ASP client's spoken question is answered by the real models")
    return 0


if __name__ == "__main__":
    sys.exit(main())
