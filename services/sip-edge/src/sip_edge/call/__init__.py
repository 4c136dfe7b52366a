"""Pure per-call logic: the call's state machine and its turn-taking (no SIP, no Redis)."""

from .state import CallMachine, CallState, IllegalTransition
from .turns import (
    Action,
    BargeIn,
    CheckTurn,
    PublishAudioEnd,
    PublishSpeechStart,
    PublishUtterance,
    Turns,
)

__all__ = [
    "Action",
    "BargeIn",
    "CallMachine",
    "CallState",
    "CheckTurn",
    "IllegalTransition",
    "PublishAudioEnd",
    "PublishSpeechStart",
    "PublishUtterance",
    "Turns",
]
