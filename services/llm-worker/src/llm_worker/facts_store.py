"""Where the worker gets the operator's facts: the file, its reload, its settings (I/O).

``LLM_FACTS_PATH`` names the facts file; empty means the packaged default
(``data/fatos.padrao.toml``: only the lab PABX's menu, no hours, address or prices, so the
agent says it does not know them). At start-up a file that cannot be read or does not
validate is an error (:func:`load_facts` raises FactsError and the worker exits).

:class:`FactsStore` keeps the current facts. It re-reads the file when asked
(:meth:`FactsStore.request_reload`, wired to SIGHUP) or when the file's modification time,
size or inode changed, checked at most every ``LLM_FACTS_RELOAD_S`` seconds (0: only on
SIGHUP) when :meth:`FactsStore.current` is called. A reload that fails (unreadable file,
invalid TOML, a bad field) keeps the previous facts and logs the error.

The menu is cut to ``AGENT_TRANSFER_ALLOWLIST`` (:mod:`llm_worker.transfers`) at every load:
a department whose extension the operator did not allow is dropped, with a warning.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from pipeline.envparse import EnvReader

from llm_worker.errors import ConfigError, FactsError
from llm_worker.facts import Facts, parse_facts, system_prompt
from llm_worker.transfers import parse_allowlist, restrict_menu

log = logging.getLogger(__name__)

DEFAULT_FILE = "fatos.padrao.toml"
MAX_PROMPTS = 8  # rendered prompts kept: a persona or two, today and yesterday


@dataclass(frozen=True, slots=True)
class FactsSettings:
    path: str = ""
    reload_s: float = 5.0
    transfer_allowlist: frozenset[str] = dataclasses.field(
        default_factory=lambda: parse_allowlist("")
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> FactsSettings:
        e = os.environ if env is None else env
        r = EnvReader(e, ConfigError)
        return cls(
            path=r.text("LLM_FACTS_PATH"),
            reload_s=r.number("LLM_FACTS_RELOAD_S", 5.0, 0.0, 3600.0),
            transfer_allowlist=parse_allowlist(e.get("AGENT_TRANSFER_ALLOWLIST", "")),
        )


def default_facts_text() -> str:
    return (resources.files("llm_worker") / "data" / DEFAULT_FILE).read_text("utf-8")


def read_facts(path: Path) -> Facts:
    """Reads and validates one facts file; raises FactsError."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise FactsError(f"{path}: não consigo ler o arquivo de fatos: {e}") from e
    return parse_facts(text, source=str(path))


def load_facts(path: str | Path | None = None) -> Facts:
    """The facts at ``path``, or the packaged default when None/empty."""
    if path is None or str(path) == "":
        return parse_facts(default_facts_text(), source=DEFAULT_FILE)
    return read_facts(Path(path))


Signature = tuple[int, int, int]


def _signature(path: Path) -> Signature | None:
    try:
        st = path.stat()  # follows symlinks: a Kubernetes ConfigMap swaps a link
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class FactsStore:
    """The current facts, reloaded on request or when the file changed."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        reload_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        transfer_allowlist: frozenset[str] | None = None,
    ) -> None:
        self.allowed = parse_allowlist("") if transfer_allowlist is None else transfer_allowlist
        self.path = Path(path) if path else None
        self.reload_s = reload_s
        self._clock = clock
        self._signature = _signature(self.path) if self.path else None
        # raises FactsError: the worker must not start
        self._facts = self._restricted(load_facts(self.path))
        self._checked = clock()
        self._requested = False
        self.version = 1  # bumped at each successful reload that changed the facts
        self.last_error: str | None = None
        self._prompts: dict[tuple[str, dt.date | None], str] = {}
        self._prompts_version = self.version

    @classmethod
    def from_settings(cls, settings: FactsSettings) -> FactsStore:
        return cls(
            settings.path or None,
            reload_s=settings.reload_s,
            transfer_allowlist=settings.transfer_allowlist,
        )

    def transfer_allowed(self, target: str) -> bool:
        """The last check before a transfer is published (AGENT_TRANSFER_ALLOWLIST)."""
        return target in self.allowed

    def _restricted(self, facts: Facts) -> Facts:
        facts, dropped = restrict_menu(facts, self.allowed)
        for entry in dropped:
            log.warning(
                "menu entry %r (extension %s) dropped: not in AGENT_TRANSFER_ALLOWLIST",
                entry.department,
                entry.extension,
            )
        return facts

    @property
    def facts(self) -> Facts:
        """The facts as last loaded, without checking the file."""
        return self._facts

    def request_reload(self) -> None:
        """Re-read the file at the next :meth:`current` (signal-handler safe)."""
        self._requested = True

    def current(self) -> Facts:
        """The facts, after re-reading the file if asked to or if it changed."""
        if self.path is None:
            return self._facts
        now = self._clock()
        due = self.reload_s > 0 and now - self._checked >= self.reload_s
        if self._requested or due:
            self._checked = now
            forced, self._requested = self._requested, False
            signature = _signature(self.path)
            if forced or signature != self._signature:
                self._signature = signature
                self.reload()
        return self._facts

    def reload(self) -> bool:
        """Re-reads the file now; True when the facts changed. On error keeps the old ones."""
        if self.path is None:
            return False
        try:
            facts = self._restricted(read_facts(self.path))
        except FactsError as e:
            self.last_error = str(e)
            log.error("facts not reloaded, keeping the previous ones: %s", e)
            return False
        self.last_error = None
        if facts == self._facts:
            return False
        self._facts = facts
        self.version += 1
        log.info("facts reloaded from %s (version %d)", self.path, self.version)
        return True

    def system_prompt(self, persona_prompt: str, day: dt.date | None = None) -> str:
        """The persona's prompt with the current facts block and, given ``day``, that
        day's line (rendered once per facts version, persona and day)."""
        facts = self.current()
        if self._prompts_version != self.version or len(self._prompts) >= MAX_PROMPTS:
            self._prompts, self._prompts_version = {}, self.version
        key = (persona_prompt, day)
        prompt = self._prompts.get(key)
        if prompt is None:
            prompt = self._prompts[key] = system_prompt(persona_prompt, facts, day)
        return prompt
