"""Helpers for tests and benchmarks: a call without SIP (:class:`LoudIsSpeech`,
:class:`NoHandle`, for a ``CallSession`` fed frames by hand; :class:`ScriptedCall`, one whose
VAD verdict the test sets), audio made offline (espeak-ng
speech resampled by sox; both Debian packages, installed by
scripts/setup.d/31-sip-edge-test-audio.sh) and how it is compared (normalized
cross-correlation)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

import numpy as np
import numpy.typing as npt
from asp import ASPError, from_entry, to_entry
from asp import streams as layout
from asp.messages import Message, ResponseAudio, SessionStart
from pipeline.proc_watch import watching
from pipeline.testing import stop_process

if TYPE_CHECKING:
    from pipeline.bus import Bus
    from redis.typing import EncodableT, FieldT

    from .calls import CallSession
    from .metrics import Metrics

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
"""The Redis that tests point a sip-edge process at (the shared one of ``make test``)."""

Signal = npt.NDArray[np.float64]
"""Mono audio as float64 samples on the PCM16 scale (-32768..32767)."""


class LoudIsSpeech:
    """A VAD for tests: a frame with any sample set is speech."""

    deferred = False

    def probability(self, frame: bytes) -> float:
        return 1.0 if any(frame) else 0.0

    def reset(self) -> None:
        return None


class NoHandle:
    """The SIP side of a call that has none (a ``CallSession`` driven by a test)."""

    def hangup(self, status_code: int = 0) -> None: ...

    def transfer(self, extension: str) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...


class ScriptedVAD:
    """A classifier whose verdict the test sets (hand-written fake): speech while
    ``speaking``."""

    deferred = False

    def __init__(self) -> None:
        self.speaking = False

    def probability(self, frame: bytes) -> float:
        return 0.95 if self.speaking else 0.0

    def reset(self) -> None:
        return None


class RecordingHandle:
    """The SIP side of a call driven by a test: records what the call asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def hangup(self, status_code: int = 0) -> None:
        self.asked.append("hangup")

    def transfer(self, extension: str) -> None:
        self.asked.append(f"transfer {extension}")

    def send_dtmf(self, digits: str) -> None:
        self.asked.append(f"dtmf {digits}")


SCRIPTED_FRAME = 320
"""One frame of a :class:`ScriptedCall`: 20 ms at 8 kHz, PCM16."""


@dataclasses.dataclass
class ScriptedCall:
    """One ``CallSession`` on a real bus with no SIP: its media up at 8 kHz (PCMU), a
    :class:`ScriptedVAD` as its classifier and a :class:`RecordingHandle` as its SIP side;
    the test runs its media clock (:meth:`step`, or the session's own methods)."""

    session: CallSession
    handle: RecordingHandle
    vad: ScriptedVAD
    bus: Bus
    metrics: Metrics

    @classmethod
    def start(cls, bus: Bus, call_ref: int = 1, remote_uri: str = "sip:x", **kwargs: Any) -> Self:
        """``kwargs``: the edge's settings to change (the VAD is webrtc's, whose
        parameters the scripted verdicts go through), and ``apologies``, ``goodbyes``."""
        from .calls import CallSession
        from .media import CallInfo
        from .metrics import Metrics
        from .settings import Settings

        clips = {k: kwargs.pop(k) for k in ("apologies", "goodbyes") if k in kwargs}
        info = CallInfo(
            call_ref=call_ref,
            sip_call_id=f"c-{call_ref}",
            caller_number="1001",
            remote_uri=remote_uri,
        )
        handle, metrics, vad = RecordingHandle(), Metrics(), ScriptedVAD()
        settings = dataclasses.replace(Settings(), vad="webrtc", **kwargs)
        session = CallSession(info, handle, settings, metrics, bus, lambda _: None, **clips)
        session.on_media(8000, "PCMU")
        session.classifier = vad
        return cls(session, handle, vad, bus, metrics)

    @property
    def sid(self) -> str:
        return self.session.session_id

    async def send_audio(
        self, response_id: str, fill: int, frames: int, *, seq: int = 0, is_final: bool = True
    ) -> None:
        """Publishes a response.audio chunk of ``frames`` frames, every byte ``fill`` (what
        :meth:`step` then shows of it), as the TTS would."""
        audio = bytes([fill]) * SCRIPTED_FRAME * frames
        await self.bus.publish(
            ResponseAudio(
                session_id=self.sid,
                response_id=response_id,
                seq=seq,
                audio=audio,
                is_final=is_final,
            )
        )

    def caller_says(self, voiced: int = 30, silent: int = 25) -> None:
        """The caller's turn, frames in with no playout: ``voiced`` frames of speech, then
        ``silent`` ones (25, 500 ms, end the turn)."""
        self.vad.speaking = True
        for _ in range(voiced):
            self.session.on_frame(b"\x40" * SCRIPTED_FRAME)
        self.vad.speaking = False
        for _ in range(silent):
            self.session.on_frame(bytes(SCRIPTED_FRAME))

    def step(self, n: int = 1) -> list[int]:
        """``n`` media-clock ticks: one caller frame in (voiced while the VAD says speech),
        one frame out (its first byte)."""
        out = []
        for _ in range(n):
            out.append(self.session.next_playout_frame()[0])
            voiced = self.vad.speaking
            self.session.on_frame(b"\x40" * SCRIPTED_FRAME if voiced else bytes(SCRIPTED_FRAME))
        return out


def speech_wav(text: str, path: Path, voice: str = "pt-br", rate: int = 8000) -> Path:
    """Speaks ``text`` with espeak-ng into a mono PCM16 WAV at ``rate``."""
    raw = path.with_suffix(".espeak.wav")
    espeak = ["espeak-ng", "-v", voice, "-s", "160", "-w", str(raw), text]
    sox = ["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)]
    # Fixed Debian tools found on PATH, arguments from the caller's own code.
    subprocess.run(espeak, check=True, timeout=30)  # noqa: S603
    subprocess.run(sox, check=True, timeout=30)  # noqa: S603
    raw.unlink()
    return path


def read_wav(path: Path) -> tuple[Signal, int]:
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2
        assert w.getnchannels() == 1
        data = w.readframes(w.getnframes())
        return np.frombuffer(data, dtype="<i2").astype(np.float64), w.getframerate()


def pcm(samples: npt.ArrayLike) -> bytes:
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


def from_pcm(data: bytes) -> Signal:
    return np.frombuffer(data, dtype="<i2").astype(np.float64)


def best_correlation(haystack: Signal, needle: Signal) -> tuple[float, int]:
    """Max normalized correlation of ``needle`` against every same-length window of
    ``haystack`` (which must be at least as long), and the offset where it is found."""
    n = len(needle)
    if len(haystack) < n:
        haystack = np.concatenate([haystack, np.zeros(n - len(haystack))])
    size = 1 << int(np.ceil(np.log2(len(haystack) + n)))
    spectrum = np.fft.rfft(haystack, size) * np.conj(np.fft.rfft(needle, size))
    dots = np.fft.irfft(spectrum, size)[: len(haystack) - n + 1]
    energy = np.concatenate([[0.0], np.cumsum(haystack**2)])
    norms = np.sqrt(energy[n:] - energy[:-n]) * np.sqrt(np.sum(needle**2))
    scores = np.where(norms > 0, dots / np.maximum(norms, 1e-9), 0.0)
    i = int(np.argmax(scores))
    return float(scores[i]), i


def windowed_match(
    haystack: Signal, needle: Signal, rate: int = 8000, window_s: float = 0.1
) -> list[tuple[float, int]]:
    """Finds each voiced window of ``needle`` in ``haystack``: (score, offset) per window.

    Real-time transport may insert or drop a 20 ms frame (jitter buffer), which ruins one
    correlation over a whole utterance but not this: every part of the speech must be
    there, in order."""
    n = int(rate * window_s)
    peak = float(np.max(np.abs(needle))) or 1.0
    out = []
    for start in range(0, len(needle) - n + 1, n):
        seg = needle[start : start + n]
        if float(np.max(np.abs(seg))) < 0.05 * peak:
            continue
        out.append(best_correlation(haystack, seg))
    return out


def write_wav(path: Path, samples: npt.ArrayLike, rate: int = 8000) -> Path:
    """Writes ``samples`` as a mono PCM16 WAV (clipped to the int16 range)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm(samples))
    return path


def frame_rms(x: Signal, frame: int = 160) -> Signal:
    """The RMS level of each frame of ``x`` (160 samples: 20 ms at 8 kHz)."""
    n = len(x) // frame
    frames = np.asarray(x[: n * frame], dtype=np.float64).reshape(n, frame)
    rms: Signal = np.sqrt(np.mean(frames * frames, axis=1))
    return rms


def agent_tone(seconds: float, amplitude: float = 800.0, rate: int = 8000) -> Signal:
    """A continuous 'agent voice' with no pauses, so the moment it stops is unambiguous."""
    t = np.arange(int(seconds * rate)) / rate
    tone: Signal = amplitude * (
        np.sin(2 * np.pi * 450 * t) + np.sin(2 * np.pi * 1100 * t) + np.sin(2 * np.pi * 1900 * t)
    )
    return tone


SPEECH_DBOV = -26.0
"""The usual active speech level on a telephone line (ITU-T P.56), the reference of SNRs."""


def line_noise(
    seconds: float = 10.0, snr_db: float = -20.0, seed: int = 1, rate: int = 8000
) -> Signal:
    """White noise limited to the telephone band (300-3400 Hz) at ``snr_db`` below the
    speech level: -20 dB SNR is noise 20 dB above -26 dBov speech, -6 dBov."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / rate)
    spec[(freqs < 300) | (freqs > 3400)] = 0
    noise = np.fft.irfft(spec, n)
    scaled: Signal = (
        noise * 32768 * 10 ** ((SPEECH_DBOV - snr_db) / 20) / np.sqrt(np.mean(noise**2))
    )
    return scaled


# Entries a session stream may carry that are no ASP message: sip-edge must count and skip
# them (sip_edge_malformed_entries_total), and go on with the entries after them.
MALFORMED_ENTRIES: list[dict[FieldT, EncodableT]] = [
    {"type": "response.audio", "data": b"\xc1not msgpack"},
    {"type": "nope.unknown", "data": b"\x80"},
    {"data": b"\x80"},
    {"type": "response.audio", "session_id": "x", "data": b"\x81\xa3seq\x01"},
]

# Twenty short, different caller phrases (pt-BR) for the many-calls tests: each call says
# its own, so a session's audio tells which call it came from.
CALLER_PHRASES = [
    "Bom dia, tudo bem?", "Quero cancelar o pedido.", "Minha senha expirou.",
    "A fatura chegou errada.", "Preciso de uma segunda via.", "Onde fica a loja?",
    "O técnico não apareceu.", "Vocês abrem sábado?", "Meu cartão foi recusado.",
    "Gostaria de elogiar.", "O sinal está fraco.", "Mudei de endereço.",
    "Quanto custa o plano?", "Quero falar com alguém.", "A entrega atrasou.",
    "Esqueci meu login.", "Posso pagar com pix?", "O aplicativo travou.",
    "Recebi cobrança duplicada.", "Obrigado pela ajuda.",
]  # fmt: skip


# --- processes for end-to-end tests ----------------------------------------------------------


class ServiceProcess:
    """A service as its own process (``python -m <module>``), its stderr in ``log_path``,
    ``env`` over this process's environment. It prints ``<prefix>_READY key=value ...`` on
    stdout once it listens; :meth:`on_ready` takes those values. A context manager: SIGTERM
    on exit (SIGKILL ``stop_wait_s`` later)."""

    module = ""
    name = ""
    prefix = ""
    """Its settings' prefix (``SIP_EDGE``): its variables and its ready line start with it."""
    stop_wait_s = 15.0
    loopback_env: ClassVar[dict[str, str]] = {}
    """The settings, besides its metrics endpoint's, that put the service on free loopback
    ports (``env`` overrides them)."""

    def __init__(self, log_path: Path, **env: str) -> None:
        self.log_path = log_path
        metrics = {f"{self.prefix}_METRICS_HOST": "127.0.0.1", f"{self.prefix}_METRICS_PORT": "0"}
        self.env = {**os.environ, **metrics, **self.loopback_env, **env}
        self.proc: subprocess.Popen[str] | None = None
        self.metrics_port = 0
        self.returncode: int | None = None

    def on_ready(self, values: dict[str, str]) -> None:
        self.metrics_port = int(values["metrics_port"])

    def __enter__(self) -> Self:
        with self.log_path.open("w") as log_file:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [sys.executable, "-m", self.module],
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                env=self.env,
            )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(f"{self.prefix}_READY"):
                self.on_ready(dict(p.split("=", 1) for p in line.split()[1:]))
                return self
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        proc = self.proc
        if proc is None or self.returncode is not None:
            return
        self.returncode = stop_process(proc, self.stop_wait_s)
        if proc.stdout is not None:
            proc.stdout.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        url = f"http://127.0.0.1:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as resp:
            return str(resp.read().decode())


class EdgeProcess(ServiceProcess):
    """sip-edge as its own process (``python -m sip_edge``) on free ports, bound to
    loopback. ``env`` overrides settings. Use as a context manager; SIGTERM on exit."""

    module = "sip_edge"
    name = "sip-edge"
    prefix = "SIP_EDGE"
    loopback_env: ClassVar[dict[str, str]] = {
        "SIP_EDGE_SIP_PORT": "0",
        "SIP_EDGE_SIP_BIND": "127.0.0.1",
        "SIP_EDGE_RTP_PORT": "0",
        "SIP_EDGE_DRAIN_GRACE_S": "2",
    }
    sip_port = 0

    def on_ready(self, values: dict[str, str]) -> None:
        super().on_ready(values)
        self.sip_port = int(values["sip_port"])

    @contextlib.contextmanager
    def watched(self, fixture: str, name: str = "sip-edge") -> Iterator[None]:
        """While inside, the tests that use ``fixture`` fail at once if this process dies
        (pipeline.proc_watch), with its exit status and the end of its log."""
        with watching(name, fixture, lambda: self.proc, self.log_path):
            yield

    @property
    def uri(self) -> str:
        return f"sip:2000@127.0.0.1:{self.sip_port}"


def metric(text: str, name: str) -> float:
    """The value of a Prometheus sample (first one with that name) in exposition text."""
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    raise KeyError(name)


CALLER_SCRIPT = Path(__file__).parents[2] / "tests" / "support" / "edge_caller.py"


def start_caller(target: str, user: str, *args: str) -> subprocess.Popen[str]:
    """The PJSUA2 test caller (tests/support/edge_caller.py) in its own process."""
    return subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(CALLER_SCRIPT), "--target", target, "--user", user, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


MULTI_CALLER_SCRIPT = CALLER_SCRIPT.with_name("multi_caller.py")


def start_multi_caller(
    target: str, user: str, calls: list[tuple[Path, Path]], *args: str
) -> tuple[subprocess.Popen[str], list[str]]:
    """Many PJSUA2 calls from one process (tests/support/multi_caller.py): call i plays
    ``calls[i][0]`` and records into ``calls[i][1]``. Returns the process once every call is
    up (or given up on), with the SIP Call-ID of each call; ``caller_result`` ends it."""
    argv = [sys.executable, str(MULTI_CALLER_SCRIPT), "--target", target, "--user", user, *args]
    for i, (play, record) in enumerate(calls):
        argv += ["--call", f"{i}:{play}:{record}"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)  # noqa: S603 - ours
    assert proc.stdout is not None
    line = ""
    while not line.startswith('{"call_ids"'):
        line = proc.stdout.readline()
        if not line:
            proc.wait(10)
            raise RuntimeError(f"the caller process died (exit {proc.returncode})")
    call_ids: list[str] = json.loads(line)["call_ids"]
    return proc, call_ids


def sip_messages(log_path: Path, call_id: str) -> list[str]:
    """The SIP messages of the call ``call_id`` in a PJSIP log of level 4 (each one from its
    ``TX``/``RX`` line to ``--end msg--``), in order: what a failing test shows of a call."""
    if not log_path.exists():
        return []
    blocks: list[str] = []
    block: list[str] | None = None
    for line in log_path.read_text(errors="replace").splitlines():
        if block is None:
            if (" TX " in line or " RX " in line or ".TX " in line or ".RX " in line) and (
                " msg " in line
            ):
                block = [line]
            continue
        block.append(line)
        if line.startswith("--end msg--"):
            text = "\n".join(block)
            if f"Call-ID: {call_id}" in text or f"i: {call_id}" in text:
                blocks.append(text)
            block = None
    return blocks


def caller_result(proc: subprocess.Popen[str], timeout: float = 40) -> dict[str, object]:
    out, _ = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"the caller printed no result: {out[-2000:]}")
    result: dict[str, object] = json.loads(lines[-1])
    return result


def stream_fields(entry: dict[str, Any]) -> dict[FieldT, EncodableT]:
    """An entry (:func:`asp.to_entry`) as redis-py's XADD is typed (its own key and value
    unions; dict is invariant). The same dict, not a copy."""
    return cast("dict[FieldT, EncodableT]", entry)


def last_entry_id(r: Any, key: str) -> str:
    """The id of the newest entry of a stream (``0-0`` when it has none): read after it."""
    last = r.xrevrange(key, count=1)
    return str(last[0][0].decode()) if last else "0-0"


def session_starts(
    r: Any,
    after: str,
    n: int,
    timeout: float = 10.0,
    match: Callable[[SessionStart], bool] = lambda _msg: True,
) -> list[SessionStart]:
    """Waits for the next ``n`` session.start entries after entry ``after`` of
    ``asp:work:llm`` that ``match`` accepts (other tests share the stream); returns those
    seen within ``timeout`` seconds (fewer than ``n`` if it ran out).

    A work entry is deleted once the llm-worker has handled it, which can be before this
    reads it (the greeting starts while the caller's phone is still confirming the call), so
    the active sessions' own logs are read too: a session whose ``session.start`` entry is
    newer than ``after`` (stream ids of one Redis share its clock) counts as well."""
    key = layout.work_stream(layout.Stage.LLM)
    since = _entry_key(after)
    found: list[SessionStart] = []
    seen: set[str] = set()

    def take(fields: dict[bytes, bytes]) -> None:
        if fields.get(b"type") != b"session.start":
            return
        msg = from_entry(fields)
        if not isinstance(msg, SessionStart) or msg.session_id in seen:
            return
        seen.add(msg.session_id)
        if match(msg) and len(found) < n:
            found.append(msg)

    deadline = time.monotonic() + timeout
    while len(found) < n and time.monotonic() < deadline:
        for _key, entries in r.xread({key: after}, block=200) or []:
            for entry_id, fields in entries:
                after = entry_id.decode()
                take(fields)
        for raw in r.zrange(layout.ACTIVE_SESSIONS, 0, -1):
            sid = raw.decode() if isinstance(raw, bytes) else str(raw)
            if sid in seen or len(found) >= n:
                continue
            first = r.xrange(layout.session_stream(sid), count=1)
            if first and _entry_key(first[0][0].decode()) > since:
                take(first[0][1])
    return found


def _entry_key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def find_session(r: Any, after: str, caller_number: str, timeout: float = 10.0) -> str:
    """The session_id of the next call from ``caller_number`` (see session_starts)."""
    starts = session_starts(
        r, after, 1, timeout, lambda m: (m.metadata or {}).get("caller_number") == caller_number
    )
    if not starts:
        raise TimeoutError(f"no session.start from {caller_number}")
    return starts[0].session_id


def new_caller_number() -> str:
    """A caller number of its own, that find_session tells this test's call apart by."""
    return f"t{random.randrange(10**8, 10**9)}"


def dial(r: Any, edge: EdgeProcess, *args: str) -> tuple[subprocess.Popen[str], str]:
    """Calls ``edge`` with the test caller (``args``: start_caller's) from a caller number of
    its own; the caller's process and the session_id of the call, once it started."""
    who = new_caller_number()
    after = last_entry_id(r, layout.work_stream(layout.Stage.LLM))
    caller = start_caller(edge.uri, who, *args)
    return caller, find_session(r, after, who)


def wait_session_end(
    r: Any, sid: str, edge: EdgeProcess, caller: dict[str, object], timeout: float = 5
) -> None:
    """Waits for the session's session.end; on a timeout the error carries what the caller
    saw, whether sip-edge is still running, and the end of its log."""
    deadline = time.monotonic() + timeout
    while "session.end" not in session_messages(r, sid)[0]:
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"no session.end for {sid} within {timeout} s; caller: {caller}; "
                f"sip-edge exit status: {edge.proc.poll() if edge.proc else None}\n"
                f"{edge.log()[-4000:]}"
            )
        time.sleep(0.1)


def send(r: Any, session_id: str, msg: Message) -> None:
    """Writes ``msg`` to the session's stream, as a stage of the pipeline does."""
    r.xadd(layout.session_stream(session_id), stream_fields(to_entry(msg)))


def write_response(
    r: Any,
    session_id: str,
    response_id: str,
    audio: bytes,
    chunk: int = 3200,
    seqs: Iterable[int] | None = None,
) -> int:
    """Writes ``audio`` as response.audio chunks (as the TTS worker does); returns the count
    of chunks the whole response has. ``seqs``: write only those chunks (default: all)."""
    n = -(-len(audio) // chunk)
    stream = layout.session_stream(session_id)
    for seq in range(n) if seqs is None else seqs:
        msg = ResponseAudio(
            session_id=session_id,
            response_id=response_id,
            seq=seq,
            audio=audio[seq * chunk : (seq + 1) * chunk],
            is_final=seq == n - 1,
        )
        r.xadd(stream, to_entry(msg))
    return n


def session_messages(r: Any, session_id: str) -> tuple[list[str], list[Message]]:
    """Every entry type of a session log, and the entries that parse."""
    types: list[str] = []
    msgs: list[Message] = []
    for _id, fields in r.xrange(layout.session_stream(session_id)):
        types.append(fields.get(b"type", b"").decode(errors="replace"))
        try:
            msgs.append(from_entry(fields))
        except ASPError:
            continue
    return types, msgs


def audio_found(
    haystack: Signal, needle: Signal, min_score: float = 0.8, max_bad: float = 0.2
) -> str | None:
    """None when ``needle`` is in ``haystack`` (correlation >= min_score window by window, in
    order), else why not. A share ``max_bad`` of the 100 ms windows (at least one) may miss:
    a jitter buffer that inserts or drops a 20 ms frame under load disturbs the window it
    falls in."""
    windows = windowed_match(haystack, needle)
    if len(windows) < 4:
        return f"too few voiced windows ({len(windows)})"
    bad = windows_missed(windows, min_score)
    if bad > max(1, int(len(windows) * max_bad)):
        return f"{bad} of {len(windows)} windows below {min_score} or out of order: {windows}"
    return None


def windows_missed(windows: list[tuple[float, int]], min_score: float, slip: int = 160) -> int:
    """How many of the (score, offset) windows of :func:`windowed_match` miss: below
    ``min_score``, or out of order (a 100 ms vowel can resemble another one). "In order" is
    the longest chain of good windows whose offsets never go back by more than ``slip``
    samples (a frame dropped by a jitter buffer moves the rest back by 20 ms): one window
    matched far ahead is one miss, not a miss for every window after it."""
    good = [offset for score, offset in windows if score >= min_score]
    chain = [1] * len(good)  # the longest in-order chain ending at each good window
    for j in range(len(good)):
        for i in range(j):
            if good[j] >= good[i] - slip and chain[i] + 1 > chain[j]:
                chain[j] = chain[i] + 1
    return len(windows) - max(chain, default=0)
