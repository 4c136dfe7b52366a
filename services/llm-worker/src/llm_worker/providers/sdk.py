"""What the providers on a vendor's official SDK (anthropic, openai) share: the client
(no SDK retries, the base's timeouts), the mapping of the SDK's transport errors, the
guard around reading its stream, and the parsing of a streamed tool call's arguments.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any, ClassVar

from llm_worker.errors import (
    ConfigError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_worker.events import ToolCall
from llm_worker.providers.base import LLMProvider
from llm_worker.tools import parse_arguments


class SDKProvider(LLMProvider):
    """Base of the providers that stream through a vendor SDK with the same error classes
    (``APIError``, ``APITimeoutError``, ``APIConnectionError``, ``APIStatusError``) and an
    async client that takes ``api_key``, ``base_url``, ``max_retries`` and ``timeout``."""

    sdk: ClassVar[ModuleType | None]  # the imported SDK; None when it is not installed
    client_class: ClassVar[str]  # the SDK's async client, e.g. "AsyncAnthropic"
    install_hint: ClassVar[str]
    default_model: ClassVar[str]
    key_variable: ClassVar[str] = ""  # the variable of the API key, when one is required
    endpoint: ClassVar[str] = "the API"  # what "cannot reach ..." names

    def __init__(
        self, *, api_key: str = "", model: str = "", base_url: str | None = None, **kwargs: Any
    ) -> None:
        if self.sdk is None:
            raise ConfigError(
                f"the {self.name} provider needs the {self.name} SDK: {self.install_hint}"
            )
        if self.key_variable and not api_key:
            raise ConfigError(f"the {self.name} provider needs {self.key_variable}")
        super().__init__(model=model or self.default_model, **kwargs)
        t = self.timeouts
        self._client = getattr(self.sdk, self.client_class)(
            # A server that needs no key (Ollama, vLLM) ignores it, but the SDK insists on one.
            api_key=api_key or "not-needed",
            base_url=base_url or None,
            max_retries=0,  # the base class retries, and only before the first event
            timeout=self.sdk.Timeout(t.first_event_s, connect=t.connect_s, read=t.idle_s),
        )

    async def aclose(self) -> None:
        await self._client.close()

    @contextlib.asynccontextmanager
    async def _reading(self, stream: Any, what: str) -> AsyncIterator[None]:
        """Maps the errors raised while reading ``stream`` (``what`` names its unit in
        protocol errors) and closes it, however the reading ends."""
        assert self.sdk is not None
        try:
            yield
        except ProviderError:
            raise
        except self.sdk.APIError as e:
            raise self._map(e) from e
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            # json.JSONDecodeError is a ValueError; pydantic's errors too.
            raise ProviderProtocolError(f"malformed {what}: {e}", provider=self.name) from e
        finally:
            await stream.close()

    def _tool_call(self, name: str, call_id: str, pieces: list[str], what: str) -> ToolCall:
        """A tool call from its streamed JSON argument pieces (``what`` names it in errors)."""
        try:
            args = parse_arguments("".join(pieces), tool=name)
        except ValueError as e:
            raise ProviderProtocolError(f"{what}: {e}", provider=self.name) from e
        return ToolCall(name=name, arguments=args, call_id=call_id)

    def _map(self, e: Exception) -> ProviderError:
        """The ProviderError for an SDK error."""
        assert self.sdk is not None
        if isinstance(e, self.sdk.APITimeoutError):
            return ProviderTimeout(f"request timed out: {e}", provider=self.name)
        if isinstance(e, self.sdk.APIConnectionError):
            return ProviderUnavailable(f"cannot reach {self.endpoint}: {e}", provider=self.name)
        return self._map_api_error(e)

    def _map_api_error(self, e: Exception) -> ProviderError:
        """The vendor's own part of :meth:`_map`: status errors and errors in the stream."""
        return ProviderError(f"API error: {e}", provider=self.name)
