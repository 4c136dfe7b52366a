"""Pure per-call logic: the call's state machine and its turn-taking (no SIP, no Redis)."""

from .speculation import SpeculativeTurn
from .state import CallMachine, CallState, IllegalTransition
from .turns import (
    Action,
    BargeIn,
    CancelProvisional,
    CheckTurn,
    ConfirmProvisional,
    NoAnswer,
    PublishAudioEnd,
    PublishProvisional,
    PublishSpeechStart,
    PublishUtterance,
    Turns,
)

__all__ = [
    "Action",
    "BargeIn",
    "CallMachine",
    "CallState",
    "CancelProvisional",
    "CheckTurn",
    "ConfirmProvisional",
    "IllegalTransition",
    "NoAnswer",
    "PublishAudioEnd",
    "PublishProvisional",
    "PublishSpeechStart",
    "PublishUtterance",
    "SpeculativeTurn",
    "Turns",
]
