"""The frame classifiers on real speech (espeak-ng, through G.711 as on a phone line):
how soon each says speech, and when Silero's verdict on a frame comes a frame late."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sip_edge.call import Pacer, Segmenter, SegmenterParams, Turns
from sip_edge.call.events import BargeIn
from sip_edge.testing import Signal, read_wav, speech_wav
from sip_edge.vad import GatedClassifier, SileroClassifier, WebRtcClassifier, make_classifier

pytestmark = pytest.mark.integration  # speech made by espeak-ng, the Silero model

SILENCE = bytes(320)


def _ulaw_line(x: Signal) -> npt.NDArray[np.int16]:
    """PCM16 -> G.711 mu-law -> PCM16 (what a phone line does to the caller's voice)."""
    x = x.astype(np.float64) / 32768.0
    mu = 255.0
    coded = np.round(np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu) * 127.0)
    y = np.sign(coded) * np.expm1(np.abs(coded) / 127.0 * np.log1p(mu)) / mu
    line: npt.NDArray[np.int16] = np.clip(y * 32768.0, -32768, 32767).astype(np.int16)
    return line


@pytest.fixture(scope="module")
def phrases(tmp_path_factory: pytest.TempPathFactory) -> list[list[bytes]]:
    tmp = tmp_path_factory.mktemp("vad")
    texts = ["Espera, não é isso.", "Não, pare.", "Olha, eu preciso de ajuda."]
    out = []
    for i, text in enumerate(texts):
        x = _ulaw_line(read_wav(speech_wav(text, Path(tmp / f"p{i}.wav")))[0])
        out.append([x[k : k + 160].astype("<i2").tobytes() for k in range(0, len(x) - 159, 160)])
    return out


def test_gate_defers_only_the_first_frame_after_silence(phrases: list[list[bytes]]) -> None:
    clf = GatedClassifier(8000)
    for _ in range(30):
        assert clf.probability(SILENCE) == 0.0
        assert not clf.deferred
    frames = phrases[0]
    assert clf.probability(frames[0]) == 0.0
    assert clf.deferred  # the gate opened: Silero starts fresh, its window is not full
    assert clf.probability(frames[1]) > 0.5
    assert not clf.deferred


def test_webrtc_never_defers(phrases: list[list[bytes]]) -> None:
    clf = WebRtcClassifier(8000)
    for frame in phrases[1][:10]:
        clf.probability(frame)
        assert not clf.deferred


def test_silero_defers_until_its_first_window() -> None:
    clf = SileroClassifier(8000)
    clf.probability(SILENCE)
    assert clf.deferred
    clf.probability(SILENCE)
    assert not clf.deferred


@pytest.mark.parametrize("kind", ["gate", "webrtc"])
def test_barge_in_after_120_ms_of_speech(kind: str, phrases: list[list[bytes]]) -> None:
    """During playback, the default guard (120 ms) fires on the frame that completes 120 ms
    of speech: the classifier's own delay adds nothing."""
    for frames in phrases:
        clf = make_classifier(kind, 8000)
        turns = Turns(Segmenter(SegmenterParams()), Pacer(320), 120)
        turns.push_audio("r", 0, bytes(320 * 500), False)
        for _ in range(30):
            turns.next_playout_frame()
            assert turns.on_caller_frame(SILENCE, clf.probability(SILENCE), clf.deferred) == []
        fired = None
        for k, frame in enumerate(frames):
            turns.next_playout_frame()
            actions = turns.on_caller_frame(frame, clf.probability(frame), clf.deferred)
            if any(isinstance(a, BargeIn) for a in actions):
                fired = k
                break
        assert fired == 5, (kind, fired)  # frames 0..5: 120 ms
