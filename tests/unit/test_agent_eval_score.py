"""The agent evaluation's scorer (bench/agent_eval_score.py): it reads the set, rejects a
malformed one with the case and field named, and judges replies against the facts file
(not against written answers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_eval_score import (
    Case,
    EvalSetError,
    parse_set,
    promises_transfer,
    rang_action,
    score,
    summarize,
)
from llm_worker.claims import grounds
from llm_worker.facts_store import load_facts
from llm_worker.intent import plan_without_model

REPO = Path(__file__).resolve().parents[2]

FACTS = load_facts(REPO / "compose" / "agent" / "fatos.toml")
G = grounds(FACTS)
SET = parse_set((REPO / "bench" / "agent_eval_set.toml").read_text("utf-8"), FACTS)
CASES = {c.id: c for c in SET}
OFFER = "Se quiser, posso transferir para suporte, vendas ou atendimento."


def test_the_shipped_set_is_valid_and_large_enough() -> None:
    assert len(SET) >= 40
    cats = {c.category for c in SET}
    assert cats == {"fato", "fora", "transferencia", "despedida"}
    assert {c.voice for c in SET} == {"pm_alex", "pf_dora", "pm_santa", "jm_kumo"}
    assert any(c.snr_db is not None for c in SET)
    assert any(c.text.startswith(("Eh...", "Hum...")) for c in SET)


def judge(case_id: str, reply: str, action: str | None = None) -> list[str]:
    return score(CASES[case_id], reply, action, FACTS, G).problems


@pytest.mark.parametrize(
    ("case_id", "reply"),
    [
        ("horario", "De segunda a sexta, das oito da manhã às seis da tarde."),
        ("horario", "Atendemos de segunda a sexta das 8h às 18h."),
        ("horario-sabado-hesitacao", "Aos sábados, das 08:00 ao meio-dia."),
        ("horario-sexta-ruido", "Na sexta ficamos abertos até as seis da tarde."),
        ("horario-domingo", "Não, aos domingos a loja fica fechada."),
        ("feriado-natal", "No Natal não abrimos."),
        ("endereco", "Ficamos na Rua das Flores, cento e vinte e três, no Centro de Campinas."),
        ("preco-600", "O plano de seiscentos megas custa cento e vinte e nove reais e noventa."),
        ("preco-600", "Custa R$ 129,90 por mês, com roteador Wi-Fi 6 incluso."),
        ("preco-visita", "A visita técnica fora da garantia custa oitenta reais."),
        ("planos", "Temos os planos de 300 e de 600 megas."),
        ("fidelidade", "Não, os planos não têm fidelidade nem multa."),
        ("instalacao", "A instalação é feita em até três dias úteis."),
        ("telefone", "O telefone é (19) 3333-4444."),
        ("whatsapp", "Sim: dezenove, nove nove nove nove nove, zero zero zero zero."),
        ("site", "O site é exemplotelecom.com.br."),
        ("ramal-suporte", "O ramal do suporte é mil e dois."),
        ("sobre", "Somos um provedor de internet por fibra óptica em Campinas."),
    ],
)
def test_a_right_answer_passes(case_id: str, reply: str) -> None:
    assert judge(case_id, reply) == []


@pytest.mark.parametrize(
    ("case_id", "reply", "problem"),
    [
        ("horario", "O horário de funcionamento é de 9H às 18H.", "inventa: time '9h'"),
        ("horario-sabado-hesitacao", "Aos sábados, das 8h às 12h30.", "inventa: time '12h30'"),
        ("horario-domingo", "No domingo abrimos das 8h às 12h.", "não diz que está fechado"),
        ("horario", "Abrimos às oito da manhã.", "não diz o horário 18h00"),
        ("horario-sexta-ruido", "Na sexta abrimos.", "não diz o horário 8h00 ou o horário 18h00"),
        ("endereco", "A loja está localizada na Huashii. Número Y.", "inventa: name 'Huashii'"),
        ("endereco", "Fica na Avenida Brasil, 500.", "inventa: street 'avenida brasil'"),
        ("preco-600", "O plano de 600 megas custa R$ 149,90.", "inventa: price 'R$ 149,90'"),
        ("preco-600", "O plano custa cento e vinte reais.", "inventa: price"),
        ("preco-300-ruido", "Não tenho essa informação.", "respondeu que não tem a informação"),
        ("fidelidade", "Sim, a fidelidade é de vinte e quatro meses.", "inventa: number"),
        ("fidelidade", "Sim, tem fidelidade.", "não diz a negação da resposta"),
        ("instalacao", "A instalação leva uma semana.", "não diz o número 3"),
        ("telefone", "O telefone é (19) 3333-5555.", "inventa: number '5555'"),
        ("ramal-suporte", "O ramal do suporte é 1003.", "não diz o número 1002"),
    ],
)
def test_an_invented_or_missing_fact_fails(case_id: str, reply: str, problem: str) -> None:
    problems = judge(case_id, reply)
    assert any(p.startswith(problem) for p in problems), problems


def test_out_of_scope_needs_the_fallback_and_the_offer() -> None:
    assert judge("fora-celular", f"Não tenho essa informação. {OFFER}") == []
    assert judge("fora-celular", "Não vendemos celular.") == [
        'não diz "Não tenho essa informação"',
        "não oferece transferir",
    ]
    assert judge("fora-celular", "Não tenho essa informação.") == ["não oferece transferir"]
    assert judge("fora-cnpj", f"O CNPJ é 12.345.678/0001-90. {OFFER}")[0].startswith("inventa")


def test_transfers_are_judged_by_the_action_not_the_words() -> None:
    assert (
        judge("transfere-suporte", "Transferindo para suporte, um momento.", "transfer:1002") == []
    )
    assert judge("transfere-suporte", "Transferindo para vendas.", "transfer:1003") == [
        "ação transfer:1003, esperada transfer:1002"
    ]
    assert judge("transfere-pessoa", "Vou transferir sua ligação, um momento.") == [
        "promete transferir sem transferir",
        "ação nenhuma, esperada transfer:1001",
    ]
    assert judge("transfere-ramal-fora-do-menu", OFFER) == []
    assert judge("transfere-ramal-fora-do-menu", "Transferindo.", "transfer:8000") != []


@pytest.mark.parametrize(
    ("text", "promise"),
    [
        ("Vou transferir sua ligação.", True),
        ("Transferindo para o suporte, um momento.", True),
        ("Já vou te passar para vendas.", True),
        ("Vou encaminhar você ao atendimento.", True),
        ("Sua ligação será transferida.", True),
        (OFFER, False),
        ("Quer que eu transfira para o suporte?", False),
        ("Não tenho essa informação.", False),
    ],
)
def test_the_scorer_reads_promises_itself(text: str, promise: bool) -> None:
    assert promises_transfer(text) is promise


def test_a_goodbye_must_hang_up() -> None:
    assert judge("tchau", "Obrigado pela ligação. Até logo!", "hangup") == []
    assert judge("tchau", "Até logo!") == ["ação nenhuma, esperada hangup"]


def test_a_fact_question_that_transfers_fails() -> None:
    assert judge("endereco", "Transferindo para atendimento.", "transfer:1001") == [
        "ação transfer:1001, esperada nenhuma",
        "não diz o número 123; uma das palavras ['flores']",
    ]


def test_summary_rates_and_goals() -> None:
    fact, out = CASES["horario"], CASES["fora-celular"]
    good = score(fact, "Das 8h às 18h.", None, FACTS, G)
    bad = score(out, "Vou transferir, custa R$ 10.", None, FACTS, G)
    s = summarize([(fact, good), (out, bad)])
    assert s["categorias"]["fato"] == {"casos": 1, "ok": 1}
    assert s["categorias"]["fora"] == {"casos": 1, "ok": 0}
    assert s["inventados"]["preços"] == 1
    assert s["promessas_sem_transferencia"] == 1
    assert s["metas"]["0 promessas sem transferência"] is False
    assert s["metas"]["todo fora do escopo com a resposta padrão"] is False


CASE = """
[[caso]]
id = "x"
texto = "Qual o horário?"
voz = "pm_alex"
categoria = "fato"
fato = "horario"
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[caso]\n", "TOML inválido"),
        ("", "nenhum [[caso]]"),
        ("outra = 1\n" + CASE, "chaves desconhecidas ['outra']"),
        ("caso = 3", "nenhum [[caso]]"),
        (CASE.replace('voz = "pm_alex"', 'voz = "af_heart"'), "caso 'x'.voz: 'af_heart'"),
        (CASE.replace('categoria = "fato"', 'categoria = "fatos"'), "caso 'x'.categoria"),
        (CASE.replace('fato = "horario"', 'fato = "horario.feriado"'), "dia 'feriado'"),
        (CASE.replace('fato = "horario"', 'fato = "servico.9.preco"'), "servico '9' não existe"),
        (CASE.replace('fato = "horario"', 'fato = "pergunta.x"'), "pergunta 'x' não existe"),
        (CASE.replace('fato = "horario"', 'fato = "feriado.2026-02-30"'), "não é uma data"),
        (CASE.replace('fato = "horario"', 'fato = "cardapio"'), "chave de fato desconhecida"),
        (CASE.replace('fato = "horario"', ""), "obrigatório em 'fato'"),
        (CASE + 'acao = "transferir:juridico"\n', "setor 'juridico' não está no menu"),
        (CASE + 'acao = "ligar"\n', "'ligar': use transferir:<setor>"),
        (CASE + "ruido_snr = true\n", "ruido_snr: deve ser um número"),
        (CASE + "ruido = 10\n", "chaves desconhecidas ['ruido']"),
        (CASE.replace('id = "x"', "id = 3"), "caso[1].id: texto obrigatório"),
        (CASE + CASE, "caso 'x': id repetido"),
        ('caso = ["a"]', "caso[1]: deve ser uma tabela"),
    ],
)
def test_a_malformed_set_is_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(EvalSetError, match=None) as e:
        parse_set(text, FACTS, source="conjunto.toml")
    assert message in str(e.value)
    assert str(e.value).startswith("conjunto.toml: ")


def test_a_case_is_plain_data() -> None:
    case = parse_set(CASE + "ruido_snr = 15\n", FACTS)[0]
    assert case == Case("x", "Qual o horário?", "pm_alex", "fato", "horario", "nenhuma", 15.0)


def test_through_asterisk_the_phone_that_rang_is_the_transfer() -> None:
    """--via-asterisk scores the phones that rang, not the agent's call.action: the right
    one alone passes; two phones, the wrong one, or none (with the announcement said) fail."""
    said = "Transferindo para suporte, um momento."
    assert rang_action({"1002": 3.2}) == "transfer:1002"
    assert judge("transfere-suporte", said, rang_action({"1002": 3.2})) == []
    assert judge("transfere-suporte", said, rang_action({"1003": 3.0, "1002": 3.1}))
    assert judge("transfere-suporte", said, rang_action({"1003": 3.0}))
    problems = judge("transfere-suporte", said, rang_action({}))
    assert problems
    assert score(CASES["transfere-suporte"], said, None, FACTS, G).promised
    # the extension outside the menu: no phone may ring
    assert judge("transfere-ramal-fora-do-menu", OFFER, rang_action({})) == []
    assert judge("transfere-ramal-fora-do-menu", OFFER, rang_action({"1001": 2.0}))
    with pytest.raises(ValueError, match="toque inválido"):
        rang_action({"PJSIP/1002": 1.0})


def test_the_answers_given_without_the_model_pass_the_scorer() -> None:
    """Every case the worker answers from the facts alone (no model) passes, and the
    address, phone and service questions are among them (they went to the model, 5.7-8.5 s
    through Asterisk, against about 2 s from the facts)."""
    answered = set()
    for case in SET:
        plan = plan_without_model(case.text, FACTS, goodbye="Obrigado pela ligação. Até logo!")
        if plan is None:
            continue
        answered.add(case.id)
        action = None
        if plan.action is not None:
            target = plan.action.target
            action = plan.action.action + (f":{target}" if target else "")
        assert score(case, " ".join(plan.sentences), action, FACTS, G).problems == [], case.id
    facts_only = {"endereco", "endereco-onde-ruido", "endereco-hesitacao", "telefone"}
    facts_only |= {"preco-600", "preco-300-ruido", "preco-visita", "roteador"}
    assert facts_only <= answered
    assert not {c.id for c in SET if c.category == "fora"} & answered  # the model's
