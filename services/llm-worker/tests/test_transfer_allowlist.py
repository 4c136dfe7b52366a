"""AGENT_TRANSFER_ALLOWLIST: the agent transfers only where the operator allows, whatever the
model asks and whatever the facts' menu says (Asterisk checks the same list again:
tests/integration/agent/test_edge_via_asterisk.py). Real Redis, the scripted fake engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from asp import CallAction, CallDtmf, Message, ResponseText, Transcript
from llm_worker.errors import ConfigError
from llm_worker.events import Done, TextDelta, ToolCall
from llm_worker.facts_store import FactsSettings, FactsStore
from llm_worker.persona import load_persona
from llm_worker.testing.fake_provider import FakeProvider
from llm_worker.testing.session_log import final_texts, greeted_session
from llm_worker.transfers import parse_allowlist
from llm_worker.worker import LLMWorker
from pipeline import Bus
from pipeline.testing import refused_settings
from pipeline.testing import running as running_worker

PERSONA = load_persona()

# An operator's facts that (wrongly) list the conference room and an extension outside
# 1001-1005 as departments.
FACTS = """
[empresa]
nome = "Teste"

[[menu]]
setor = "suporte"
ramal = "1002"
tecla = "1"

[[menu]]
setor = "reunião"
ramal = "8000"
tecla = "5"

[[menu]]
setor = "diretoria"
ramal = "1099"
tecla = "9"
"""


@pytest.mark.parametrize(
    ("raw", "targets"),
    [
        ("", {"1001", "1002", "1003", "1004", "1005"}),
        ("1002", {"1002"}),
        (" 1001-1003 , 2000,*43 ", {"1001", "1002", "1003", "2000", "*43"}),
        ("0098-0101", {"0098", "0099", "0100", "0101"}),
    ],
)
def test_parse_allowlist(raw: str, targets: set[str]) -> None:
    assert parse_allowlist(raw) == targets


def _allowlist_settings(raw: str) -> FactsSettings:
    return FactsSettings.from_env({"AGENT_TRANSFER_ALLOWLIST": raw})


test_malformed_allowlist_is_a_clear_error = refused_settings(
    _allowlist_settings,
    ConfigError,
    [
        ("1005-1001", "must go up"),
        ("999-1001", "same length"),
        ("10000-99999", "too large"),
        ("1001;1002", "not a dial target"),
        ("sip:1001@x", "not a dial target"),
    ],
)


def test_the_menu_is_cut_to_the_allowlist(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "fatos.toml"
    path.write_text(FACTS, "utf-8")
    store = FactsStore(path, reload_s=0)
    assert store.facts.extensions == ("1002",)
    assert "'reunião' (extension 8000) dropped" in caplog.text
    assert "'diretoria' (extension 1099) dropped" in caplog.text
    opened = FactsStore(path, reload_s=0, transfer_allowlist=parse_allowlist("1001-1005,1099"))
    assert opened.facts.extensions == ("1002", "1099")


@pytest.fixture
async def running(bus: Bus, tmp_path: Path) -> AsyncIterator[tuple[LLMWorker, FakeProvider]]:
    path = tmp_path / "fatos.toml"
    path.write_text(FACTS, "utf-8")
    provider = FakeProvider(delay_s=0.01)
    worker = LLMWorker(bus, "llm-a", provider, PERSONA, facts=FactsStore(path, reload_s=0))
    async with running_worker(worker):
        yield worker, provider


def transfers(log: list[Message]) -> list[str | None]:
    return [m.target for m in log if isinstance(m, CallAction)]


@pytest.mark.parametrize("target", ["8000", "1099", "1009", "0800123456"])
async def test_the_model_cannot_transfer_outside_the_allowlist(
    bus: Bus, running: tuple[LLMWorker, FakeProvider], target: str
) -> None:
    _, provider = running
    sid = await greeted_session(bus)
    provider.push(
        [
            TextDelta("Claro!"),
            ToolCall("transfer_call", {"extension": target}),
            Done("tool_use"),
        ]
    )
    await bus.publish(
        Transcript(
            session_id=sid, utterance_id="u1", text="Me transfere.", language="pt", confidence=0.9
        )
    )
    log = await final_texts(bus, sid, "r-u1")
    assert transfers(log) == []
    (request,) = provider.requests
    assert request.transfer_targets == ("1002",)  # the tool's enum never had it
    # the control: an allowed menu target does go through, on the same worker
    provider.push([ToolCall("transfer_call", {"extension": "1002"}), Done("tool_use")])
    await bus.publish(
        Transcript(
            session_id=sid, utterance_id="u2", text="Suporte então.", language="pt", confidence=0.9
        )
    )
    log = await final_texts(bus, sid, "r-u2")
    assert transfers(log) == ["1002"]


async def test_a_key_for_a_dropped_department_does_not_transfer(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    sid = await greeted_session(bus)
    await bus.publish(CallDtmf(session_id=sid, digit="5"))
    async with asyncio.timeout(20):
        while not any(
            isinstance(m, ResponseText) and m.is_final and m.response_id.startswith("dtmf-")
            for m in await bus.session_log(sid)
        ):
            await asyncio.sleep(0.01)
    log = await bus.session_log(sid)
    assert transfers(log) == []
    texts = [
        m.text for m in log if isinstance(m, ResponseText) and m.response_id.startswith("dtmf")
    ]
    assert "A tecla 5 não está no menu." in texts


async def test_the_last_check_refuses_whatever_asks(
    bus: Bus, running: tuple[LLMWorker, FakeProvider]
) -> None:
    """The publishing step itself checks the list (a held action of a provisional turn, a
    reload race): nothing outside it reaches the session stream."""
    worker, _ = running
    sid = await greeted_session(bus)
    await worker._act(sid, "transfer", "8000", None)
    await worker._act(sid, "transfer", "1002", None)
    async with asyncio.timeout(10):
        while not transfers(await bus.session_log(sid)):
            await asyncio.sleep(0.01)
    assert transfers(await bus.session_log(sid)) == ["1002"]
