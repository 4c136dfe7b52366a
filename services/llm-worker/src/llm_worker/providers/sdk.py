"""What the providers on a vendor's official SDK (anthropic, openai) share: the client
(no SDK retries, the base's timeouts), one attempt's course (send the request, read the
stream under a guard that maps the SDK's errors and closes it), the mapping of the SDK's
transport errors, and the parsing of a streamed tool call's arguments. A vendor module
says which SDK it uses (:class:`VendorSDK`), builds its request and turns its stream's
events into :data:`~llm_worker.events.StreamEvent`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from abc import abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

from llm_worker.errors import (
    ConfigError,
    ProviderError,
    ProviderProtocolError,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_worker.events import ChatRequest, StreamEvent, ToolCall
from llm_worker.providers.base import LLMProvider
from llm_worker.tools import parse_arguments


@functools.cache
def installed(package: str) -> ModuleType | None:
    """The module ``package``, imported; None when it is not installed."""
    try:
        return importlib.import_module(package)
    except ImportError:
        return None


@dataclass(frozen=True)
class VendorSDK:
    """A vendor's SDK as its provider uses it; the provider is named after it."""

    package: str  # the SDK's module and PyPI package, e.g. "anthropic"
    version: str  # the version pyproject.toml pins, for the install hint
    client_class: str  # the SDK's async client, e.g. "AsyncAnthropic"
    default_model: str
    unit: str  # what one item of the vendor's stream is, in protocol errors
    key_variable: str = ""  # the variable of the API key, when one is required
    endpoint: str = "the API"  # what "cannot reach ..." names

    @property
    def module(self) -> ModuleType | None:
        """The imported SDK; None when it is not installed."""
        return installed(self.package)


class SDKProvider(LLMProvider):
    """Base of the providers that stream through a vendor SDK with the same error classes
    (``APIError``, ``APITimeoutError``, ``APIConnectionError``, ``APIStatusError``) and an
    async client that takes ``api_key``, ``base_url``, ``max_retries`` and ``timeout``."""

    vendor: ClassVar[VendorSDK]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.vendor.package

    def __init__(
        self, *, api_key: str = "", model: str = "", base_url: str | None = None, **kwargs: Any
    ) -> None:
        v = self.vendor
        module = v.module
        if module is None:
            raise ConfigError(
                f"the {self.name} provider needs the {self.name} SDK:"
                f" pip install '{v.package}=={v.version}'"
            )
        if v.key_variable and not api_key:
            raise ConfigError(f"the {self.name} provider needs {v.key_variable}")
        super().__init__(model=model or v.default_model, **kwargs)
        self.sdk = module
        t = self.timeouts
        self._client = getattr(self.sdk, v.client_class)(
            # A server that needs no key (Ollama, vLLM) ignores it, but the SDK insists on one.
            api_key=api_key or "not-needed",
            base_url=base_url or None,
            max_retries=0,  # the base class retries, and only before the first event
            timeout=self.sdk.Timeout(t.first_event_s, connect=t.connect_s, read=t.idle_s),
        )

    async def aclose(self) -> None:
        await self._client.close()

    @abstractmethod
    async def _send(self, request: ChatRequest) -> Any:
        """Sends the streaming request; returns the SDK's stream (raises the SDK's errors)."""

    @abstractmethod
    def _events(self, stream: Any) -> AsyncGenerator[StreamEvent, None]:
        """The stream's events as StreamEvents, ``Done`` last; raises ProviderProtocolError
        where the stream breaks the vendor's protocol."""

    async def _stream(self, request: ChatRequest) -> AsyncGenerator[StreamEvent, None]:
        try:
            stream = await self._send(request)
        except self.sdk.APIError as e:
            raise self._map(e) from e
        async with self._reading(stream):
            async for event in self._events(stream):
                yield event

    @contextlib.asynccontextmanager
    async def _reading(self, stream: Any) -> AsyncIterator[None]:
        """Maps the errors raised while reading ``stream`` and closes it, however the
        reading ends."""
        try:
            yield
        except ProviderError:
            raise
        except self.sdk.APIError as e:
            raise self._map(e) from e
        except (ValueError, TypeError, AttributeError, KeyError) as e:
            # json.JSONDecodeError is a ValueError; pydantic's errors too.
            raise ProviderProtocolError(
                f"malformed {self.vendor.unit}: {e}", provider=self.name
            ) from e
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
        if isinstance(e, self.sdk.APITimeoutError):
            return ProviderTimeout(f"request timed out: {e}", provider=self.name)
        if isinstance(e, self.sdk.APIConnectionError):
            return ProviderUnavailable(
                f"cannot reach {self.vendor.endpoint}: {e}", provider=self.name
            )
        return self._map_api_error(e)

    def _map_api_error(self, e: Exception) -> ProviderError:
        """The vendor's own part of :meth:`_map`: status errors and errors in the stream."""
        return ProviderError(f"API error: {e}", provider=self.name)
