"""What a call's logic (:class:`sip_edge.calls.CallSession`) needs from the media side that
carries it, without pjsua2: the call's identity and what can be done to it. The PJSUA2
endpoint (:mod:`sip_edge.sip`) and the ASP WebSocket gateway (:mod:`sip_edge.gateway`) each
provide them."""

from __future__ import annotations

import dataclasses
from typing import Protocol

__all__ = ["CallControl", "CallInfo"]


@dataclasses.dataclass(frozen=True, slots=True)
class CallInfo:
    call_ref: int
    sip_call_id: str
    caller_number: str
    remote_uri: str


class CallControl(Protocol):
    """What the event loop can do to one call; every method returns at once."""

    def hangup(self, status_code: int = 0) -> None: ...

    def transfer(self, extension: str) -> None: ...

    def send_dtmf(self, digits: str) -> None: ...
