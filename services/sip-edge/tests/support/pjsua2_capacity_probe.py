"""Standalone probe (run as a subprocess: PJSUA2 allows one Endpoint per process): one
process places N calls to itself over loopback and answers them, so it holds 2*N PJSUA
calls at once. Prints a JSON line with how many calls reached CONFIRMED on each side.

    python pjsua2_capacity_probe.py N
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pjsua2 as pj

# the PJSUA2 test phone shared with the integration tests (tests/support/pj_endpoint.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "support"))
from pj_endpoint import endpoint, local_account


class Call(pj.Call):  # type: ignore[misc]
    def __init__(self, acc: pj.Account, probe: Probe, call_id: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(acc, call_id)
        self.probe = probe
        self.confirmed = False

    def onCallState(self, prm: pj.OnCallStateParam) -> None:
        state = self.getInfo().state
        if state == pj.PJSIP_INV_STATE_CONFIRMED:
            self.confirmed = True
        elif state == pj.PJSIP_INV_STATE_DISCONNECTED:
            self.probe.disconnected += 1


class Account(pj.Account):  # type: ignore[misc]
    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self.probe = probe

    def onIncomingCall(self, prm: pj.OnIncomingCallParam) -> None:
        call = Call(self, self.probe, prm.callId)
        self.probe.incoming.append(call)
        op = pj.CallOpParam()
        op.statusCode = 200
        call.answer(op)


class Probe:
    def __init__(self) -> None:
        self.incoming: list[Call] = []
        self.outgoing: list[Call] = []
        self.disconnected = 0


def main() -> None:
    n = int(sys.argv[1])
    probe = Probe()
    # the null device and PJSUA's default media: only the calls' signalling counts here
    with endpoint(max_calls=2 * n + 2, log_level=1, phone_media=False, codec=None) as lib:
        ep, _tid, port = lib
        acc = local_account(Account(probe), "probe", port)
        for _ in range(n):
            probe.outgoing.append(Call(acc, probe))
            probe.outgoing[-1].makeCall(f"sip:probe@127.0.0.1:{port}", pj.CallOpParam(True))
            ep.libHandleEvents(5)
        deadline = time.monotonic() + 15

        def both() -> int:
            return sum(c.confirmed for c in probe.outgoing + probe.incoming)

        while time.monotonic() < deadline and both() < 2 * n:
            ep.libHandleEvents(20)
        result = {
            "outgoing_confirmed": sum(c.confirmed for c in probe.outgoing),
            "incoming_confirmed": sum(c.confirmed for c in probe.incoming),
            "max_calls_constant": getattr(pj, "PJSUA_MAX_CALLS", None),
        }
        ep.hangupAllCalls()
        end = time.monotonic() + 5
        while time.monotonic() < end and probe.disconnected < 2 * n:
            ep.libHandleEvents(20)
        print(json.dumps(result), flush=True)
        # Every pj object must go before the library does.
        probe.incoming.clear()
        probe.outgoing.clear()
        acc.shutdown()
        del acc


if __name__ == "__main__":
    main()
