"""The operator's facts file: parsing, every validation error naming its field, the
deterministic prompt block, and reload (file change, SIGHUP) keeping the old facts when
the new file is bad."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
from pathlib import Path

import pytest
from llm_worker.errors import ConfigError, FactsError
from llm_worker.facts import (
    Interval,
    parse_facts,
    render_facts,
    render_hours,
    render_today,
    system_prompt,
)
from llm_worker.facts_store import FactsSettings, FactsStore, load_facts

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "compose" / "agent" / "fatos.toml"
K8S_COPY = ROOT / "k8s" / "base" / "config" / "fatos.toml"

MINIMAL = '[empresa]\nnome = "Padaria Pão Quente"\n'
MENU = """
[empresa]
nome = "ACME"

[[menu]]
setor = "suporte"
ramal = "1002"
tecla = "1"

[[menu]]
setor = "vendas"
ramal = "1003"
"""


def test_the_shipped_example_is_valid_and_complete() -> None:
    f = load_facts(EXAMPLE)
    assert f.company == "Exemplo Telecom"
    assert "Campinas" in f.address
    assert [(e.department, e.extension, e.digit) for e in f.menu] == [
        ("suporte", "1002", "1"),
        ("vendas", "1003", "2"),
        ("atendimento", "1001", "0"),
    ]
    assert dict(f.hours)["sabado"] == (Interval("08:00", "12:00"),)
    assert dict(f.hours)["domingo"] == ()
    assert f.holidays[0].date == dt.date(2026, 12, 25)
    assert f.holidays[0].hours == ()
    assert [s.price for s in f.services][-1] == "R$ 80,00"  # a number becomes reais
    assert f.faq
    assert f.services
    assert f.extensions == ("1002", "1003", "1001")


def test_the_k8s_configmap_ships_the_same_example() -> None:
    assert K8S_COPY.read_text("utf-8") == EXAMPLE.read_text("utf-8")


def test_the_packaged_default_has_a_menu_and_no_invented_facts() -> None:
    f = load_facts(None)
    assert f.extensions == ("1002", "1003", "1001")
    assert not (f.address)
    assert not (f.hours)
    assert not (f.services)
    assert not (f.faq)
    assert not (f.holidays)


def test_keys_may_carry_accents() -> None:
    f = parse_facts(
        '[empresa]\nnome = "x"\n"endereço" = "Rua A, 1"\n[["serviço"]]\n'
        'nome = "b"\n"preço" = "R$ 1,00"\n"descrição" = "c"'
    )
    assert f.address == "Rua A, 1"
    assert f.services[0].price == "R$ 1,00"


def test_minimal_file_needs_only_the_company_name() -> None:
    f = parse_facts(MINIMAL)
    assert f.company == "Padaria Pão Quente"
    assert f.menu == ()
    assert f.extensions == ()
    assert "Não há setores" in render_facts(f)


def test_weekday_keys_accept_accents_and_feira() -> None:
    f = parse_facts(
        MINIMAL
        + '[horario]\n"segunda-feira" = "08:00-12:00, 13:00-18:00"\n"sábado" = "9:00-13:00"\n'
    )
    assert f.hours == (
        ("segunda", (Interval("08:00", "12:00"), Interval("13:00", "18:00"))),
        ("sabado", (Interval("09:00", "13:00"),)),
    )
    assert render_hours(f) == "segunda, das 8h às 12h e das 13h às 18h; sábado, das 9h às 13h"


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("[empresa\nnome = 1", "", "TOML inválido"),
        ('nome = "x"', "arquivo", "chave desconhecida 'nome'"),
        ("[horario]\nsegunda = 'fechado'", "empresa", "obrigatória"),
        ("[empresa]\nnome = 3", "empresa.nome", "deve ser texto"),
        ('[empresa]\nnome = "  "', "empresa.nome", "não pode ser vazio"),
        ('[empresa]\nnome = "x"\nenderco = "y"', "empresa", "chave desconhecida 'enderco'"),
        (
            '[empresa]\nnome = "x"\n"endereço" = "y"\nendereco = "z"',
            "empresa.endereco",
            "chave repetida",
        ),
        (MINIMAL + '[horario]\nsegundas = "08:00-18:00"', "horario.segundas", "dia desconhecido"),
        (MINIMAL + '[horario]\nsegunda = "8h às 18h"', "horario.segunda", "não é um horário"),
        (MINIMAL + '[horario]\nsegunda = "18:00-08:00"', "horario.segunda", "depois do início"),
        (
            MINIMAL + '[horario]\nsegunda = "08:00-12:00, 11:00-13:00"',
            "horario.segunda",
            "antes do fim",
        ),
        (MINIMAL + "[horario]\nsegunda = 8", "horario.segunda", "deve ser texto"),
        (
            MINIMAL + '[horario]\nsegunda = "fechado"\n"segunda-feira" = "fechado"',
            "horario.segunda-feira",
            "dia repetido",
        ),
        ("horario = 3\n" + MINIMAL, "horario", "deve ser uma tabela"),
        (
            MINIMAL + '[[feriado]]\ndata = "25/12"\nnome = "Natal"',
            "feriado[1].data",
            "não é uma data",
        ),
        (MINIMAL + '[[feriado]]\nnome = "Natal"', "feriado[1].data", "deve ser uma data"),
        (MINIMAL + "[[feriado]]\ndata = 2026-12-25", "feriado[1].nome", "obrigatório"),
        (
            MINIMAL + '[[feriado]]\ndata = 2026-12-25\nnome = "a"\n[[feriado]]\ndata = 2026-12-25\n'
            'nome = "b"',
            "feriado[2].data",
            "repetida",
        ),
        (MINIMAL + '[menu]\nsetor = "x"', "menu", "lista de tabelas"),
        (MINIMAL + '[[menu]]\nramal = "1002"', "menu[1].setor", "obrigatório"),
        (MINIMAL + '[[menu]]\nsetor = "suporte"', "menu[1].ramal", "obrigatório"),
        (MINIMAL + '[[menu]]\nsetor = "suporte"\nramal = "10O2"', "menu[1].ramal", "só dígitos"),
        (MINIMAL + '[[menu]]\nsetor = "suporte"\nramal = "*99#"', "menu[1].ramal", "só dígitos"),
        (MINIMAL + '[[menu]]\nsetor = "suporte"\nramal = 1002', "menu[1].ramal", "entre aspas"),
        (
            MINIMAL + '[[menu]]\nsetor = "suporte"\nramal = "1002"\ntecla = "12"',
            "menu[1].tecla",
            "não é uma tecla",
        ),
        (
            MINIMAL + '[[menu]]\nsetor = "a"\nramal = "1002"\ntecla = "1"\n'
            '[[menu]]\nsetor = "b"\nramal = "1003"\ntecla = 1',
            "menu[2].tecla",
            "tecla '1' repetida (já é do setor 'a')",
        ),
        (
            MINIMAL + '[[menu]]\nsetor = "Suporte"\nramal = "1002"\n[[menu]]\nsetor = "suporte"\n'
            'ramal = "1003"',
            "menu[2].setor",
            "repetido",
        ),
        (
            MINIMAL + '[[menu]]\nsetor = "a"\nramal = "1002"\npalavras = "b"',
            "menu[1].palavras",
            "lista de textos",
        ),
        (
            MINIMAL + '[[menu]]\nsetor = "a"\nramal = "1002"\nrmal = "1"',
            "menu[1]",
            "chave desconhecida 'rmal'",
        ),
        (MINIMAL + "[[servico]]\npreco = 10", "servico[1].nome", "obrigatório"),
        (MINIMAL + '[[servico]]\nnome = "a"\npreco = true', "servico[1].preco", "deve ser texto"),
        (MINIMAL + '[[servico]]\nnome = "a"\npreco = -1', "servico[1].preco", "negativo"),
        (
            MINIMAL + '[[pergunta]]\npergunta = "Tem estacionamento?"',
            "pergunta[1].resposta",
            "obrigatório",
        ),
    ],
)
def test_each_invalid_field_is_named(text: str, where: str, problem: str) -> None:
    with pytest.raises(FactsError) as e:
        parse_facts(text, source="fatos.toml")
    message = str(e.value)
    assert message.startswith("fatos.toml: ")
    assert f": {where}: " in message or not where
    assert problem in message


def test_rendering_is_deterministic_and_holds_every_fact() -> None:
    a = render_facts(load_facts(EXAMPLE))
    b = render_facts(parse_facts(EXAMPLE.read_text("utf-8")))
    assert a == b
    for fact in (
        "Exemplo Telecom",
        "Rua das Flores, 123",
        "segunda a sexta, das 8h às 18h; sábado, das 8h às 12h; domingo, fechado",
        "25/12/2026 (Natal), fechado",
        "suporte (ramal 1002, tecla 1)",
        "Plano 300 megas: R$ 99,90 por mês",
        'Pergunta: "Tem fidelidade?" Resposta: "Não, os planos',
        "Não tenho essa informação.",
    ):
        assert fact in a, fact
    prompt = system_prompt("Você é a recepcionista.\n", load_facts(EXAMPLE))
    assert prompt.startswith("Você é a recepcionista.\n\nFATOS DA EMPRESA")


ASKED = "Se perguntarem se abrimos hoje:"


@pytest.mark.parametrize(
    ("day", "line"),
    [
        (
            dt.date(2026, 12, 7),
            f'Hoje é segunda-feira, 7 de dezembro de 2026. {ASKED} "Sim, hoje abrimos das 8h às '
            '18h."',
        ),
        (
            dt.date(2026, 12, 12),
            f'Hoje é sábado, 12 de dezembro de 2026. {ASKED} "Sim, hoje abrimos das 8h às 12h."',
        ),
        (
            dt.date(2026, 12, 13),
            f'Hoje é domingo, 13 de dezembro de 2026. {ASKED} "Não, hoje estamos fechados."',
        ),
        # a holiday's hours win over its weekday's (a Friday)
        (
            dt.date(2026, 12, 25),
            f"Hoje é sexta-feira, 25 de dezembro de 2026, feriado (Natal). {ASKED} "
            '"Não, hoje é feriado (Natal) e estamos fechados."',
        ),
        (
            dt.date(2026, 12, 31),
            "Hoje é quinta-feira, 31 de dezembro de 2026, feriado (véspera de Ano-Novo). "
            f'{ASKED} "Sim, hoje abrimos das 8h às 12h."',
        ),
        (
            dt.date(2027, 3, 1),
            f'Hoje é segunda-feira, 1º de março de 2027. {ASKED} "Sim, hoje abrimos das 8h às '
            '18h."',
        ),
    ],
)
def test_todays_line_names_the_day_and_answers_if_we_open(day: dt.date, line: str) -> None:
    assert render_today(load_facts(EXAMPLE), day) == line


def test_todays_line_says_no_hours_the_file_does_not_have() -> None:
    day = dt.date(2026, 12, 9)
    assert render_today(parse_facts(MINIMAL), day) == "Hoje é quarta-feira, 9 de dezembro de 2026."
    only_monday = parse_facts(MINIMAL + '[horario]\nsegunda = "09:00-17:00, 18:00-20:00"\n')
    assert render_today(only_monday, day) == "Hoje é quarta-feira, 9 de dezembro de 2026."
    assert render_today(only_monday, dt.date(2026, 12, 7)).endswith(
        '"Sim, hoje abrimos das 9h às 17h e das 18h às 20h."'
    )


def test_the_date_line_ends_the_prompt_after_the_shared_prefix() -> None:
    facts = load_facts(EXAMPLE)
    base = system_prompt("P", facts)
    day = dt.date(2026, 12, 7)
    assert system_prompt("P", facts, day) == f"{base}\n\n{render_today(facts, day)}"
    store = FactsStore(EXAMPLE, reload_s=0)
    assert store.system_prompt("P", day) == system_prompt("P", facts, day)
    assert store.system_prompt("P") == base


# --- reload ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, text: str, bump_s: int) -> None:
    path.write_text(text, "utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump_s * 1_000_000_000))


def test_a_changed_file_is_reloaded_after_the_check_interval(tmp_path: Path) -> None:
    path = tmp_path / "fatos.toml"
    write(path, MENU, 0)
    clock = Clock()
    store = FactsStore(path, reload_s=5, clock=clock)
    prompt_v1 = store.system_prompt("P")
    assert store.current().extensions == ("1002", "1003")
    write(path, MENU.replace('"1003"', '"1004"'), 10)
    clock.now = 4.0
    assert store.current().extensions == ("1002", "1003")  # not checked yet
    assert store.system_prompt("P") == prompt_v1
    clock.now = 5.0
    assert store.current().extensions == ("1002", "1004")
    assert store.version == 2
    assert "ramal 1004" in store.system_prompt("P")


def test_a_bad_file_on_reload_keeps_the_previous_facts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "fatos.toml"
    write(path, MENU, 0)
    clock = Clock()
    store = FactsStore(path, reload_s=1, clock=clock)
    write(path, MENU.replace('"1003"', '"10x3"'), 10)
    clock.now = 1.0
    assert store.current().extensions == ("1002", "1003")
    assert store.version == 1
    assert store.last_error is not None
    assert "menu[2].ramal" in store.last_error
    assert "keeping the previous ones" in caplog.text
    path.unlink()  # a missing file too
    clock.now = 2.0
    assert store.current().extensions == ("1002", "1003")
    assert "não consigo ler" in (store.last_error or "")
    write(path, MENU.replace('"1003"', '"1005"'), 20)  # fixed: taken at the next check
    clock.now = 3.0
    assert store.current().extensions == ("1002", "1005")
    assert store.last_error is None


def test_without_a_check_interval_only_a_request_reloads(tmp_path: Path) -> None:
    path = tmp_path / "fatos.toml"
    write(path, MENU, 0)
    clock = Clock()
    store = FactsStore(path, reload_s=0, clock=clock)
    write(path, MINIMAL, 10)
    clock.now = 1000.0
    assert store.current().menu != ()
    store.request_reload()
    assert store.current().menu == ()


async def test_sighup_reloads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "fatos.toml"
    write(path, MENU, 0)
    store = FactsStore(path, reload_s=0)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, store.request_reload)
    try:
        path.write_text(MINIMAL, "utf-8")
        os.kill(os.getpid(), signal.SIGHUP)
        await asyncio.sleep(0.05)
        assert store.current().menu == ()
    finally:
        loop.remove_signal_handler(signal.SIGHUP)


def test_a_bad_file_at_start_up_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "fatos.toml"
    path.write_text(MENU.replace('tecla = "1"', 'tecla = "x"'), "utf-8")
    with pytest.raises(FactsError, match=r"menu\[1\]\.tecla"):
        FactsStore(path)
    with pytest.raises(FactsError, match="não consigo ler"):
        FactsStore(tmp_path / "missing.toml")


def test_settings_from_env() -> None:
    assert FactsSettings.from_env({}) == FactsSettings(path="", reload_s=5.0)
    s = FactsSettings.from_env({"LLM_FACTS_PATH": "/etc/f.toml", "LLM_FACTS_RELOAD_S": "0"})
    assert (s.path, s.reload_s) == ("/etc/f.toml", 0.0)
    with pytest.raises(ConfigError, match="LLM_FACTS_RELOAD_S"):
        FactsSettings.from_env({"LLM_FACTS_RELOAD_S": "-1"})
