"""Key of the fixed-phrase cache (greeting, apology, goodbye).

Fixed phrases are synthesized once and kept in Redis by (text, voice, rate), so the
greeting starts without waiting for synthesis. ``voice`` is the provider's full voice
identity (``TTSProvider.voice_id``: engine, model, voice and language), so changing any
of them never serves stale audio.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

from .audio import check_session_rate

KEY_PREFIX = "pabx:tts:phrase:v1"


def normalize_text(text: str) -> str:
    """NFC and collapsed whitespace: the same phrase typed twice gets one key."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def phrase_cache_key(text: str, voice: str, rate: int, *, prefix: str = KEY_PREFIX) -> str:
    """Redis key for the synthesized audio of a fixed phrase."""
    norm = normalize_text(text)
    if not norm:
        raise ValueError("cannot cache an empty phrase")
    if not voice:
        raise ValueError("voice must not be empty")
    check_session_rate(rate)
    digest = hashlib.sha256(json.dumps([norm, voice, rate]).encode()).hexdigest()
    return f"{prefix}:{rate}:{digest[:40]}"
