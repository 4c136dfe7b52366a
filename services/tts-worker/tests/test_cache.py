from __future__ import annotations

import pytest
from tts_worker.cache import KEY_PREFIX, phrase_cache_key
from tts_worker.errors import AudioFormatError

VOICE = "kokoro:kokoro-v1.0.int8.onnx+voices_ja.npz:jm_kumo:pt-br"


def test_same_phrase_same_key() -> None:
    a = phrase_cache_key("Olá!  Em que posso\najudar?", VOICE, 8000)
    b = phrase_cache_key("Olá! Em que posso ajudar?", VOICE, 8000)
    assert a == b
    assert a.startswith(f"{KEY_PREFIX}:8000:")


def test_unicode_forms_share_a_key() -> None:
    composed, decomposed = "ligação", "ligac\u0327a\u0303o"
    assert phrase_cache_key(composed, VOICE, 8000) == phrase_cache_key(decomposed, VOICE, 8000)


def test_every_component_changes_the_key() -> None:
    base = phrase_cache_key("Até logo.", VOICE, 8000)
    assert phrase_cache_key("Até logo!", VOICE, 8000) != base
    assert phrase_cache_key("Até logo.", VOICE.replace("jm_kumo", "pf_dora"), 8000) != base
    assert phrase_cache_key("Até logo.", VOICE, 16000) != base
    assert phrase_cache_key("Até logo.", VOICE, 8000, prefix="other") != base


@pytest.mark.parametrize(
    ("text", "voice", "rate", "error"),
    [
        ("  ", VOICE, 8000, ValueError),
        ("Oi", "", 8000, ValueError),
        ("Oi", VOICE, 44100, AudioFormatError),
    ],
)
def test_bad_input(text: str, voice: str, rate: int, error: type[Exception]) -> None:
    with pytest.raises(error):
        phrase_cache_key(text, voice, rate)
