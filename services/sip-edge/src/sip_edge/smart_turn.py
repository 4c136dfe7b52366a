"""Smart Turn v3.2, the end-of-turn model, on ONNX Runtime (the thin I/O side of
sip_edge.call.turn_end; only the app imports this module, never sip_edge.call).

Smart Turn (Pipecat, BSD-2-Clause) is a Whisper-tiny encoder with a classifier on top: it
hears the end of the caller's turn (prosody and words, 23 languages including Portuguese)
and says how likely it is that the caller finished. Its int8 CPU export ships inside the
``pipecat-ai`` wheel; scripts/assemble_models.py takes it out into
``$PABX_CACHE/models/smart-turn-v3.2-pipecat-1.14.0/`` (pinned version and sha256). No
Pipecat code runs here; the input is rebuilt as Pipecat's ``LocalSmartTurnAnalyzerV3`` builds
it: 16 kHz mono (8 kHz calls are resampled with soxr), the last 8 s of the turn, zero-padded
at the start to 8 s, as Whisper log-mel features (sip_edge.whisper_features). The model's
output is already a probability (a sigmoid inside the graph).

One :class:`SmartTurn` serves every call: ``InferenceSession.run`` is thread-safe and
:meth:`SmartTurn.probability` keeps no state, so calls share one model in memory. It takes
tens of milliseconds: run it on a worker thread, never on the event loop.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import soxr

from .whisper_features import N_SAMPLES, SAMPLE_RATE, log_mel

__all__ = ["MODEL_DIR", "MODEL_FILE", "SmartTurn", "default_model_path", "load"]

log = logging.getLogger(__name__)

MODEL_DIR = "smart-turn-v3.2-pipecat-1.14.0"
"""The directory scripts/assemble_models.py writes under $PABX_CACHE/models."""
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"


def default_model_path(cache: Path) -> Path:
    return cache / "models" / MODEL_DIR / MODEL_FILE


def model_input(pcm: bytes, sample_rate: int) -> npt.NDArray[np.float32]:
    """PCM16 audio of the turn -> the 8 s of 16 kHz float audio the model hears."""
    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) * (1.0 / 32768.0)
    if sample_rate != SAMPLE_RATE and samples.size:
        samples = soxr.resample(samples, sample_rate, SAMPLE_RATE, quality="HQ")
    samples = samples[-N_SAMPLES:]
    return np.pad(samples, (N_SAMPLES - samples.size, 0))


class SmartTurn:
    """The probability (0..1) that a turn is complete, from its PCM16 audio."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        options = ort.SessionOptions()
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.path = path
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = self._session.get_inputs()
        if [i.name for i in inputs] != ["input_features"] or inputs[0].shape[1:] != [80, 800]:
            raise ValueError(f"{path} is not a Smart Turn v3 model (inputs {inputs})")

    def probability(self, pcm: bytes, sample_rate: int) -> float:
        features = log_mel(model_input(pcm, sample_rate))[None]
        out = self._session.run(None, {"input_features": features})[0]
        return float(np.asarray(out).reshape(-1)[0])


def load(path: Path, threads: int = 1) -> SmartTurn | None:
    """The model, or None (with a log line saying why) when it cannot be used."""
    if not path.is_file():
        log.warning(
            "end-of-turn model %s not found (scripts/assemble-models.sh puts it there): "
            "turn mode falls back to silence",
            path,
        )
        return None
    try:
        model = SmartTurn(path, threads)
        model.probability(bytes(3200), 8000)  # a broken file fails here, not on a call
    except Exception as e:
        log.warning("end-of-turn model %s unusable (%s): turn mode falls back to silence", path, e)
        return None
    log.info("end-of-turn model loaded from %s", path)
    return model
