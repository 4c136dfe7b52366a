"""Typed reads of settings from the environment, shared by every service.

Each service keeps its own settings class and error type; :class:`EnvReader` only turns one
variable into a value, and every error it raises names the variable. A variable that is
unset or blank means its default.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

__all__ = ["EnvReader", "Registry", "cache_dir", "known"]

N = TypeVar("N", int, float)
S = TypeVar("S")
E = TypeVar("E")

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


class EnvReader:
    """Reads variables from ``env``, raising ``error`` (a message naming the variable)."""

    def __init__(self, env: Mapping[str, str], error: type[Exception] = ValueError) -> None:
        self.env = env
        self.error = error

    def text(self, name: str, default: str = "") -> str:
        return self.env.get(name, "").strip() or default

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return Path(value).expanduser() if value else None

    def integer(self, name: str, default: int, lo: int | None = None, hi: int | None = None) -> int:
        return self._read(name, default, int, "an integer", lo, hi)

    def number(
        self, name: str, default: float, lo: float | None = None, hi: float | None = None
    ) -> float:
        return self._read(name, default, float, "a number", lo, hi)

    def fields(
        self, settings: type[Any], prefix: str, skip: Collection[str] = ()
    ) -> dict[str, Any]:
        """The fields of the dataclass ``settings`` (all but ``skip``), each read from
        ``<prefix><FIELD NAME>`` by its type (str, int, float, bool, ``Path | None``) with
        the field's default; a keyword dict for the class."""
        hints = get_type_hints(settings)
        read: dict[Any, Callable[[str, Any], Any]] = {
            str: self.text,
            int: self.integer,
            float: self.number,
            bool: self.flag,
            Path | None: lambda name, _default: self.path(name),
        }
        return {
            f.name: read[hints[f.name]](prefix + f.name.upper(), f.default)
            for f in dataclasses.fields(settings)
            if f.name not in skip
        }

    def flag(self, name: str, default: bool) -> bool:
        raw = self.text(name).lower()
        if not raw:
            return default
        if raw in TRUE:
            return True
        if raw in FALSE:
            return False
        raise self.error(f"{name}={raw!r} is not true or false")

    def _read(
        self,
        name: str,
        default: N,
        parse: Callable[[str], N],
        kind: str,
        lo: N | None,
        hi: N | None,
    ) -> N:
        raw = self.text(name)
        if not raw:
            return default
        try:
            value = parse(raw)
        except ValueError as e:
            raise self.error(f"{name}={raw!r} is not {kind}") from e
        # ``not lo <= value`` rather than ``value < lo``: NaN is outside any range.
        if (lo is not None and not lo <= value) or (hi is not None and not value <= hi):
            low = "" if lo is None else lo
            high = "" if hi is None else hi
            raise self.error(f"{name}={value} is outside {low}..{high}")
        return value


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """$PABX_CACHE, as scripts/lib.sh computes it."""
    env = os.environ if env is None else env
    if env.get("PABX_CACHE"):
        return Path(env["PABX_CACHE"])
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pabx"


def known(value: str, choices: Collection[str], variable: str, error: type[Exception]) -> str:
    """``value`` when it is one of ``choices`` (a registry's names), else ``error`` naming
    ``variable`` and the choices."""
    if value not in choices:
        raise error(f"unknown {variable} {value!r} (choose from {', '.join(choices)})")
    return value


class Registry(dict[str, Callable[[S], E]]):
    """A service's engines of one kind by name, each built by its factory from the
    service's settings; ``variable`` (e.g. LLM_PROVIDER) is the setting that names one."""

    def __init__(
        self, variable: str, error: type[Exception], factories: Mapping[str, Callable[[S], E]]
    ) -> None:
        super().__init__(factories)
        self.variable = variable
        self.error = error

    def build(self, name: str, settings: S) -> E:
        """The engine ``name`` built from ``settings``; ``error`` naming the variable and
        the choices when no factory has that name."""
        return self[known(name, self, self.variable, self.error)](settings)
