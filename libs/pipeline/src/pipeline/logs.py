"""The one log format of every service: a JSON object per line, with the session and call
ids on every line (null outside a call), never the content (speech, the caller's text).

``{"time": "2026-01-02T03:04:05.678Z", "level": "INFO", "service": "stt-worker",
"logger": "stt_worker.worker", "session_id": "…", "call_id": "…", "message": "…"}``, and
``"exception"`` (the traceback) when the record has one.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import MutableMapping
from typing import Any

__all__ = ["JsonFormatter", "SessionLogger", "for_session", "setup"]


class SessionLogger(logging.LoggerAdapter[logging.Logger]):
    """Puts ``session_id`` and ``call_id`` on every record of one session's log."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        kwargs["extra"] = {**(self.extra or {}), **kwargs.get("extra", {})}
        return msg, kwargs


def for_session(
    logger: logging.Logger, session_id: str, call_id: str | None = None
) -> SessionLogger:
    return SessionLogger(logger, {"session_id": session_id, "call_id": call_id})


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module's docstring)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line: dict[str, Any] = {
            "time": f"{stamp}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "session_id": getattr(record, "session_id", None),
            "call_id": getattr(record, "call_id", None),
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.stack_info:
            line["exception"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup(service: str, level: str | None = None) -> None:
    """Logs of this process as JSON lines on stderr, at ``level`` (default $LOG_LEVEL,
    else INFO)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    logging.basicConfig(
        level=(level or os.environ.get("LOG_LEVEL", "INFO")).upper(), handlers=[handler]
    )
