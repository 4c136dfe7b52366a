"""Language tags: normalized, and refused unless the primary subtag is 2-3 letters."""

from __future__ import annotations

import pytest
from pipeline.language import language_tag


@pytest.mark.parametrize(
    ("given", "tag"),
    [("pt-BR", "pt-br"), (" pt_BR ", "pt-br"), ("EN", "en"), ("yue-HK", "yue-hk")],
)
def test_tags_are_normalized(given: str, tag: str) -> None:
    assert language_tag(given) == tag


@pytest.mark.parametrize("given", ["", "p", "port-BR", "brasil1", "português", "1-BR", "-pt"])
def test_bad_primary_subtags_are_refused(given: str) -> None:
    assert language_tag(given) is None
