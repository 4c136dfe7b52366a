"""Language tags as sessions and settings give them ("pt-BR", "pt_BR", "en")."""

from __future__ import annotations


def language_tag(language: str) -> str | None:
    """``"pt_BR"`` / ``" pt-BR "`` -> ``"pt-br"``; None unless the primary subtag is two or
    three letters."""
    tag = language.strip().replace("_", "-").lower()
    primary = tag.split("-")[0]
    return tag if primary.isalpha() and 2 <= len(primary) <= 3 else None
