"""Unit tests of the Asterisk config renderer and the prompt texts (no Asterisk needed)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
CONFIG = SCRIPTS.parent / "compose" / "asterisk" / "config"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


render = _load("asterisk_render")
prompts = _load("asterisk_prompts")


def test_env_file_parsing_skips_comments_blanks_and_junk(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        '# comment\n\nEXT_1001_PASSWORD=abc\nQUOTED="x y"\nnot a pair\n =empty-key\nA=b=c\n'
    )
    values = render.read_env(env)
    assert values["EXT_1001_PASSWORD"] == "abc"  # noqa: S105 - test data
    assert values["QUOTED"] == "x y"
    assert values["A"] == "b=c"
    assert "not a pair" not in values
    assert render.read_env(tmp_path / "missing") == {}


def test_unknown_or_empty_placeholder_is_an_error() -> None:
    with pytest.raises(SystemExit, match="@NOPE@"):
        render.render("password=@NOPE@", {}, "pjsip.conf")
    with pytest.raises(SystemExit, match="@EMPTY@"):
        render.render("password=@EMPTY@", {"EMPTY": ""}, "pjsip.conf")
    assert render.render("a=@X@ b=@X@", {"X": "1"}, "f") == "a=1 b=1"


def test_loopback_profile_is_opt_in() -> None:
    normal = render.computed({"PABX_HOST_IP": "10.1.2.3"})
    assert "127.0.0.1" not in normal["LOOPBACK_WEBRTC"]
    assert "=>" not in normal["ICE_HOST_CANDIDATES"]
    loop = render.computed({"PABX_LOOPBACK": "1", "PABX_HOST_IP": "10.1.2.3"})
    assert "media_address=127.0.0.1" in loop["LOOPBACK_WEBRTC"]
    assert "bind_rtp_to_media_address=yes" in loop["LOOPBACK_WEBRTC"]
    assert loop["ICE_HOST_CANDIDATES"] == "10.1.2.3 => 127.0.0.1"
    assert normal["TZ"] == "America/Sao_Paulo"


PATHS = "SOUNDS_DIR=/s\nKEYS_DIR=/k\n"


def test_every_shipped_config_renders(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    exts = (1001, 1002, 1003, 1004, 1005, 2000)
    env.write_text(PATHS + "".join(f"EXT_{e}_PASSWORD=p{e}\n" for e in exts))
    assert render.main(["x", str(env), str(CONFIG), str(tmp_path / "etc")]) == 0
    pjsip = (tmp_path / "etc" / "pjsip.conf").read_text()
    assert "password=p2000" in pjsip
    assert "@" not in "".join(
        line for line in pjsip.splitlines() if not line.startswith(";") and "<" not in line
    )
    # the seed's templates exist for the "Adicionar novos ramais" recipe
    for template in ("endpoint-base", "webrtc-base", "auth-base", "aor-base"):
        assert f"[{template}](!)" in pjsip
    # ";--" opens a block comment in Asterisk: never in our files
    for conf in CONFIG.iterdir():
        assert ";--" not in conf.read_text(), conf.name


def test_missing_password_stops_rendering(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(PATHS + "EXT_1001_PASSWORD=x\n")
    with pytest.raises(SystemExit, match="EXT_1002_PASSWORD"):
        render.main(["x", str(env), str(CONFIG), str(tmp_path / "etc")])


HOURS = {0: "Zero hora", 1: "Uma hora", 2: "Duas horas", 12: "Doze horas",
         21: "Vinte e uma horas", 22: "Vinte e duas horas", 23: "Vinte e três horas"}  # fmt: skip
MINUTES = {0: "em ponto.", 1: "e um minuto.", 2: "e dois minutos.", 30: "e trinta minutos.",
           42: "e quarenta e dois minutos.", 59: "e cinquenta e nove minutos."}  # fmt: skip


@pytest.mark.parametrize(
    ("unit", "n", "text"),
    [("hour", h, t) for h, t in HOURS.items()] + [("minute", m, t) for m, t in MINUTES.items()],
)
def test_hours_are_feminine_and_minutes_masculine(unit: str, n: int, text: str) -> None:
    spell = prompts.hour_text if unit == "hour" else prompts.minute_text
    assert spell(n) == text


def test_every_prompt_the_dialplan_plays_is_generated() -> None:
    import re

    names = set(prompts.all_prompts())
    dialplan = (CONFIG / "extensions.conf").read_text()
    used = set(re.findall(r"\$\{SONS\}/([a-z0-9-]+)", dialplan))
    fixed = {u for u in used if not u.endswith("-")}
    assert fixed <= names, fixed - names
    assert {f"hora-{h}" for h in range(24)} <= names
    assert {f"minuto-{m}" for m in range(60)} <= names


@pytest.mark.parametrize(
    "raw", ["", "1002", " 1001-1003 , 2000,*43 ", "0098-0101", "8000,1001-1005"]
)
def test_agent_transfer_context_holds_the_llm_worker_allowlist(raw: str) -> None:
    """Asterisk's agent-transfer context and the llm-worker's check read the same setting
    with the same rules (issue 15): the two lists never drift apart."""
    from llm_worker.transfers import parse_allowlist

    rendered = render.agent_transfer_context(raw)
    targets = set(re.findall(r"^exten => ([0-9*#]+),1,Goto\(internal,\1,1\)$", rendered, re.M))
    assert targets == set(parse_allowlist(raw))
    assert len(rendered.splitlines()) == len(targets)


def test_the_default_agent_transfer_context_excludes_the_conference_room() -> None:
    rendered = render.agent_transfer_context("")
    assert "exten => 1002," in rendered
    assert "8000" not in rendered
    conf = (CONFIG / "extensions.conf").read_text()
    assert "[agent-transfer]\n@AGENT_TRANSFER_EXTENSIONS@" in conf
    assert "context=agent-transfer" in (CONFIG / "pjsip.conf").read_text()


@pytest.mark.parametrize("raw", ["1005-1001", "999-1001", "1001;1002", "sip:1001@x", "10000-99999"])
def test_a_malformed_allowlist_stops_the_render(raw: str) -> None:
    with pytest.raises(SystemExit, match="AGENT_TRANSFER_ALLOWLIST"):
        render.agent_transfer_context(raw)


def test_conference_pin_is_optional_and_digits_only() -> None:
    assert render.conf_pin_setting("").startswith(";")
    assert render.conf_pin_setting("4321") == "pin=4321"
    for bad in ("12", "12ab", "1234567890123", "1234\npin=0"):
        with pytest.raises(SystemExit, match="PABX_CONF_PIN"):
            render.conf_pin_setting(bad)
