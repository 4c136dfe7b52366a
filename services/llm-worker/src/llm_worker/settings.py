"""Settings of the llm-worker, read once from the environment (see ../../.env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict, cast

from pipeline.envparse import EnvReader

from llm_worker.call_date import DEFAULT_TIMEZONE, time_zone
from llm_worker.errors import ConfigError

PROVIDER_CHOICES = ("auto", "anthropic", "openai", "local", "fake")
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


class ReplyOptions(TypedDict):
    """The settings the LLMWorker takes as they are (same names): history, reply length,
    clause splitting, waits."""

    max_history_turns: int
    max_tokens: int
    temperature: float
    first_clause_min_chars: int
    first_words_min: int
    first_words_max: int
    clause_min_chars: int
    max_sentences: int
    tts_priority_max_wait_s: float
    live_turn_ttl_s: float


@dataclass(frozen=True, slots=True)
class Settings:
    provider: str = "auto"
    model: str = ""
    model_path: str = ""
    anthropic_api_key: str = ""
    anthropic_model: str = DEFAULT_ANTHROPIC_MODEL
    anthropic_base_url: str = ""
    openai_base_url: str = ""
    openai_api_key: str = ""
    openai_model: str = DEFAULT_OPENAI_MODEL
    persona_path: str = ""
    max_history_turns: int = 8
    max_tokens: int = 200
    temperature: float = 0.3
    timeout_first_s: float = 10.0
    timeout_idle_s: float = 10.0
    max_retries: int = 1
    n_threads: int = 1
    n_threads_batch: int = 1
    n_ctx: int = 2048
    state_cache_mb: int = 256
    first_clause_min_chars: int = 12
    first_words_min: int = 3
    first_words_max: int = 6
    clause_min_chars: int = 24
    max_sentences: int = 3
    tts_priority_max_wait_s: float = 1.5
    live_turn_ttl_s: float = 120.0
    postcall_defer_max_s: float = 120.0
    postcall_max_hold_s: float = 5.0
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        r = EnvReader(os.environ if env is None else env, ConfigError)
        provider = r.text("LLM_PROVIDER", "auto").lower()
        if provider not in PROVIDER_CHOICES:
            raise ConfigError(
                f"LLM_PROVIDER={provider!r}; choose one of {', '.join(PROVIDER_CHOICES)}"
            )
        timeout_idle_s = r.number("LLM_TIMEOUT_IDLE_S", 10.0, 0.1, 300.0)
        n_threads = r.integer("LLM_N_THREADS", 1, 1, 256)
        words_min = r.integer("LLM_FIRST_WORDS_MIN", 3, 0, 50)
        words_max = r.integer("LLM_FIRST_WORDS_MAX", 6, 1, 50)
        if words_min and words_max < words_min:
            raise ConfigError(
                f"LLM_FIRST_WORDS_MAX={words_max} is below LLM_FIRST_WORDS_MIN={words_min}"
            )
        settings = cls(
            provider=provider,
            model=r.text("LLM_MODEL"),
            model_path=r.text("LLM_MODEL_PATH"),
            anthropic_api_key=r.text("ANTHROPIC_API_KEY"),
            anthropic_model=r.text("ANTHROPIC_MODEL", DEFAULT_ANTHROPIC_MODEL),
            anthropic_base_url=r.text("ANTHROPIC_BASE_URL"),
            openai_base_url=r.text("OPENAI_BASE_URL"),
            openai_api_key=r.text("OPENAI_API_KEY"),
            openai_model=r.text("OPENAI_MODEL", DEFAULT_OPENAI_MODEL),
            persona_path=r.text("LLM_PERSONA_PATH"),
            max_history_turns=r.integer("LLM_MAX_HISTORY_TURNS", 8, 1, 100),
            max_tokens=r.integer("LLM_MAX_TOKENS", 200, 16, 4096),
            temperature=r.number("LLM_TEMPERATURE", 0.3, 0.0, 2.0),
            timeout_first_s=r.number("LLM_TIMEOUT_FIRST_S", 10.0, 0.1, 300.0),
            timeout_idle_s=timeout_idle_s,
            max_retries=r.integer("LLM_MAX_RETRIES", 1, 0, 5),
            n_threads=n_threads,
            n_threads_batch=r.integer("LLM_N_THREADS_BATCH", n_threads, 1, 256),
            n_ctx=r.integer("LLM_N_CTX", 2048, 256, 131072),
            state_cache_mb=r.integer("LLM_STATE_CACHE_MB", 256, 0, 65536),
            first_clause_min_chars=r.integer("LLM_FIRST_CLAUSE_MIN_CHARS", 12, 1, 200),
            first_words_min=words_min,
            first_words_max=words_max,
            clause_min_chars=r.integer("LLM_CLAUSE_MIN_CHARS", 24, 0, 1000),
            max_sentences=r.integer("LLM_MAX_SENTENCES", 3, 0, 100),
            tts_priority_max_wait_s=r.number("LLM_TTS_PRIORITY_MAX_WAIT_S", 1.5, 0.0, 30.0),
            live_turn_ttl_s=r.number("LLM_LIVE_TURN_TTL_S", 120.0, 1.0, 3600.0),
            postcall_defer_max_s=r.number("POSTCALL_DEFER_MAX_S", 120.0, 0.0, 1200.0),
            postcall_max_hold_s=r.number("POSTCALL_MAX_HOLD_S", 5.0, 0.1, 300.0),
            timezone=r.text("LLM_TIMEZONE", DEFAULT_TIMEZONE),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        time_zone(self.timezone)  # raises ConfigError naming LLM_TIMEZONE
        if self.resolved_provider() != "local":
            return  # holding a generation applies to the local model only
        # A held generation still runs the provider's idle timer: stay below it.
        for name, value in (
            ("LLM_TTS_PRIORITY_MAX_WAIT_S", self.tts_priority_max_wait_s),
            ("POSTCALL_MAX_HOLD_S", self.postcall_max_hold_s),
        ):
            if value >= self.timeout_idle_s:
                raise ConfigError(
                    f"{name}={value:g} must be below LLM_TIMEOUT_IDLE_S={self.timeout_idle_s:g}"
                )

    def reply_options(self) -> ReplyOptions:
        """The LLMWorker's keyword arguments that come from these settings."""
        # same names and types as the fields (test_persona_settings checks it)
        return cast(
            ReplyOptions, {name: getattr(self, name) for name in ReplyOptions.__annotations__}
        )

    def resolved_provider(self) -> str:
        """``auto`` means Claude when an API key is set, else the local model."""
        if self.provider == "auto":
            return "anthropic" if self.anthropic_api_key else "local"
        return self.provider
