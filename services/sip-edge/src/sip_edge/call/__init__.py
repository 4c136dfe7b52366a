"""Pure per-call logic, for any ingress: no SIP, no Redis, no audio library or model.

- :mod:`.segmenter`: speech segmentation from per-frame speech probabilities (the
  classifiers that compute them live in :mod:`sip_edge.vad` and are given by the caller),
  with :mod:`.turn_end` deciding when the caller's silence ends the turn;
- :mod:`.turns`: turn-taking, barge-in, the echo guard and the no-answer watchdog;
- :mod:`.playback`: the pacer that plays the agent's answers frame by frame;
- :mod:`.speculation`: the answers to a provisional utterance, held until it is resolved;
- :mod:`.state`: the call's state machine;
- :mod:`.events`: the one vocabulary of events from the segmenter to the session, which
  publishes them (:mod:`sip_edge.calls`); imported as ``sip_edge.call.events``.

An ingress (the SIP endpoint, the ASP WebSocket gateway) drives it through
:class:`sip_edge.calls.CallSession`: caller frames in, agent frames out.
"""

from .playback import Pacer, PacerStats
from .segmenter import Segmenter, SegmenterParams, SpeechClassifier, segmenter_params
from .speculation import SpeculativeTurn
from .state import CallMachine, CallState, IllegalTransition
from .turn_end import TurnEndParams
from .turns import Turns

__all__ = [
    "CallMachine",
    "CallState",
    "IllegalTransition",
    "Pacer",
    "PacerStats",
    "Segmenter",
    "SegmenterParams",
    "SpeculativeTurn",
    "SpeechClassifier",
    "TurnEndParams",
    "Turns",
    "segmenter_params",
]
