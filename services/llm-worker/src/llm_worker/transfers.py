"""Where the agent may transfer a call: the operator's allowlist (sans-I/O).

``AGENT_TRANSFER_ALLOWLIST`` lists the targets, comma separated: single targets (``1001``,
``*43``) or ranges of equal-length numbers (``1001-1005``). The default, the internal
extensions 1001-1005, covers the packaged and the example facts' menus. The same setting
renders Asterisk's ``agent-transfer`` context (scripts/asterisk_render.py), so a transfer
outside the list fails twice: here, and at Asterisk if anything else asked for it.

The facts' menu is cut to the list (:func:`restrict_menu`): a department whose extension is
not allowed is neither offered to the model, nor reachable by a key, nor in the prompt, and
the worker logs it at load. The conference room (8000) and any outbound number stay out
unless the operator lists them.
"""

from __future__ import annotations

import dataclasses
import re

from llm_worker.errors import ConfigError
from llm_worker.facts import Facts, MenuEntry

__all__ = ["DEFAULT_ALLOWLIST", "parse_allowlist", "restrict_menu"]

DEFAULT_ALLOWLIST = "1001-1005"
MAX_TARGETS = 1000
_TARGET = re.compile(r"^[0-9*#]{1,15}$")
_RANGE = re.compile(r"^([0-9]{1,15})-([0-9]{1,15})$")


def parse_allowlist(raw: str) -> frozenset[str]:
    """The targets of ``raw`` (empty: :data:`DEFAULT_ALLOWLIST`); raises ConfigError."""
    items = [i.strip() for i in (raw.strip() or DEFAULT_ALLOWLIST).split(",") if i.strip()]
    targets: list[str] = []
    for item in items:
        m = _RANGE.fullmatch(item)
        if m:
            first, last = m.groups()
            if len(first) != len(last) or int(first) > int(last):
                raise ConfigError(
                    f"AGENT_TRANSFER_ALLOWLIST: range {item!r} must go up between numbers of "
                    "the same length (1001-1005)"
                )
            if int(last) - int(first) + 1 > MAX_TARGETS:
                raise ConfigError(f"AGENT_TRANSFER_ALLOWLIST: range {item!r} is too large")
            targets += [str(n).zfill(len(first)) for n in range(int(first), int(last) + 1)]
        elif _TARGET.fullmatch(item):
            targets.append(item)
        else:
            raise ConfigError(
                f"AGENT_TRANSFER_ALLOWLIST: {item!r} is not a dial target (digits, * or #) "
                "nor a range (1001-1005)"
            )
    if len(targets) > MAX_TARGETS:
        raise ConfigError(f"AGENT_TRANSFER_ALLOWLIST: more than {MAX_TARGETS} targets")
    return frozenset(targets)


def restrict_menu(facts: Facts, allowed: frozenset[str]) -> tuple[Facts, tuple[MenuEntry, ...]]:
    """``facts`` with only the menu entries whose extension is allowed, and the dropped ones."""
    dropped = tuple(e for e in facts.menu if e.extension not in allowed)
    if not dropped:
        return facts, ()
    kept = tuple(e for e in facts.menu if e.extension in allowed)
    return dataclasses.replace(facts, menu=kept), dropped
