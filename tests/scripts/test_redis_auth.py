"""`make up`'s Redis has a password: scripts/redis.sh (run on a copy of the scripts in a
temporary repository root and a free port, so that this checkout's compose/.env and a
running make up decide nothing) generates one password per service user into compose/.env,
starts redis-server with the ACL file, which holds hashes only, and the services' REDIS_URL
carries their user; `make test`'s open Redis (PABX_REDIS_AUTH=off) is replaced, never
reused. scripts/redis_acl.py keeps passwords it already generated."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from pipeline.testing import RedisServer, free_port, load_script
from redis.exceptions import AuthenticationError, NoPermissionError

ROOT = Path(__file__).resolve().parents[2]


acl = load_script(ROOT / "scripts" / "redis_acl.py")


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()

    def sh(self, *args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(self.root / "scripts" / "redis.sh"), *args],
            env={"PATH": os.environ["PATH"], "HOME": str(self.root),
                 "PABX_CACHE": str(self.root / "cache"), "REDIS_PORT": str(self.port), **env},
            capture_output=True, text=True, timeout=60, check=check,
        )  # fmt: skip

    @property
    def env(self) -> dict[str, str]:
        env: dict[str, str] = acl.read_env(self.root / "compose" / ".env")
        return env


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "compose").mkdir()
    for name in ("redis.sh", "lib.sh", "redis_acl.py"):
        shutil.copy(ROOT / "scripts" / name, tmp_path / "scripts" / name)
    r = Repo(tmp_path)
    try:
        yield r
    finally:
        r.sh("stop", check=False)


@pytest.mark.integration  # scripts/redis.sh, a redis-server
def test_make_up_starts_redis_with_a_user_per_service_and_no_anonymous_access(
    repo: Repo,
) -> None:
    repo.sh("start")
    env_file = repo.root / "compose" / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = repo.env
    for user in acl.USERS:
        assert len(env[acl.env_name(user.name)]) >= 32, user.name
    with pytest.raises(AuthenticationError):
        redis.Redis(port=repo.port).ping()
    url = repo.sh("url", "stt-worker").stdout.strip()
    assert url == f"redis://stt-worker:{env['REDIS_STT_WORKER_PASSWORD']}@127.0.0.1:{repo.port}/0"
    stt = redis.Redis.from_url(url)
    assert stt.ping()
    with pytest.raises(NoPermissionError):
        stt.flushall()
    # the ACL file holds no password, only its hash
    acl_file = (repo.root / ".run" / "redis" / "users.acl").read_text()
    assert all(env[acl.env_name(u.name)] not in acl_file for u in acl.USERS)
    assert stat.S_IMODE((repo.root / ".run" / "redis" / "users.acl").stat().st_mode) == 0o600
    assert "ACL" in repo.sh("status").stdout
    # a second start keeps the passwords and the server
    repo.sh("start")
    assert repo.env == env
    assert stt.ping()


@pytest.mark.integration  # scripts/redis.sh, a redis-server
def test_make_tests_open_redis_is_replaced_by_make_ups(repo: Repo) -> None:
    repo.sh("start", PABX_REDIS_AUTH="off")
    assert redis.Redis(port=repo.port).ping()
    assert repo.sh("url", "stt-worker", PABX_REDIS_AUTH="off").stdout.strip() == (
        f"redis://127.0.0.1:{repo.port}/0"
    )
    repo.sh("start")
    with pytest.raises(AuthenticationError):
        redis.Redis(port=repo.port).ping()
    # and make test does not take make up's Redis for an open one
    refused = repo.sh("start", check=False, PABX_REDIS_AUTH="off")
    assert refused.returncode != 0
    assert "make down" in refused.stderr


@pytest.mark.integration  # scripts/redis.sh, a redis-server
def test_a_system_redis_without_a_password_is_used_as_it_is_with_a_warning(
    repo: Repo,
) -> None:
    """A Redis make up did not start (this machine kind's own, a developer's) answering on
    the port without a password: make up neither stops it nor fails; the services get open
    URLs, and the operator is told loudly that there is no authentication."""
    with RedisServer(port=repo.port):
        started = repo.sh("start")
        assert "SEM autenticação" in started.stderr + started.stdout
        assert not (repo.root / ".run" / "redis.pid").exists()  # not ours: never stopped
        url = repo.sh("url", "stt-worker").stdout.strip()
        assert url == f"redis://127.0.0.1:{repo.port}/0"
        assert redis.Redis.from_url(url).ping()


def test_passwords_already_generated_are_kept(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    kept = {"EXT_1001_PASSWORD": "abc", "REDIS_OPS_PASSWORD": "mine"}
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in kept.items()) + "REDIS_STT_WORKER_PASSWORD=\n"
    )
    added = acl.ensure(env_file)
    env = acl.read_env(env_file)
    assert {k: env[k] for k in kept} == kept
    assert "REDIS_OPS_PASSWORD" not in added
    assert "REDIS_STT_WORKER_PASSWORD" in added
    assert len(env["REDIS_STT_WORKER_PASSWORD"]) == 48
    assert env_file.read_text().count("REDIS_STT_WORKER_PASSWORD=") == 1
    assert acl.ensure(env_file) == []
    text = acl.acl_text(acl.passwords(env))
    assert text.splitlines()[0].startswith("user default off")
    assert kept["REDIS_OPS_PASSWORD"] not in text


def test_url_escapes_the_password() -> None:
    assert acl.url("ops", "a/b@c:d", "h:1") == "redis://ops:a%2Fb%40c%3Ad@h:1/0"
