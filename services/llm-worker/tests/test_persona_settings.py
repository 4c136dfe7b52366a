"""Persona file and settings parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from llm_worker.errors import PersonaError
from llm_worker.persona import load_persona, parse_persona
from llm_worker.settings import Settings


def test_default_persona_is_a_brief_portuguese_receptionist() -> None:
    p = load_persona()
    assert p.language == "pt-BR"
    assert "recepcionista" in p.system_prompt
    assert "português" in p.system_prompt
    assert p.greeting.startswith("Olá")
    assert p.apology
    assert p.goodbye
    assert load_persona("") == p


def test_persona_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "p.toml"
    f.write_text(
        'system_prompt = "Você é um robô."\ngreeting = "Oi"\napology = "Ops"\ngoodbye = "Tchau"\n',
        "utf-8",
    )
    p = load_persona(f)
    assert (p.system_prompt, p.greeting, p.apology, p.goodbye) == (
        "Você é um robô.",
        "Oi",
        "Ops",
        "Tchau",
    )


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("system_prompt = ", "not valid TOML"),
        ('greeting = "Oi"', "system_prompt"),
        ('system_prompt = "x"\ngreeting = ""\napology = "a"\ngoodbye = "b"', "greeting"),
        ('system_prompt = "x"\ngreeting = "g"\napology = 3\ngoodbye = "b"', "apology"),
        (
            'system_prompt = "x"\ngreeting = "g"\napology = "a"\ngoodbye = "b"\nlanguage = 1',
            "language",
        ),
    ],
)
def test_malformed_persona(text: str, match: str) -> None:
    with pytest.raises(PersonaError, match=match):
        parse_persona(text)


def test_unreadable_persona(tmp_path: Path) -> None:
    with pytest.raises(PersonaError, match="cannot read"):
        load_persona(tmp_path / "missing.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"greeting = '\xe9'")
    with pytest.raises(PersonaError, match="cannot read"):
        load_persona(bad)


def test_settings_defaults_work_offline() -> None:
    s = Settings.from_env({})
    assert s.provider == "auto"
    assert s.resolved_provider() == "local"
    assert s.max_history_turns == 8


def test_cpu_and_reply_shape_defaults_fit_a_small_host() -> None:
    s = Settings.from_env({})
    # 1 thread: 2 spinning threads on 2 busy cores were slower (5x when generating)
    assert (s.n_threads, s.n_threads_batch, s.state_cache_mb) == (1, 1, 256)
    assert (s.first_words_min, s.first_words_max, s.clause_min_chars) == (3, 6, 24)
    assert (s.max_sentences, s.tts_priority_max_wait_s) == (3, 1.5)
    assert Settings.from_env({"LLM_N_THREADS": "4"}).n_threads_batch == 4
    one = Settings.from_env({"LLM_N_THREADS": "1", "LLM_N_THREADS_BATCH": "2"})
    assert (one.n_threads, one.n_threads_batch) == (1, 2)
    # Claude's generation is not held, so its idle timeout may be short
    claude = {"ANTHROPIC_API_KEY": "sk", "LLM_TIMEOUT_IDLE_S": "1"}
    assert Settings.from_env(claude).tts_priority_max_wait_s == 1.5


def test_auto_picks_claude_when_a_key_is_set() -> None:
    s = Settings.from_env({"ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_MODEL": "claude-x"})
    assert s.resolved_provider() == "anthropic"
    assert s.anthropic_model == "claude-x"
    assert Settings.from_env({"LLM_PROVIDER": "OpenAI"}).resolved_provider() == "openai"


def test_env_example_lists_every_setting() -> None:
    example = (Path(__file__).parents[1] / ".env.example").read_text("utf-8")
    src = (Path(__file__).parents[1] / "src/llm_worker/settings.py").read_text("utf-8")
    import re

    names = set(re.findall(r'"((?:LLM|ANTHROPIC|OPENAI|POSTCALL)_[A-Z_]+)"', src))
    assert names
    missing = [n for n in sorted(names) if f"{n}=" not in example]
    assert not missing


def test_reply_options_are_settings_fields_of_the_same_type() -> None:
    """Settings.reply_options() hands these fields to LLMWorker by name (mypy checks the
    TypedDict against LLMWorker's signature; this checks it against the fields)."""
    from typing import get_type_hints

    from llm_worker.settings import ReplyOptions

    fields = get_type_hints(Settings)
    options = get_type_hints(ReplyOptions)
    assert options
    assert {name: fields.get(name) for name in options} == options
    s = Settings.from_env({"LLM_PROVIDER": "fake", "LLM_MAX_TOKENS": "99"})
    assert s.reply_options()["max_tokens"] == 99
    assert s.reply_options() == {name: getattr(s, name) for name in options}
