"""The frame classifiers on real speech (espeak-ng, through G.711 as on a phone line):
how soon each says speech, and when Silero's verdict on a frame comes a frame late."""

from __future__ import annotations

import weakref
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from sip_edge.call import Pacer, Segmenter, SegmenterParams, Turns
from sip_edge.call.events import BargeIn
from sip_edge.testing import Signal, read_wav, speech_wav
from sip_edge.vad import (
    GatedClassifier,
    SileroClassifier,
    SileroPool,
    WebRtcClassifier,
    make_classifier,
)

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


def test_a_new_call_does_not_load_the_model_again(phrases: list[list[bytes]]) -> None:
    """The process's classifiers (make_classifier, what every call gets) share the loaded
    models: the next call's classifier gets the model the previous call used."""
    first = make_classifier("gate", 8000)
    assert isinstance(first, GatedClassifier)
    for frame in phrases[0]:
        first.probability(frame)
    model = weakref.ref(first._model._vad)
    del first  # the call is over
    second = make_classifier("gate", 8000)
    assert isinstance(second, GatedClassifier)
    assert model() is not None  # not freed: loading one per call fragmented the C heap
    assert second._model._vad is model()


def test_calls_one_after_another_reuse_one_silero_model(phrases: list[list[bytes]]) -> None:
    """Loading a Silero model per call (an ONNX Runtime session each: several MB of native
    allocations made and freed) grew sip-edge's resident memory about 8 MB per call in the
    soak (issue 14): calls one after another borrow the same model, whether the call closed
    its classifier or just dropped it."""
    pool = SileroPool()
    models = set()
    for i in range(20):
        clf = GatedClassifier(8000, pool=pool)
        models.add(id(clf._model._vad))
        for frame in phrases[i % len(phrases)]:
            clf.probability(frame)
        if i % 2:
            clf.close()
        del clf  # the other half go back when garbage-collected (no cycle: at once)
        assert pool.free(8000) == 1
    assert pool.loaded == 1
    assert len(models) == 1


def test_calls_at_the_same_time_never_share_a_model() -> None:
    pool = SileroPool()
    a, b = SileroClassifier(8000, pool), SileroClassifier(8000, pool)
    assert a._vad is not b._vad
    assert pool.loaded == 2
    a.close()
    c = SileroClassifier(8000, pool)  # takes a's, not b's
    assert c._vad is not b._vad
    assert pool.loaded == 2
    assert pool.free(8000) == 0
    assert pool.free(16000) == 0
    d = SileroClassifier(16000, pool)  # another rate: a model of its own
    assert pool.loaded == 3
    d.close()
    assert pool.free(16000) == 1


def test_a_reused_model_hears_a_call_as_a_fresh_one_does(phrases: list[list[bytes]]) -> None:
    """A model goes back reset: the next call's verdicts are those of a new model, even when
    the previous call hung up in the middle of a word."""
    frames = phrases[2]
    fresh = SileroClassifier(8000, SileroPool())
    expected = [fresh.probability(f) for f in frames]
    assert max(expected) > 0.5  # the phrase is speech: the state matters
    pool = SileroPool()
    first = SileroClassifier(8000, pool)
    for frame in phrases[0][: len(phrases[0]) // 2]:  # cut mid-phrase
        first.probability(frame)
    first.close()
    assert first.probability(frames[0]) == 0.0  # closed: silence, the model is not touched
    again = SileroClassifier(8000, pool)
    assert pool.loaded == 1
    assert [again.probability(f) for f in frames] == pytest.approx(expected, abs=1e-6)
