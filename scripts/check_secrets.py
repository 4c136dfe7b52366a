"""Finds literal passwords in what the repository ships: docs, configs, manifests, READMEs.

Usage: check_secrets.py [PATH...]   (default: the git-tracked files of docs/, compose/,
k8s/, README.md, services/*/README.md and services/*/.env.example). Exit status 1 and one
line per finding when any is found. tests/unit/test_no_literal_passwords.py runs it.

Operators copy what the docs show: an example password (``password=suasenha123``) ends up on
a PABX on the internet. Recipes must generate their secrets (``@EXT_1006_PASSWORD@``, filled
from compose/.env by scripts/asterisk_render.py, which refuses an empty value) or show a
placeholder. The patterns (case-insensitive):

1. ``KEY = value``, ``KEY: value``, ``KEY => value`` where KEY ends in password, passwd,
   passphrase, secret, senha, api_key/apikey or token (``password=``, ``TURN_PASSWORD:``,
   ``turnpassword=``), and ``requirepass value``;
2. credentials inside a URL: ``scheme://user:value@host``;
3. well-known example passwords anywhere: suasenha, senha123, password123, changeme,
   mudar123, admin123, secret123.

A value is a placeholder, not a password, when it is empty or: ``@NAME@`` (rendered),
``${NAME}``/``$NAME``/``$(command)`` (shell/compose), ``%s``, ``{...}`` (templates),
``<something>``, code that reads the environment (``os.environ``, ``process.env``),
contains ``...`` or ``…``, is only ``*``/``x`` characters, a boolean
(``automountServiceAccountToken: false``), a comment (``KEY=  # ...``), or a variable name
ending in _PASSWORD, _SECRET, _KEY, _TOKEN (``EXT_1001_PASSWORD``: says where the value
lives).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCANNED = ("docs", "compose", "k8s", "README.md", "services/*/README.md", "services/*/.env.example")

_KEY = r"[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|senha|api[_-]?key|apikey|token)"
KEY_VALUE = re.compile(rf"(?i)(?<![A-Za-z0-9])({_KEY})[\"']?\s*(?:=>|=|:)\s*[\"']?([^\s\"',;`)]*)")
REQUIREPASS = re.compile(r"(?i)\b(requirepass)\s+[\"']?([^\s\"']+)")
URL_CREDENTIALS = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]+)@")
KNOWN_EXAMPLES = re.compile(
    r"(?i)\b(suasenha\w*|senha123|password123|changeme|mudar123|admin123|secret123)\b"
)
PLACEHOLDER = re.compile(
    r"""(?i)^(?:
        |\$\{[^}]*\}?.*|\$[A-Za-z_][A-Za-z0-9_]*.*|\$\(.*
        |%s.*
        |\{.*
        |\#.*
        |true|false|yes|no|null|none
        |<[^>]*>?[.,:;]?
        |os\.environ.*|os\.getenv.*|process\.env.*
        |.*(?:\.\.\.|…).*
        |[*xX]+
        |(?-i:[A-Z][A-Z0-9_]*_(?:PASSWORD|PASSWD|SECRET|SENHA|KEY|TOKEN|PASS)[A-Z0-9_]*)
        |(?-i:@[A-Z0-9_]+@)
    )$""",
    re.X,
)


def is_placeholder(value: str) -> bool:
    return bool(PLACEHOLDER.match(value.strip()))


def findings_in(text: str) -> Iterator[tuple[int, str]]:
    """(line number, what was found) for each literal password in ``text``."""
    for n, line in enumerate(text.splitlines(), 1):
        for m in KEY_VALUE.finditer(line):
            key, value = m.group(1), m.group(2)
            if _value_follows(line, m) and not is_placeholder(value):
                yield n, f"{key} = {value!r}"
        for m in REQUIREPASS.finditer(line):
            if not is_placeholder(m.group(2)):
                yield n, f"requirepass {m.group(2)!r}"
        for m in URL_CREDENTIALS.finditer(line):
            if not is_placeholder(m.group(1)):
                yield n, f"password in URL {m.group(0)!r}"
        for m in KNOWN_EXAMPLES.finditer(line):
            yield n, f"example password {m.group(1)!r}"


def _value_follows(line: str, m: re.Match[str]) -> bool:
    """Prose (``senha: a do compose/.env``) is not a setting: after a ``:`` the value must be
    the line's last word (or be followed by a comment), as in YAML's ``key: value``."""
    rest = line[m.end(2) :].strip()
    sep = line[m.end(1) : m.start(2)].strip(" \"'")
    # "senha: a do arquivo": words follow, so prose
    return not (sep.startswith(":") and rest and not rest.startswith(("#", ";")))


def scan(files: Iterable[Path]) -> list[str]:
    out = []
    for path in files:
        try:
            text = path.read_text("utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # images, binaries
        out += [f"{path}:{n}: {what}" for n, what in findings_in(text)]
    return out


def shipped_files(root: Path = REPO) -> list[Path]:
    """The git-tracked files the operator gets (generated secrets are git-ignored)."""
    argv = ["git", "ls-files", "-z", "--", *SCANNED]
    out = subprocess.run(  # noqa: S603 - fixed argv (git from PATH, as every script here)
        argv,
        cwd=root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [root / p for p in out.split("\0") if p]


def walk(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        files += sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
    return files


def main(argv: list[str]) -> int:
    files = walk(Path(a) for a in argv[1:]) if len(argv) > 1 else shipped_files()
    found = scan(files)
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
