"""Renders compose/asterisk/config/*.conf into an Asterisk etc directory.

Usage: asterisk_render.py ENV_FILE SRC_DIR DEST_DIR [EXTRA_DIR]

EXTRA_DIR (optional) holds more *.conf files rendered the same way after SRC_DIR's (tests use
it to switch the SBC example on without touching the repository).

Placeholders are @NAME@. Values come from the environment, then ENV_FILE (KEY=value lines),
then the computed ones below. An unknown placeholder is an error: a config never reaches
Asterisk half-filled. Used by scripts/asterisk.sh and by the compose image's entrypoint.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")

# AGENT_TRANSFER_ALLOWLIST: the same rules as llm_worker.transfers.parse_allowlist (a test
# holds the two together); rendered as the agent-transfer context of extensions.conf.
DEFAULT_TRANSFERS = "1001-1005"
_TARGET = re.compile(r"^[0-9*#]{1,15}$")
_RANGE = re.compile(r"^([0-9]{1,15})-([0-9]{1,15})$")
_PIN = re.compile(r"^[0-9]{4,12}$")


def transfer_targets(raw: str) -> list[str]:
    """The targets of AGENT_TRANSFER_ALLOWLIST (empty: 1001-1005), sorted; SystemExit on error."""
    targets: set[str] = set()
    for item in filter(None, (i.strip() for i in (raw.strip() or DEFAULT_TRANSFERS).split(","))):
        m = _RANGE.fullmatch(item)
        if m and len(m.group(1)) == len(m.group(2)) and int(m.group(1)) <= int(m.group(2)):
            first, last = int(m.group(1)), int(m.group(2))
            if last - first + 1 > 1000:
                raise SystemExit(f"AGENT_TRANSFER_ALLOWLIST: faixa {item!r} grande demais")
            targets.update(str(n).zfill(len(m.group(1))) for n in range(first, last + 1))
        elif _TARGET.fullmatch(item):
            targets.add(item)
        else:
            raise SystemExit(f"AGENT_TRANSFER_ALLOWLIST: {item!r} não é um ramal nem uma faixa")
    if len(targets) > 1000:
        raise SystemExit("AGENT_TRANSFER_ALLOWLIST: mais de 1000 destinos")
    return sorted(targets)


def agent_transfer_context(raw: str) -> str:
    return "\n".join(f"exten => {t},1,Goto(internal,{t},1)" for t in transfer_targets(raw))


def conf_pin_setting(pin: str) -> str:
    if not pin:
        return "; (sem PIN: PABX_CONF_PIN vazio)"
    if not _PIN.fullmatch(pin):
        raise SystemExit("PABX_CONF_PIN: de 4 a 12 dígitos")
    return f"pin={pin}"


def read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def computed(v: dict[str, str]) -> dict[str, str]:
    loopback = v.get("PABX_LOOPBACK", "0") in ("1", "yes", "true")
    host_ip = v.get("PABX_HOST_IP", "")
    out = {
        "TZ": v.get("PABX_TZ", "America/Sao_Paulo"),
        "RING_TIMEOUT": v.get("PABX_RING_TIMEOUT", "30"),
        "URA_TIMEOUT": v.get("PABX_URA_TIMEOUT", "5"),
        "LOOPBACK_MEDIA": "media_address=127.0.0.1" if loopback else "; (perfil normal)",
        "LOOPBACK_WEBRTC": (
            "media_address=127.0.0.1\nbind_rtp_to_media_address=yes"
            if loopback
            else "; (perfil normal)"
        ),
        "AGENT_TRANSFER_EXTENSIONS": agent_transfer_context(v.get("AGENT_TRANSFER_ALLOWLIST", "")),
        "CONF_PIN_SETTING": conf_pin_setting(v.get("PABX_CONF_PIN", "").strip()),
        "ICE_HOST_CANDIDATES": (
            f"{host_ip} => 127.0.0.1" if loopback and host_ip else "; (nenhum mapeamento)"
        ),
    }
    stun = []
    if v.get("PABX_STUN_ADDR"):
        stun.append(f"stunaddr={v['PABX_STUN_ADDR']}")
    if v.get("PABX_TURN_ADDR"):
        stun.append(f"turnaddr={v['PABX_TURN_ADDR']}")
        stun.append(f"turnusername={v.get('TURN_USERNAME', '')}")
        stun.append(f"turnpassword={v.get('TURN_PASSWORD', '')}")
    out["STUN_TURN"] = "\n".join(stun) or "; (STUN/TURN desativados)"
    nat = []
    if v.get("PABX_EXTERNAL_ADDRESS"):
        nat.append(f"external_media_address={v['PABX_EXTERNAL_ADDRESS']}")
        nat.append(f"external_signaling_address={v['PABX_EXTERNAL_ADDRESS']}")
    for net in filter(None, (n.strip() for n in v.get("PABX_LOCAL_NET", "").split(","))):
        nat.append(f"local_net={net}")
    out["NAT_SETTINGS"] = "\n".join(nat) or "; (sem NAT: PABX_EXTERNAL_ADDRESS vazio)"
    return out


def render(text: str, values: dict[str, str], name: str) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in values or values[key] == "":
            raise SystemExit(f"{name}: sem valor para @{key}@")
        return values[key]

    return PLACEHOLDER.sub(sub, text)


def main(argv: list[str]) -> int:
    if len(argv) not in (4, 5):
        print(__doc__, file=sys.stderr)
        return 2
    env_file, src, dest = Path(argv[1]), Path(argv[2]), Path(argv[3])
    values = read_env(env_file)
    values.update({k: v for k, v in os.environ.items() if k.isupper()})
    values.update(computed(values))
    dest.mkdir(parents=True, exist_ok=True)
    sources = sorted(src.glob("*.conf"))
    if len(argv) == 5 and argv[4]:
        sources += sorted(Path(argv[4]).glob("*.conf"))
    for conf in sources:
        (dest / conf.name).write_text(render(conf.read_text(), values, conf.name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
