"""Errors of the llm-worker package.

    LLMError
     ├── ConfigError            bad settings, missing optional SDK (with an install hint)
     ├── PersonaError           persona file missing or malformed
     ├── FactsError             the operator's facts file is missing, malformed or invalid
     ├── HistoryError           stored history that does not parse
     ├── ToolArgumentError      a tool call whose arguments are not valid
     └── ProviderError          a provider call failed (``retryable`` says if a retry may help)
          ├── ProviderTimeout       no answer in time (connect, first event or between events)
          ├── ProviderOverloaded    the vendor said it is overloaded or rate-limited (429, 529)
          ├── ProviderUnavailable   5xx, connection refused or reset
          ├── ProviderRejected      4xx other than 408/429: our request or credentials are wrong
          └── ProviderProtocolError the server answered something that is not the wire API
                                    (malformed server-sent events or JSON)

Every ProviderError that reaches the caller of :func:`llm_worker.reply.reply` becomes an
apology sentence: the caller never hears silence.
"""

from __future__ import annotations


class LLMError(Exception):
    """Base class of every error raised by this package."""


class ConfigError(LLMError):
    """Invalid configuration or an optional dependency that is not installed."""


class PersonaError(LLMError):
    """The persona file cannot be read or lacks a required field."""


class FactsError(LLMError):
    """The facts file cannot be read, is not TOML, or a field is invalid (the message
    names the file and the field, e.g. ``menu[2].ramal``)."""


class HistoryError(LLMError):
    """A serialized conversation history is malformed."""


class ToolArgumentError(LLMError):
    """The model called a tool with arguments that do not validate."""


class ProviderError(LLMError):
    """A provider call failed.

    ``retryable`` is True when the same request may succeed if sent again (timeouts,
    overload, 5xx); ``provider`` names the vendor; ``status`` is the HTTP status when known.
    """

    default_retryable = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        retryable: bool | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.retryable = self.default_retryable if retryable is None else retryable
        self.status = status

    def __str__(self) -> str:
        where = f"{self.provider}: " if self.provider else ""
        status = f" (HTTP {self.status})" if self.status is not None else ""
        return f"{where}{self.args[0]}{status}"


class ProviderTimeout(ProviderError):
    default_retryable = True


class ProviderOverloaded(ProviderError):
    default_retryable = True


class ProviderUnavailable(ProviderError):
    default_retryable = True


class ProviderRejected(ProviderError):
    default_retryable = False


class ProviderProtocolError(ProviderError):
    default_retryable = False


def error_for_status(status: int, message: str, *, provider: str) -> ProviderError:
    """Maps an HTTP status from a vendor API to the matching ProviderError."""
    if status in (429, 529):
        return ProviderOverloaded(message, provider=provider, status=status)
    if status == 408:
        return ProviderTimeout(message, provider=provider, status=status)
    if status >= 500:
        return ProviderUnavailable(message, provider=provider, status=status)
    return ProviderRejected(message, provider=provider, status=status)
