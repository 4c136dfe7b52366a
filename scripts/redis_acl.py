#!/usr/bin/env python3
"""Redis users of the PABX: one ACL user per service, each with only what it needs.

One place says who may do what (``USERS``); `make up` (scripts/redis.sh), the compose init
service (compose/init/secrets-init.sh) and scripts/k8s-secrets.sh all render the same ACL
file from it, and give each service a REDIS_URL carrying its own user and password.

Passwords are generated on the first run into an env file (compose/.env, chmod 600, never
committed), one ``REDIS_<USER>_PASSWORD`` per user; the ACL file holds only their SHA-256
(``#<hex>``), so a leaked ACL file gives nobody a password. The ``default`` user is off: a
client that does not authenticate can run nothing (NOAUTH).

Grants (docs/DEPLOY.md, section 9): the pipeline services read and write only ``asp:*``
keys (the layout of libs/asp/src/asp/streams.py) with data, stream, transaction and
scripting commands and nothing of the ``@dangerous``/``@admin`` sets (no FLUSHALL, KEYS,
CONFIG, DEBUG, SHUTDOWN, CLIENT KILL, MONITOR); no pub/sub channels. The llm-worker also
enqueues the post-call job (``arq:queue``, ``arq:job:*``, ``arq:result:*``); the post-call
worker runs arq (``arq:*`` and INFO, which arq logs at start). ``ops`` is the operator's
user for redis-cli (everything); ``exporter`` is the Prometheus redis-exporter (INFO and
the stats commands, reads of the work streams only).

Usage (standard library only: the Asterisk image runs it without the project's venv):
    redis_acl.py ensure ENV_FILE          add the missing REDIS_*_PASSWORD to ENV_FILE
    redis_acl.py acl ENV_FILE OUT         write the ACL file (mode 0600, atomically; - : stdout)
    redis_acl.py url ENV_FILE USER HOST:PORT [DB]   print that user's REDIS_URL
    redis_acl.py password ENV_FILE USER   print that user's password
    redis_acl.py names                    print the REDIS_*_PASSWORD names
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote


@dataclass(frozen=True)
class User:
    name: str
    """The Redis user name (``--user`` of redis-cli, the user of REDIS_URL)."""
    rules: str
    """ACL rules after ``on #<hash>``: commands, then key patterns."""
    doc: str


# Data commands through the categories (so a newer server's commands of the same kind, e.g.
# XACKDEL in Redis 8.2, come with them), minus everything dangerous or administrative.
# ROLE (@admin) stays: a Sentinel client asks it of the master it was given.
_PIPELINE = (
    "resetchannels -@all +@connection +@read +@write +@transaction +@scripting"
    " -@dangerous -@admin -@pubsub -function -script|flush -script|kill +role"
)
_ASP = "~asp:*"

USERS: tuple[User, ...] = (
    User("sip-edge", f"{_PIPELINE} {_ASP}", "sip-edge (ramal 2000): sessões ASP"),
    User("asp-gateway", f"{_PIPELINE} {_ASP}", "asp-gateway (ASP sobre WebSocket)"),
    User("stt-worker", f"{_PIPELINE} {_ASP}", "stt-worker"),
    User(
        "llm-worker",
        f"{_PIPELINE} {_ASP} ~arq:queue ~arq:job:* ~arq:result:*",
        "llm-worker (e enfileira o job pós-chamada no arq)",
    ),
    User("tts-worker", f"{_PIPELINE} {_ASP}", "tts-worker"),
    User("postcall", f"{_PIPELINE} +info {_ASP} ~arq:*", "postcall-worker (arq)"),
    User(
        "exporter",
        "resetchannels -@all +@connection -client|kill +client|list +info +config|get"
        " +slowlog|get +slowlog|len +latency|latest +memory|usage +dbsize +scan +type"
        " +xinfo +xlen +cluster|info %R~asp:work:*",
        "redis-exporter (Prometheus)",
    ),
    User("ops", "+@all ~* &*", "operador: redis-cli --user ops --askpass"),
)
BY_NAME = {u.name: u for u in USERS}
SERVICES = tuple(u.name for u in USERS if u.name not in ("ops", "exporter"))


def env_name(user: str) -> str:
    """``sip-edge`` -> ``REDIS_SIP_EDGE_PASSWORD``."""
    return f"REDIS_{re.sub(r'[^A-Z0-9]', '_', user.upper())}_PASSWORD"


def read_env(path: Path) -> dict[str, str]:
    """NAME=value lines (the last one wins; comments and blank lines skipped)."""
    out: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                out[name.strip()] = value.strip()
    return out


def new_password() -> str:
    return secrets.token_hex(24)


def ensure(path: Path) -> list[str]:
    """Appends a generated password for every user that has none in ``path`` (mode 0600);
    keeps the ones there. Returns the names added."""
    path.touch(mode=0o600, exist_ok=True)
    os.chmod(path, 0o600)
    env = read_env(path)
    missing = [env_name(u.name) for u in USERS if not env.get(env_name(u.name))]
    if missing:
        lines = [
            line
            for line in path.read_text().splitlines()
            if line.partition("=")[0].strip() not in missing  # drop NAME= with no value
        ]
        lines += [f"{name}={new_password()}" for name in missing]
        path.write_text("\n".join(lines) + "\n")
    return missing


def passwords(env: dict[str, str]) -> dict[str, str]:
    """Each user's password from ``env``; ValueError naming the first one missing."""
    out = {}
    for u in USERS:
        value = env.get(env_name(u.name), "")
        if not value:
            raise ValueError(f"{env_name(u.name)} is empty (run: redis_acl.py ensure ENV_FILE)")
        out[u.name] = value
    return out


def acl_text(pw: dict[str, str]) -> str:
    """The ACL file: the default user off, then one line per user with its password's hash."""
    lines = ["user default off resetpass -@all resetkeys resetchannels"]
    for u in USERS:
        digest = hashlib.sha256(pw[u.name].encode()).hexdigest()
        lines.append(f"user {u.name} reset on #{digest} {u.rules}")
    return "\n".join(lines) + "\n"


def url(user: str, password: str, where: str, db: int = 0, tls: bool = False) -> str:
    """``redis://user:password@host:port/db`` (user and password percent-encoded)."""
    scheme = "rediss" if tls else "redis"
    return f"{scheme}://{quote(user, safe='')}:{quote(password, safe='')}@{where}/{db}"


def write_private(path: Path, text: str) -> None:
    """``text`` to ``path`` with mode 0600, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "ensure":
        for name in ensure(Path(argv[1])):
            print(f"{name} gerada em {argv[1]}", file=sys.stderr)
        return 0
    if len(argv) == 3 and argv[0] == "acl":
        text = acl_text(passwords(read_env(Path(argv[1]))))
        if argv[2] == "-":
            sys.stdout.write(text)
        else:
            write_private(Path(argv[2]), text)
        return 0
    if len(argv) in (4, 5) and argv[0] == "url" and argv[2] in BY_NAME:
        pw = passwords(read_env(Path(argv[1])))[argv[2]]
        print(url(argv[2], pw, argv[3], int(argv[4]) if len(argv) == 5 else 0))
        return 0
    if argv == ["names"]:
        print("\n".join(env_name(u.name) for u in USERS))
        return 0
    if len(argv) == 3 and argv[0] == "password" and argv[2] in BY_NAME:
        print(passwords(read_env(Path(argv[1])))[argv[2]])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
