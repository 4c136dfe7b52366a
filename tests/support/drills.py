"""Failure drills through the real call path (issue 14 item 5): a PJSUA2 phone (1001) calls
2000 through the real Asterisk, where sip-edge is registered; the three workers run as their
own processes with their fake engines (STT: a fixed question; LLM: a fixed three-sentence
answer, a word every 0.25 s; TTS: a 440 Hz tone, 50 ms a character, 1 s a sentence), two
replicas each of the LLM and the TTS, on a private redis-server (AOF on, as deployed) reached
through a TCP proxy of the drill's own (:class:`TcpProxy`) that can stop forwarding.

One drill is one call: the greeting, a question (espeak speech), a fault in the middle of
the answer (after its first audio reached the phone), then the fault is undone the way a
supervisor would (the killed process started again, Redis back, the proxy forwarding again)
and a second question. Each turn is judged at the phone, from what it heard after the
question (:func:`judge_turn`): it ended in speech when the phone heard the whole answer (as
much tone as the answer's sentences make) or an apology (sip-edge's own clip, found by
correlation, or the pipeline's spoken apology), with no silence longer than sip-edge's bound
(``SIP_EDGE_NO_ANSWER_S``, 8 s) plus :data:`TOLERANCE_S` before that. An utterance is lost
when its turn did not end in an apology and it never reached a transcript (read from Redis
after the call; the phone's own count of questions is compared with the utterances there).

The sip-edge drill kills sip-edge (SIGKILL) in the middle of the answer: the phone's call
must end (a BYE from Asterisk) within :data:`EDGE_DEAD_CALL_END_S`, and once sip-edge is
started again the next call must be answered and its question answered in speech.

With ``engines="real"`` (``bench/drills.py --engines real``) the workers run the engines
``make up`` runs offline instead (faster-whisper base, the local Qwen GGUF with the shipped
facts file compose/agent/fatos.toml, Kokoro; the CPU threads ``scripts/workers.sh env``
chooses for this host), same topology. The question is then :data:`REAL_QUESTION`, spoken by
the project's Kokoro voice (``agent_support.kokoro_says``): the llm-worker answers it from
the facts without the model (llm_worker.company), so a turn takes seconds on two cores. The
phrase cache is off, as with the fake engines, so that every answer is synthesized (a
cached one leaves no work at the TTS to kill). A worker kind's fault comes as soon as a
replica of its stage holds the turn's work, or else at the answer's start
(:func:`wait_work_or_answer`): by the time a facts answer reaches the phone no stage holds
anything any more, and killing then hits an idle replica. Real speech has no known length: a turn
ended in the answer when the phone heard as much voiced speech as the audio of that turn's
completed answer on the session stream (its ``response.audio``, this session's own
``response.end``; :class:`SpokenLengths`), in a pipeline apology likewise with the
``apology-*`` response of that turn; the greeting is waited for by its ``response.end``
(Kokoro's pieces may pause longer than the quiet that ends the fake one). Everything else
(the sip-edge apology by correlation, the silence bound, lost utterances) is judged as with
the fake engines.

Used by tests/integration/drills/test_drills.py (a drill of each kind) and bench/drills.py
(``--per-kind N``, the table in docs/perf/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import numpy as np
import numpy.typing as npt
import redis
from asp import Stage
from asp import streams as layout
from asp.messages import (
    Message,
    ResponseAudio,
    ResponseCancel,
    ResponseEnd,
    ResponseStart,
    SessionStart,
    Transcript,
    Utterance,
    UtteranceCancel,
)
from edge_support import dial_2000
from pbx_support import cli
from pipeline.testing import RedisServer, TcpProxy, free_port
from sip_edge.testing import (
    EdgeProcess,
    audio_found,
    frame_rms,
    metric,
    read_wav,
    session_messages,
    speech_wav,
)
from sipphone import FRAME_SAMPLES, SAMPLE_RATE, Phone, PhoneCall, poll_until

KINDS = (
    "kill-stt",
    "kill-llm",
    "kill-tts",
    "term-llm",
    "restart-redis",
    "freeze-redis",
    "kill-edge",
)
QUESTION = "Como eu pago a minha conta?"
ANSWER_SENTENCES = (
    "Você pode pagar no boleto ou no cartão de crédito.",
    "O boleto chega por e-mail todo mês, com o código de barras.",
    "Posso ajudar em algo mais?",
)
PIPELINE_APOLOGY = "Desculpe, tive um problema técnico. Pode repetir, por favor?"
EDGE_APOLOGY = "Desculpe, um momento."
MS_PER_CHAR = 50.0  # the fake TTS (tts_worker.testing.FakeTTS)
BOUND_S = 8.0  # SIP_EDGE_NO_ANSWER_S, its default
TOLERANCE_S = 1.5  # two jitter buffers and the phone's polling, on a loaded host
TURN_TIMEOUT_S = 40.0
FREEZE_S = 10.0  # longer than every client's socket timeout (5 s)
EDGE_DEAD_CALL_END_S = 45.0
VOICED_RMS = 300.0
FRAME_S = FRAME_SAMPLES / SAMPLE_RATE

WORKER_ENV = {
    "STT_PROVIDER": "fake",
    "STT_FAKE_TEXT": QUESTION,
    "LLM_PROVIDER": "fake",
    "LLM_FAKE_TEXT": " ".join(ANSWER_SENTENCES),
    "LLM_FAKE_WORDS": "1",
    "LLM_FAKE_DELAY_S": "0.25",
    "TTS_PROVIDER": "fake",
    "TTS_FALLBACK": "none",
    "TTS_FAKE_DELAY_S": "1.0",
    "TTS_CACHE_MAX_PHRASES": "0",
    "METRICS_HOST": "127.0.0.1",
    "LOG_LEVEL": "INFO",
}
# (module, replicas): the topology of every drill
TOPOLOGY = (("stt_worker", 1), ("llm_worker", 2), ("tts_worker", 2))

ENGINES = ("fake", "real")
REPO = Path(__file__).resolve().parents[2]
# Answered from the facts file without the model (llm_worker.company): "O nosso endereço é
# Rua das Flores, 123, Centro, Campinas, São Paulo." (about 5 s of Kokoro speech)
REAL_QUESTION = "Qual é o endereço de vocês?"
REAL_READY_S = 600.0  # two llm-workers loading the model and evaluating the prompt at once
MIN_SPEECH_S = 1.0  # less voiced speech than this is no answer or apology (real engines)


def real_worker_env() -> dict[str, str]:
    """The engines ``make up`` runs offline (each service's defaults: faster-whisper base,
    the local GGUF, Kokoro with the espeak fallback) with the thread counts, facts file and
    time zone ``scripts/workers.sh`` chooses for this host; the phrase cache off (see the
    module)."""
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "workers.sh"), "env"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    chosen = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    return {
        **chosen,
        "STT_PROVIDER": "faster_whisper",
        "LLM_PROVIDER": "local",
        "TTS_PROVIDER": "auto",
        "TTS_CACHE_MAX_PHRASES": "0",
        "METRICS_HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }


def worker_env(engines: str) -> dict[str, str]:
    if engines == "fake":
        return WORKER_ENV
    if engines == "real":
        return real_worker_env()
    raise ValueError(f"engines must be one of {ENGINES}, not {engines!r}")


def tone_seconds(text: str) -> float:
    return len(text) * MS_PER_CHAR / 1000


ANSWER_S = sum(tone_seconds(s) for s in ANSWER_SENTENCES)
PIPELINE_APOLOGY_S = tone_seconds(PIPELINE_APOLOGY)


# -- the workers ----------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    module: str
    proc: subprocess.Popen[bytes]


class Workers:
    """The workers as processes (``env``: the fake engines by default) on ``redis_url``; a
    killed one is started again under a new name, as a supervisor would (a new pod)."""

    def __init__(self, folder: Path, redis_url: str, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.url = redis_url
        self.env = WORKER_ENV if env is None else env
        self.procs: dict[str, Proc] = {}
        self._n = 0

    def start(self, module: str) -> str:
        self._n += 1
        name = f"{module.split('_')[0]}-{self._n}"
        with (self.folder / f"{name}.log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", module],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={
                    **os.environ,
                    **self.env,
                    "REDIS_URL": self.url,
                    "WORKER_NAME": name,
                    "METRICS_PORT": str(free_port()),
                },
            )
        self.procs[name] = Proc(name, module, proc)
        return name

    def signal(self, name: str, sig: signal.Signals) -> Proc:
        """Sends ``sig``; the process is forgotten (its replacement is started by
        :meth:`replace`)."""
        p = self.procs.pop(name)
        p.proc.send_signal(sig)
        return p

    def replace(self, p: Proc, wait_s: float = 30) -> str:
        """Waits for ``p`` to exit (a SIGTERMed replica finishes its grace), starts another."""
        try:
            p.proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            p.proc.kill()
            p.proc.wait()
        return self.start(p.module)

    def of(self, module: str) -> list[str]:
        return [n for n, p in self.procs.items() if p.module == module]

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def stop(self) -> dict[str, int]:
        for p in self.procs.values():
            if p.proc.poll() is None:
                p.proc.send_signal(signal.SIGTERM)
        codes: dict[str, int] = {}
        for name, p in self.procs.items():
            try:
                codes[name] = p.proc.wait(20)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                codes[name] = p.proc.wait()
        return codes


# -- the rig -----------------------------------------------------------------------------------


def pending_holders(r: redis.Redis, stage: str) -> list[str]:
    """The consumers holding the stage's pending work (the replicas working on it)."""
    s = Stage(stage)
    try:
        entries = cast(
            list[dict[str, Any]],
            r.xpending_range(
                layout.work_stream(s), f"{s.value}-workers", min="-", max="+", count=20
            ),
        )
    except redis.ResponseError:
        return []
    return [e["consumer"].decode() for e in entries]


@dataclass
class Rig:
    """Redis (behind the proxy), the workers, sip-edge registered as 2000 and the caller's
    phone; Asterisk must be running (pbx_support.locked_asterisk) and hold ``phone``."""

    folder: Path
    phone: Phone
    password_2000: str
    engines: str = "fake"
    redis_server: RedisServer = field(init=False)
    proxy: TcpProxy = field(init=False)
    workers: Workers = field(init=False)
    edge: EdgeProcess | None = field(init=False, default=None)
    r: redis.Redis = field(init=False)
    question: npt.NDArray[Any] = field(init=False)
    apology: npt.NDArray[Any] = field(init=False)
    _edges: int = field(init=False, default=0)

    def __enter__(self) -> Rig:
        self.folder.mkdir(parents=True, exist_ok=True)
        env = worker_env(self.engines)
        if self.engines == "real":
            from agent_support import kokoro_says  # loads Kokoro: only for the real engines

            self.question = kokoro_says(REAL_QUESTION)
        else:
            self.question = read_wav(speech_wav(QUESTION, self.folder / "question.wav"))[0]
        speech_wav(EDGE_APOLOGY, self.folder / "apology-16000.wav", rate=16000)
        self.apology = read_wav(speech_wav(EDGE_APOLOGY, self.folder / "apology-8000.wav"))[0]
        self.redis_server = RedisServer(args=("--appendonly", "yes", "--appendfsync", "always"))
        self.redis_server.start()
        self.proxy = TcpProxy(self.redis_server.port)
        self.r = redis.Redis.from_url(self.redis_server.url)
        self.workers = Workers(self.folder, self.proxy.url, env)
        for module, n in TOPOLOGY:
            for _ in range(n):
                self.workers.start(module)
        self.wait_workers_ready()
        self.start_edge()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.stop_edge()
            self.workers.stop()
        finally:
            self.r.close()
            self.proxy.close()
            self.redis_server.__exit__()

    def wait_workers_ready(self, timeout: float = 180) -> None:
        """Every worker reads its work stream: a connection blocked in XREADGROUP each (the
        real engines: up to :data:`REAL_READY_S`, loading their models first)."""
        if self.engines == "real":
            timeout = max(timeout, REAL_READY_S)

        def reading() -> bool:
            with contextlib.suppress(redis.RedisError):
                clients = cast(list[dict[str, str]], self.r.client_list())
                return sum(c.get("cmd") == "xreadgroup" for c in clients) >= len(self.workers.procs)
            return False

        poll_until(reading, timeout, "the workers reading their streams", interval=0.5)

    def start_edge(self) -> None:
        self._edges += 1
        edge = EdgeProcess(
            self.folder / f"sip-edge-{self._edges}.log",
            REDIS_URL=self.proxy.url,
            SIP_EDGE_REGISTRAR="127.0.0.1:5160",
            EXT_2000_PASSWORD=self.password_2000,
            SIP_EDGE_DIGEST_AUTH="true",
            SIP_EDGE_APOLOGY_WAV=str(self.folder / "apology-{rate}.wav"),
        )
        edge.__enter__()
        self.edge = edge

        def registered() -> bool:
            return metric(edge.metrics(), "sip_edge_registered") == 1 and (
                "sip:2000@127.0.0.1" in cli("pjsip show aor 2000")
            )

        poll_until(registered, 30, "sip-edge registered as 2000", interval=0.2)

    def stop_edge(self) -> None:
        if self.edge is not None:
            self.edge.stop()
            self.edge = None

    def expect(self, sid: str) -> Expect:
        """How long the answer and the apology of the turn about to be asked last at the
        phone (call it before the question)."""
        if self.engines == "real":
            return SpokenLengths(self.r, sid, frozenset(response_ids(self.r, sid)))
        return ToneLengths(pipeline_apologized(self.r, sid))

    def wait_greeting(self, call: PhoneCall, sid: str) -> None:
        if self.engines == "real":
            wait_spoken_greeting(call, self.r, sid)
        else:
            wait_greeting(call)


# -- judging a turn at the phone ------------------------------------------------------------


def voiced(samples: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """One bool per 20 ms frame: the phone heard something there."""
    return frame_rms(samples, FRAME_SAMPLES) > VOICED_RMS


@dataclass
class Turn:
    ended_in_speech: bool
    how: str  # "answer", "edge apology", "pipeline apology" or why it is silent
    longest_silence_s: float  # from the question's end to the turn's end, at the phone
    silence_after_fault_s: float | None  # from the fault to the turn's end


def longest_gap(v: npt.NDArray[Any]) -> float:
    """The longest run of silent frames before the last voiced frame of ``v`` (or all of it
    when nothing was voiced), in seconds."""
    idx = np.nonzero(v)[0]
    if len(idx) == 0:
        return len(v) * FRAME_S
    edges = np.diff(np.concatenate(([-1], idx)))
    return float((edges.max() - 1) * FRAME_S)


class Expect(Protocol):
    """How much voiced speech the phone must hear for the turn to have ended in the answer
    or in the pipeline's apology; each ``*_s`` is None while there is none (yet), and is
    asked only once the phone heard at least ``min_*_s`` (a cheap check first)."""

    @property
    def min_answer_s(self) -> float: ...

    @property
    def min_apology_s(self) -> float: ...

    def answer_s(self) -> float | None: ...

    def apology_s(self) -> float | None: ...


@dataclass
class ToneLengths:
    """The fake engines: the answer's and the apology's tones have known lengths; the
    apology counts once the pipeline closed an ``apology-*`` response (``pipeline_apology``)."""

    pipeline_apology: Callable[[], bool]
    min_answer_s: float = ANSWER_S
    min_apology_s: float = PIPELINE_APOLOGY_S

    def answer_s(self) -> float | None:
        return ANSWER_S

    def apology_s(self) -> float | None:
        return PIPELINE_APOLOGY_S if self.pipeline_apology() else None


def response_ids(r: redis.Redis, sid: str) -> set[str]:
    with contextlib.suppress(redis.RedisError):
        log = session_messages(r, sid)[1]
        return {m.response_id for m in log if isinstance(m, ResponseStart)}
    return set()


def spoken_s(pcm: bytes, rate: int) -> float:
    """Seconds of ``pcm`` (int16 at ``rate``) that :func:`voiced` would call voiced."""
    frame = rate // 50
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    return float((frame_rms(samples, frame) > VOICED_RMS).sum() * 0.02)


def completed_speech_s(log: list[Message], before: frozenset[str], apology: bool) -> float | None:
    """The voiced seconds of the last response of ``log`` not in ``before`` (the turn's own)
    that is complete: its ``response.end`` not interrupted and no ``response.cancel``; an
    ``apology-*`` one when ``apology``, else an answer (not the greeting); None when there is
    none. Its audio is the ``response.audio`` of the session log (still there during the call:
    no post-call job in the rig), at the session's rate, as sip-edge plays it: each seq once,
    nothing after the final chunk (a sentence published twice is heard once)."""
    rate = next((m.audio.sample_rate for m in log if isinstance(m, SessionStart) and m.audio), 8000)
    cancelled = {m.response_id for m in log if isinstance(m, ResponseCancel)}
    done = [
        m.response_id
        for m in log
        if isinstance(m, ResponseEnd)
        and not m.interrupted
        and m.response_id not in before
        and m.response_id not in cancelled
        and m.response_id != "greeting"
        and m.response_id.startswith("apology-") == apology
    ]
    if not done:
        return None
    # what sip-edge plays of it (sip_edge.call.playback.Pacer.push): a seq once (a redone
    # sentence reuses its seqs), nothing after the final chunk
    chunks: dict[int, bytes] = {}
    final: int | None = None
    for m in log:
        if not isinstance(m, ResponseAudio) or m.response_id != done[-1]:
            continue
        if m.seq in chunks or (final is not None and m.seq > final):
            continue
        chunks[m.seq] = m.audio
        if m.is_final:
            final = m.seq
    return spoken_s(b"".join(chunks[seq] for seq in sorted(chunks)), rate)


@dataclass
class SpokenLengths:
    """The real engines: the answer (or apology) is as long as the voiced speech of the
    turn's complete response on the session stream (:func:`completed_speech_s`); ``before``
    holds the responses of earlier turns."""

    r: redis.Redis
    sid: str
    before: frozenset[str]
    min_answer_s: float = MIN_SPEECH_S
    min_apology_s: float = MIN_SPEECH_S

    def _speech_s(self, apology: bool) -> float | None:
        with contextlib.suppress(redis.RedisError):
            return completed_speech_s(session_messages(self.r, self.sid)[1], self.before, apology)
        return None

    def answer_s(self) -> float | None:
        return self._speech_s(apology=False)

    def apology_s(self) -> float | None:
        return self._speech_s(apology=True)


def enough(heard_s: float, need_s: float | None) -> bool:
    """The phone heard the speech it waits for (10 % short of it at most)."""
    return need_s is not None and heard_s >= 0.9 * need_s


def judge_turn(
    call: PhoneCall,
    asked_at: int,
    fault_at: int | None,
    apology: npt.NDArray[Any],
    pipeline_apology: Callable[[], bool],
    timeout: float = TURN_TIMEOUT_S,
    expect: Expect | None = None,
) -> Turn:
    """Listens from sample ``asked_at`` (the question's end) until the turn ends at the
    phone (see the module), ``timeout`` at most; ``pipeline_apology`` says whether the
    pipeline closed the turn with its apology (then its tone, heard after the fault, ends
    it). ``expect`` says how long the answer and the apology are (default: the fake
    engines' tones, :class:`ToneLengths` of ``pipeline_apology``)."""
    how = ""
    end = 0
    lengths: Expect = ToneLengths(pipeline_apology) if expect is None else expect

    def ended() -> bool:
        nonlocal how, end
        heard = call.recording()
        v = voiced(heard[asked_at:])
        since_fault = 0 if fault_at is None else (fault_at - asked_at) // FRAME_SAMPLES
        heard_s = v.sum() * FRAME_S
        after_fault_s = v[since_fault:].sum() * FRAME_S
        if heard_s >= 0.9 * lengths.min_answer_s and enough(heard_s, lengths.answer_s()):
            how = "answer"
        elif (
            fault_at is not None
            and audio_found(heard[fault_at:].astype(np.float64), apology) is None
        ):
            how = "edge apology"
        elif (
            fault_at is not None
            and after_fault_s >= 0.9 * lengths.min_apology_s
            and enough(after_fault_s, lengths.apology_s())
        ):
            how = "pipeline apology"
        else:
            return call.disconnected.is_set()
        end = len(heard)
        return True

    with contextlib.suppress(Exception):
        poll_until(ended, timeout, "the turn's end at the phone", interval=0.25)
    heard = call.recording()
    if not how:
        end = len(heard)
        how = "hung up" if call.disconnected.is_set() else f"nothing in {timeout:.0f} s"
    v = voiced(heard[asked_at:end])
    gap = longest_gap(v)
    after = None
    if fault_at is not None:
        after = longest_gap(voiced(heard[fault_at:end]))
    ok = how in ("answer", "edge apology", "pipeline apology") and gap <= BOUND_S + TOLERANCE_S
    if how in ("answer", "edge apology", "pipeline apology") and not ok:
        how += f" after {gap:.1f} s of silence"
    return Turn(ok, how, gap, after)


# -- one drill --------------------------------------------------------------------------------


@dataclass
class DrillResult:
    kind: str
    turns: int = 0
    spoken: int = 0  # turns that ended in speech
    utterances: int = 0  # questions the phone asked
    lost: int = 0  # utterances with neither a transcript nor an apology
    silence_after_fault_s: float | None = None
    notes: list[str] = field(default_factory=list)
    call_end_s: float | None = None  # kill-edge: the dead edge's call ended at the phone after

    @property
    def ok(self) -> bool:
        return self.turns > 0 and self.spoken == self.turns and self.lost == 0

    def add(self, turn: Turn, label: str) -> None:
        self.turns += 1
        self.spoken += turn.ended_in_speech
        self.notes.append(f"{label}: {turn.how} (longest silence {turn.longest_silence_s:.1f} s)")


def wait_greeting(call: PhoneCall, timeout: float = 60) -> None:
    """The greeting heard to its end (1.5 s of quiet after at least 1 s of it)."""

    def done() -> bool:
        v = voiced(call.recording())
        if v.sum() < 50:
            return False
        return len(v) - 1 - int(np.nonzero(v)[0][-1]) >= 75

    poll_until(done, timeout, "the greeting", interval=0.25)


def wait_spoken_greeting(call: PhoneCall, r: redis.Redis, sid: str, timeout: float = 120) -> None:
    """The real engines: the greeting's ``response.end`` on the stream (all of its audio
    sent), then the phone quiet after it (``agent_support.wait_speech_then_quiet``)."""
    from agent_support import wait_response_end, wait_speech_then_quiet

    wait_response_end(r, sid, greeting=True, timeout=timeout)
    sent = len(call.recording())
    wait_speech_then_quiet(call, 0, 30, "the greeting", quiet_after=sent)


def ask(rig: Rig, call: PhoneCall) -> int:
    """Plays the question; returns where it ended in the phone's recording."""
    call.play(rig.question)
    call.wait_played(30)
    return len(call.recording())


def wait_answer_started(call: PhoneCall, asked_at: int, timeout: float = 30) -> None:
    """The first 0.5 s of the answer reached the phone: the reply is under way."""
    poll_until(
        lambda: voiced(call.recording()[asked_at:]).sum() >= 25, timeout, "the answer's start"
    )


WORKER_KILLS = {"kill-stt": "stt", "kill-llm": "llm", "kill-tts": "tts", "term-llm": "llm"}


def wait_work_or_answer(rig: Rig, kind: str, call: PhoneCall, asked_at: int) -> None:
    """The real engines, a worker kind: the first moment a replica of the stage holds work
    (a pending entry: the turn's transcription, reply or synthesis in progress), else the
    answer's start at the phone (:func:`wait_answer_started`). With the answer from the
    facts the LLM is done in milliseconds and Kokoro synthesizes faster than the phone
    plays, so at the answer's start no stage holds anything any more."""
    stage = WORKER_KILLS[kind]

    def held_or_started() -> bool:
        if any(h in rig.workers.procs for h in pending_holders(rig.r, stage)):
            return True
        return bool(voiced(call.recording()[asked_at:]).sum() >= 25)

    poll_until(held_or_started, 30, f"{stage} work or the answer's start", interval=0.02)


def count_lost(log: list[Message], asked: int, apologized: int) -> tuple[int, int]:
    """(utterances, lost): the session's utterances (a provisional one cancelled is not one)
    with neither a transcript nor an apology; questions that never became an utterance are
    lost too, unless their turn ended in an apology."""
    cancelled = {m.utterance_id for m in log if isinstance(m, UtteranceCancel)}
    utts = [m.utterance_id for m in log if isinstance(m, Utterance)]
    utts = [u for u in dict.fromkeys(utts) if u not in cancelled]
    answered: set[str | None] = {m.utterance_id for m in log if isinstance(m, Transcript)}
    answered |= {
        m.utterance_id
        for m in log
        if isinstance(m, ResponseStart) and m.response_id.startswith("apology-")
    }
    missing = [u for u in utts if u not in answered]
    never = max(0, asked - len(utts))
    return len(utts), max(0, len(missing) + never - apologized)


def responses(r: redis.Redis, sid: str) -> str:
    """The session's responses and turns in order (why a turn was silent)."""
    out: list[str] = []
    with contextlib.suppress(redis.RedisError):
        for m in session_messages(r, sid)[1]:
            if isinstance(m, ResponseStart | ResponseEnd | ResponseCancel):
                extra = getattr(m, "reason", "") or (
                    "interrupted" if getattr(m, "interrupted", 0) else ""
                )
                out.append(f"{m.TYPE} {m.response_id} {extra}".strip())
            elif isinstance(m, Utterance | Transcript):
                out.append(f"{m.TYPE} {m.utterance_id}")
    return ", ".join(out)


def pipeline_apologized(r: redis.Redis, sid: str) -> Callable[[], bool]:
    def check() -> bool:
        with contextlib.suppress(redis.RedisError):
            log = session_messages(r, sid)[1]
            return any(
                isinstance(m, ResponseEnd) and m.response_id.startswith("apology-") for m in log
            )
        return False

    return check


def end_call(rig: Rig, call: PhoneCall, sid: str) -> list[Message]:
    call.hangup()

    def ended() -> bool:
        with contextlib.suppress(redis.RedisError):
            return "session.end" in session_messages(rig.r, sid)[0]
        return False

    with contextlib.suppress(Exception):
        poll_until(ended, 20, "session.end", interval=0.2)
    with contextlib.suppress(redis.RedisError):
        return session_messages(rig.r, sid)[1]
    return []


def inject(rig: Rig, kind: str, notes: list[str]) -> Callable[[], None]:
    """Does the fault of ``kind`` (what it hit goes to ``notes``); returns what undoes it
    (blocking until undone)."""
    if kind in WORKER_KILLS:
        stage = WORKER_KILLS[kind]
        module = f"{stage}_worker"
        holders = [h for h in pending_holders(rig.r, stage) if h in rig.workers.procs]
        name = holders[0] if holders else rig.workers.of(module)[0]
        notes.append(f"{name}: {'held work' if holders else 'no work pending at the stage'}")
        sig = signal.SIGTERM if kind == "term-llm" else signal.SIGKILL
        p = rig.workers.signal(name, sig)

        def undo() -> None:
            rig.workers.replace(p)
            rig.wait_workers_ready()

        return undo
    if kind == "restart-redis":
        rig.redis_server.stop()
        rig.redis_server.start()
        return lambda: None
    if kind == "freeze-redis":
        rig.proxy.freeze()
        frozen_at = time.monotonic()

        def thaw() -> None:
            time.sleep(max(0.0, frozen_at + FREEZE_S - time.monotonic()))
            rig.proxy.thaw()
            rig.wait_workers_ready()

        return thaw
    raise ValueError(kind)


def who_holds_2000() -> str:
    """Asterisk's contacts of 2000 and the sip-edge processes running on this machine (why a
    call to 2000 did not reach the rig's sip-edge)."""
    contacts = [ln.strip() for ln in cli("pjsip show contacts").splitlines() if "2000/" in ln]
    ps = subprocess.run(
        ["pgrep", "-af", "sip_edge"], capture_output=True, text=True, check=False
    ).stdout.splitlines()
    return f"contacts of 2000: {contacts}; sip-edge processes: {ps}"


def dial_rig(rig: Rig) -> tuple[PhoneCall, str]:
    """Calls 2000 from the rig's phone; a call that never became a session of the rig's
    sip-edge says who held 2000."""
    assert rig.edge is not None
    try:
        return dial_2000(rig.phone, rig.r)
    except TimeoutError as e:
        raise TimeoutError(f"{e}; the rig's sip-edge is {rig.edge.uri}; {who_holds_2000()}") from e


def run_drill(rig: Rig, kind: str) -> DrillResult:
    """One drill of ``kind`` (see the module)."""
    if rig.edge is None:  # a drill before broke with sip-edge down
        rig.start_edge()
    if kind == "kill-edge":
        return run_edge_drill(rig)
    result = DrillResult(kind)
    call, sid = dial_rig(rig)
    apologies = 0
    log: list[Message] = []
    try:
        rig.wait_greeting(call, sid)
        expect = rig.expect(sid)
        asked_at = ask(rig, call)
        result.utterances += 1
        if rig.engines == "real" and kind in WORKER_KILLS:
            wait_work_or_answer(rig, kind, call, asked_at)
        else:
            wait_answer_started(call, asked_at)
        fault_at = len(call.recording())
        undo = inject(rig, kind, result.notes)
        turn = judge_turn(
            call, asked_at, fault_at, rig.apology, pipeline_apologized(rig.r, sid), expect=expect
        )
        result.add(turn, "fault turn")
        if not turn.ended_in_speech:
            result.notes.append(f"session: {responses(rig.r, sid)}")
        result.silence_after_fault_s = turn.silence_after_fault_s
        apologies += "apology" in turn.how
        undo()
        time.sleep(2.0)  # the first answer (or the apology) played out
        expect = rig.expect(sid)
        asked_at = ask(rig, call)
        result.utterances += 1
        turn = judge_turn(
            call, asked_at, None, rig.apology, pipeline_apologized(rig.r, sid), expect=expect
        )
        result.add(turn, "next turn")
        if call.disconnected.is_set():
            result.notes.append("the call was hung up")
    finally:
        log = end_call(rig, call, sid)
    result.utterances, result.lost = count_lost(log, result.utterances, apologies)
    return result


def run_edge_drill(rig: Rig) -> DrillResult:
    """sip-edge SIGKILLed in the middle of an answer: the call ends at the phone; sip-edge
    started again answers the next call, whose question is answered in speech."""
    result = DrillResult("kill-edge")
    assert rig.edge is not None
    assert rig.edge.proc is not None
    call, sid = dial_rig(rig)
    try:
        rig.wait_greeting(call, sid)
        asked_at = ask(rig, call)
        result.utterances += 1
        wait_answer_started(call, asked_at)
        rig.edge.proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        rig.edge.proc.wait(10)
        rig.edge.returncode = -9
        if rig.edge.proc.stdout is not None:
            rig.edge.proc.stdout.close()  # EdgeProcess.stop would have, had it stopped it
        try:
            call.wait_disconnected(EDGE_DEAD_CALL_END_S)
            result.call_end_s = time.monotonic() - killed
            result.notes.append(f"the dead edge's call ended after {result.call_end_s:.1f} s")
        except Exception:
            result.notes.append(f"the dead edge's call still up after {EDGE_DEAD_CALL_END_S} s")
            call.hangup()
    finally:
        rig.edge = None
    log = session_messages(rig.r, sid)[1]
    utts, lost = count_lost(log, 1, 0)
    rig.start_edge()
    call, sid = dial_rig(rig)
    try:
        rig.wait_greeting(call, sid)
        expect = rig.expect(sid)
        asked_at = ask(rig, call)
        turn = judge_turn(
            call, asked_at, None, rig.apology, pipeline_apologized(rig.r, sid), expect=expect
        )
        result.add(turn, "next call")
    finally:
        log = end_call(rig, call, sid)
    utts2, lost2 = count_lost(log, 1, 0)
    result.utterances, result.lost = utts + utts2, lost + lost2
    if result.call_end_s is None:  # a call left up with a dead edge is a silent one
        result.turns += 1
    return result


@contextlib.contextmanager
def rig_for(folder: Path, phone: Phone, password_2000: str, engines: str = "fake") -> Iterator[Rig]:
    with Rig(folder, phone, password_2000, engines) as rig:
        yield rig
