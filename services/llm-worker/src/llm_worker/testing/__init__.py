"""Fakes for tests and benchmarks, shipped with the package.

* :class:`FakeAnthropicServer`: an HTTP server on 127.0.0.1 that speaks the Anthropic
  Messages streaming API (server-sent events), for the real ``anthropic`` SDK;
* :class:`FakeOpenAIServer`: the same for OpenAI ``chat.completions`` streaming;
* :class:`FakeProvider`: an in-process provider that replays scripted events instantly;
* :class:`FakeEngineProvider`: the local provider's real generation thread (gate, cancel)
  over scripted tokens at a fixed pace, no model.

The servers are scripted with the step types of :mod:`llm_worker.testing.script`: each
request takes the next script in the queue (or the default one when the queue is empty).
"""

from llm_worker.testing.fake_anthropic import FakeAnthropicServer
from llm_worker.testing.fake_engine import FakeEngineProvider
from llm_worker.testing.fake_openai import FakeOpenAIServer
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.testing.script import Fail, Hang, Raw, Script, Text, ToolUse, Truncated

__all__ = [
    "Fail",
    "FakeAnthropicServer",
    "FakeEngineProvider",
    "FakeOpenAIServer",
    "FakeProvider",
    "Hang",
    "Raw",
    "Script",
    "Text",
    "ToolUse",
    "Truncated",
]
