"""Settings of the llm-worker, read once from the environment (see ../../.env.example)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from llm_worker.errors import ConfigError

PROVIDER_CHOICES = ("auto", "anthropic", "openai", "local", "fake")
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def _int(env: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not an integer") from e
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is outside {lo}..{hi}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, lo: float, hi: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as e:
        raise ConfigError(f"{name}={raw!r} is not a number") from e
    if not lo <= value <= hi:
        raise ConfigError(f"{name}={value} is outside {lo}..{hi}")
    return value


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
    n_threads: int = 2
    n_ctx: int = 2048
    first_clause_min_chars: int = 12

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        provider = env.get("LLM_PROVIDER", "auto").strip().lower() or "auto"
        if provider not in PROVIDER_CHOICES:
            raise ConfigError(
                f"LLM_PROVIDER={provider!r}; choose one of {', '.join(PROVIDER_CHOICES)}"
            )
        return cls(
            provider=provider,
            model=env.get("LLM_MODEL", "").strip(),
            model_path=env.get("LLM_MODEL_PATH", "").strip(),
            anthropic_api_key=env.get("ANTHROPIC_API_KEY", "").strip(),
            anthropic_model=env.get("ANTHROPIC_MODEL", "").strip() or DEFAULT_ANTHROPIC_MODEL,
            anthropic_base_url=env.get("ANTHROPIC_BASE_URL", "").strip(),
            openai_base_url=env.get("OPENAI_BASE_URL", "").strip(),
            openai_api_key=env.get("OPENAI_API_KEY", "").strip(),
            openai_model=env.get("OPENAI_MODEL", "").strip() or DEFAULT_OPENAI_MODEL,
            persona_path=env.get("LLM_PERSONA_PATH", "").strip(),
            max_history_turns=_int(env, "LLM_MAX_HISTORY_TURNS", 8, 1, 100),
            max_tokens=_int(env, "LLM_MAX_TOKENS", 200, 16, 4096),
            temperature=_float(env, "LLM_TEMPERATURE", 0.3, 0.0, 2.0),
            timeout_first_s=_float(env, "LLM_TIMEOUT_FIRST_S", 10.0, 0.1, 300.0),
            timeout_idle_s=_float(env, "LLM_TIMEOUT_IDLE_S", 10.0, 0.1, 300.0),
            max_retries=_int(env, "LLM_MAX_RETRIES", 1, 0, 5),
            n_threads=_int(env, "LLM_N_THREADS", 2, 1, 256),
            n_ctx=_int(env, "LLM_N_CTX", 2048, 256, 131072),
            first_clause_min_chars=_int(env, "LLM_FIRST_CLAUSE_MIN_CHARS", 12, 1, 200),
        )

    def resolved_provider(self) -> str:
        """``auto`` means Claude when an API key is set, else the local model."""
        if self.provider == "auto":
            return "anthropic" if self.anthropic_api_key else "local"
        return self.provider
