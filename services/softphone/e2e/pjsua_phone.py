"""PJSUA2 test phone for the softphone e2e: registers an extension and reports on stdout.

    python e2e/pjsua_phone.py 1001      (password in PHONE_PASSWORD; PYTHONPATH=tests/support)

Prints REGISTERED once registered, then RINGING when a call arrives (answered with 180 only),
and exits when stdin closes, on SIGTERM or after 60 s, unregistering first (a registration
left behind would outlive the test in Asterisk's database).
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from sipphone import PhoneError, SipStack


def main() -> int:
    user = sys.argv[1]
    # SIGTERM (the e2e's kill) unwinds through the finally below, which unregisters
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    stack = SipStack()
    try:
        phone = stack.add_phone(user, os.environ["PHONE_PASSWORD"])
        if phone.reg_status != 200:
            print(f"REGISTER_FAILED {phone.reg_status}", flush=True)
            return 1
        print("REGISTERED", flush=True)
        closed = threading.Event()
        threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
        try:
            phone.wait_incoming(timeout=60)
        except PhoneError:
            print("NO_CALL", flush=True)
            return 1
        print("RINGING", flush=True)
        closed.wait(timeout=30)
        stack.hangup_all()
        return 0
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
