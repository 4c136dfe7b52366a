"""The date of a call, for the prompt's "Hoje é ..." line (:func:`llm_worker.facts.render_today`).

So that "vocês abrem hoje?" can be answered from the facts' hours, the system prompt tells
the model the day, in the operator's time zone (``LLM_TIMEZONE``, default
America/Sao_Paulo). The date is taken once, when the call starts, and kept in the session's
state in Redis (:data:`STATE_KEY`): every turn of a call, on any replica, then sends the
same system prompt, and the local model's saved state of the conversation
(``providers.prompt_cache``) keeps matching; a call that crosses midnight keeps its start
date. The line is the system prompt's last, so a new day changes only what follows it.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable, Mapping

from llm_worker.errors import ConfigError

DEFAULT_TIMEZONE = "America/Sao_Paulo"
STATE_KEY = "date"
"""The session-state field holding the call's date (ISO, ``2026-12-07``)."""


def time_zone(name: str) -> dt.tzinfo:
    """The IANA zone ``name``; raises ConfigError naming ``LLM_TIMEZONE`` when unknown."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(
            f"LLM_TIMEZONE={name!r} is not a time zone of the system's database "
            f"(e.g. {DEFAULT_TIMEZONE}; the tzdata package provides them)"
        ) from e


def today_in(zone: dt.tzinfo, now: Callable[[], float] = time.time) -> Callable[[], dt.date]:
    """A function giving today's date in ``zone`` (``now``: seconds since the epoch)."""
    return lambda: dt.datetime.fromtimestamp(now(), zone).date()


def from_state(state: Mapping[str, str]) -> dt.date | None:
    """The call's date recorded at its start; None if absent or unreadable."""
    raw = state.get(STATE_KEY)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None
