"""Logging helpers: one line per event with the session and call ids, never the content."""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping
from typing import Any


class SessionLogger(logging.LoggerAdapter[logging.Logger]):
    """Adds ``[session=… call=…]`` to every line of one session's log."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return (
            f"[session={extra.get('session_id', '-')} call={extra.get('call_id', '-')}] {msg}",
            kwargs,
        )


def for_session(
    logger: logging.Logger, session_id: str, call_id: str | None = None
) -> SessionLogger:
    return SessionLogger(logger, {"session_id": session_id, "call_id": call_id or "-"})


def setup(service: str) -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO").upper(),
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
    )
