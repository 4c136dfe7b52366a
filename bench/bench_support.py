"""Helpers the benchmarks share (they import it by name: bench/ is on sys.path when one of
them runs as a script): the machine's CPU model, what a phone line and G.711 mu-law do to
speech, synthesized speech kept on disk between runs, the kinds of Redis keys, the LLM worker's
sentence splitter, the way to the test helpers (:func:`use_test_support`), and what the
JSON results of the Redis benchmarks open with (:class:`RunRecord`).
Heavier imports (sip_edge, llm_worker) wait until a function needs them."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from llm_worker.settings import Settings as LLMSettings
    from llm_worker.splitter import SentenceSplitter

REPO = Path(__file__).resolve().parents[1]
"""The repository's root."""


def use_test_support() -> None:
    """Put tests/support first on sys.path: the benchmarks that drive calls import its
    helpers (SIP phones, the PBX, the agent's workers) by name. (bench/drills.py keeps its
    own line: mypy checks it as bench.drills, without bench/ on its path, as its name is
    that of tests/support/drills.py, which it imports.)"""
    sys.path.insert(0, str(REPO / "tests" / "support"))


@dataclass
class RunRecord:
    """What a benchmark's JSON result opens with: its command line, the machine, the load
    average before and after the run, the Redis version and the run's settings. A bench's
    result extends it (its own fields all with defaults) and starts as :meth:`starting`."""

    command: str
    machine: str
    cpus: int
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    redis_version: str = ""
    settings: dict[str, float | int] = field(default_factory=dict)

    @classmethod
    def starting(cls, script: str, settings: dict[str, float | int]) -> Self:
        """The record of the run of ``script`` (e.g. ``bench/soak.py``) starting now, on this
        machine, with these settings."""
        return cls(
            command=f"python {script} " + " ".join(sys.argv[1:]),
            machine=f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
            cpus=os.cpu_count() or 0,
            load_before=os.getloadavg(),
            settings=settings,
        )


def add_log_keep_option(parser: argparse.ArgumentParser, default: int, why: str) -> None:
    """``--log-keep-s``: the POSTCALL_LOG_KEEP_S given to the post-call worker a bench runs
    (how long an ended call's log stays after its summary); ``why`` ends its help."""
    parser.add_argument(
        "--log-keep-s",
        type=int,
        default=default,
        help=f"POSTCALL_LOG_KEEP_S of the post-call worker{why}",
    )


def cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo; None where it does not say."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def mulaw_roundtrip(x: npt.NDArray[Any]) -> npt.NDArray[np.float64]:
    """G.711 mu-law encode + decode of int16-scale samples (the continuous law, 8-bit
    quantisation)."""
    y = np.clip(x / 32768, -1, 1)
    mu = 255.0
    enc = np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu)
    enc = np.round(enc * 127) / 127
    dec = np.sign(enc) * ((1 + mu) ** np.abs(enc) - 1) / mu
    out: npt.NDArray[np.float64] = dec * 32768
    return out


def over_the_line(x: npt.NDArray[Any], seed: int, snr_db: float | None) -> bytes:
    """8 kHz speech (int16 scale) as a caller's line delivers it, as PCM16: a -70 dBov noise
    floor, line noise at ``snr_db`` (None: none), both seeded by ``seed``, then mu-law."""
    from sip_edge.testing import line_noise

    x = x + np.random.default_rng(seed).standard_normal(len(x)) * 32768 * 10 ** (-70 / 20)
    if snr_db is not None:
        x = x + line_noise(len(x) / 8000 + 1, snr_db=snr_db, seed=seed)[: len(x)]
    pcm: bytes = np.clip(mulaw_roundtrip(x), -32768, 32767).astype("<i2").tobytes()
    return pcm


def key_kind(key: bytes) -> str:
    """A Redis key's kind: its name up to its id (asp:session, asp:state, arq:result; three
    parts for arq:done:, arq:lock:, asp:cache: ...)."""
    name = key.decode(errors="replace").split(":")
    return ":".join(name[:3] if name[1:2] in (["done"], ["lock"], ["cache"]) else name[:2])


def sentence_splitter(s: LLMSettings) -> SentenceSplitter:
    """The LLM worker's sentence splitter with these settings (LLMWorker.splitter)."""
    from llm_worker.splitter import SentenceSplitter as Splitter

    return Splitter(
        first_clause_min_chars=s.first_clause_min_chars,
        first_words_min=s.first_words_min,
        first_words_max=s.first_words_max,
        clause_min_chars=s.clause_min_chars,
    )


class NpzStore:
    """Arrays by key, kept in an .npz file between runs (a second run synthesizes nothing);
    :meth:`save` writes the file back only when something was added."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.arrays: dict[str, npt.NDArray[Any]] = {}
        if path.is_file():
            with np.load(path) as archive:
                self.arrays = {k: archive[k] for k in archive.files}
        self.dirty = False

    def __contains__(self, key: str) -> bool:
        return key in self.arrays

    def __getitem__(self, key: str) -> npt.NDArray[Any]:
        return self.arrays[key]

    def __setitem__(self, key: str, value: npt.NDArray[Any]) -> None:
        self.arrays[key] = value
        self.dirty = True

    def save(self) -> None:
        if self.dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # numpy's stub matches **kwds against savez_compressed's allow_pickle: bool
            np.savez_compressed(self.path, **self.arrays)  # type: ignore[arg-type]
