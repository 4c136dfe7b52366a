"""The agent's persona: system prompt and fixed phrases, read from a TOML file.

The default file ships with the package (``data/persona.pt-BR.toml``); LLM_PERSONA_PATH
points at another one. Required keys: ``system_prompt``, ``greeting``, ``apology``,
``goodbye``. The TTS worker synthesizes the fixed phrases once and caches them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from llm_worker.errors import PersonaError

REQUIRED = ("system_prompt", "greeting", "apology", "goodbye")


@dataclass(frozen=True, slots=True)
class Persona:
    system_prompt: str
    greeting: str
    apology: str
    goodbye: str
    language: str = "pt-BR"


def default_persona_text() -> str:
    return (resources.files("llm_worker") / "data" / "persona.pt-BR.toml").read_text("utf-8")


def parse_persona(text: str, *, source: str = "<persona>") -> Persona:
    """Parses persona TOML text; raises PersonaError naming the problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PersonaError(f"{source}: not valid TOML: {e}") from e
    values: dict[str, str] = {}
    for key in REQUIRED:
        value = data.get(key)
        if not isinstance(value, str) or not value.strip():
            raise PersonaError(f"{source}: missing or empty text field {key!r}")
        values[key] = value.strip()
    language = data.get("language", "pt-BR")
    if not isinstance(language, str):
        raise PersonaError(f"{source}: 'language' must be text")
    return Persona(language=language, **values)


def load_persona(path: str | Path | None = None) -> Persona:
    """Loads the persona from ``path``, or the packaged pt-BR receptionist when None."""
    if path is None or str(path) == "":
        return parse_persona(default_persona_text(), source="persona.pt-BR.toml")
    p = Path(path)
    try:
        text = p.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PersonaError(f"{p}: cannot read persona file: {e}") from e
    return parse_persona(text, source=str(p))
