"""SIP: the PJSUA2 endpoint, quarantined (the only package that imports pjsua2)."""

from .endpoint import CallHandle, CallInfo, CallListener, Endpoint, SipConfig

__all__ = ["CallHandle", "CallInfo", "CallListener", "Endpoint", "SipConfig"]
