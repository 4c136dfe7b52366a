"""Failure drills through the real Asterisk (issue 14 item 5), one of each kind: a PJSUA2
phone calls the agent (sip-edge registered as 2000, the workers with their fake engines,
Redis behind a TCP proxy) and in the middle of the answer a stage is SIGKILLed (stt, llm,
tts), an LLM replica gets SIGTERM, Redis is restarted or frozen, or sip-edge is killed.
Every turn must end in speech at the phone (the answer or an apology, no silence longer
than sip-edge's bound), and no utterance may be lost (tests/support/drills.py says how each
is judged). bench/drills.py runs the same drills N times each.

This folder has no sip-edge of its own fixtures: the rig registers its own sip-edge as 2000
(the agent folder's package sip-edge would compete for the registration).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from drills import KINDS, Rig, run_drill
from sipphone import Phone


@pytest.fixture(scope="module")
def rig(
    phones: dict[str, Phone], passwords: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Rig]:
    folder: Path = tmp_path_factory.mktemp("drills")
    with Rig(folder, phones["1001"], passwords["2000"]) as rig:
        yield rig


@pytest.mark.parametrize("kind", KINDS)
def test_a_drill_ends_every_turn_in_speech_and_loses_no_utterance(rig: Rig, kind: str) -> None:
    result = run_drill(rig, kind)
    print(kind, result)  # pytest -rP shows it
    assert result.turns >= (1 if kind == "kill-edge" else 2), result
    assert result.spoken == result.turns, result.notes
    assert result.lost == 0, result
    if kind == "kill-edge":
        assert result.call_end_s is not None, result.notes  # the call ended at the phone
