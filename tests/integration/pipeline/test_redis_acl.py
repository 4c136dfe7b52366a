"""Redis with the ACL that `make up`, compose and k8s generate (scripts/redis_acl.py), on a
real redis-server: a client without a password runs nothing, a service user cannot run a
command or touch a key outside its grant, and the real worker processes, each as its own
user, carry a whole call (greeting, a turn, the post-call summary on arq) without one
command refused (ACL LOG stays empty)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from asp import SessionEnd, SessionStart
from asp import streams as layout
from asp.testing import utterance
from pipeline import Bus
from pipeline.testing import RedisServer, load_script, stop_processes
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

ROOT = Path(__file__).resolve().parents[3]
acl = load_script(ROOT / "scripts" / "redis_acl.py")


def command(r: redis.Redis, *args: str | int) -> Any:
    """A raw Redis command (redis-py leaves execute_command untyped)."""
    return r.execute_command(*args)  # type: ignore[no-untyped-call]


class AclRedis:
    def __init__(self, server: RedisServer, passwords: dict[str, str]) -> None:
        self.server = server
        self.passwords = passwords

    def url(self, user: str) -> str:
        url: str = acl.url(user, self.passwords[user], f"127.0.0.1:{self.server.port}")
        return url

    def client(self, user: str) -> redis.Redis:
        return redis.Redis.from_url(self.url(user))


@pytest.fixture(scope="module")
def acl_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclRedis]:
    tmp = tmp_path_factory.mktemp("redis-acl")
    env_file = tmp / ".env"
    acl.ensure(env_file)  # what make up does on its first start
    acl_file = tmp / "users.acl"
    acl.write_private(acl_file, acl.acl_text(acl.passwords(acl.read_env(env_file))))
    with RedisServer(args=("--aclfile", str(acl_file))) as server, server.watched("acl_redis"):
        yield AclRedis(server, acl.passwords(acl.read_env(env_file)))


def test_a_client_without_a_password_is_refused(acl_redis: AclRedis) -> None:
    anonymous = redis.Redis.from_url(acl_redis.server.url)
    with pytest.raises(AuthenticationError):
        anonymous.ping()
    with pytest.raises(AuthenticationError):
        anonymous.get(layout.ACTIVE_SESSIONS)
    wrong = redis.Redis.from_url(
        acl.url("stt-worker", "not-its-password", f"127.0.0.1:{acl_redis.server.port}")
    )
    with pytest.raises(AuthenticationError):
        wrong.ping()
    # the default user cannot be used by naming it either
    with pytest.raises(AuthenticationError):
        redis.Redis.from_url(acl.url("default", "", f"127.0.0.1:{acl_redis.server.port}")).ping()


@pytest.mark.parametrize("user", [u for u in acl.SERVICES])
def test_a_service_user_runs_no_command_and_reads_no_key_outside_its_grant(
    acl_redis: AclRedis, user: str
) -> None:
    r = acl_redis.client(user)
    assert r.ping()
    r.set("asp:test:acl", "1", ex=60)  # its own prefix: allowed
    for refused in (
        ("FLUSHALL",),
        ("FLUSHDB",),
        ("KEYS", "*"),
        ("CONFIG", "GET", "requirepass"),
        ("CONFIG", "SET", "maxmemory", "0"),
        ("ACL", "LIST"),
        ("CLIENT", "KILL", "TYPE", "normal"),
        ("MONITOR",),
        ("REPLICAOF", "NO", "ONE"),
        ("SWAPDB", "0", "1"),
        ("SHUTDOWN", "NOSAVE"),
        ("PUBLISH", "asp:x", "1"),
        ("FUNCTION", "FLUSH"),
        ("SCRIPT", "FLUSH"),
    ):
        with pytest.raises(NoPermissionError):
            command(r, *refused)
    # another prefix: no read, no write, not even through a script
    with pytest.raises(NoPermissionError):
        r.get("other:secret")
    with pytest.raises(NoPermissionError):
        r.set("other:secret", "x")
    with pytest.raises(ResponseError, match=r"(?i)noperm|permission|acl"):
        r.eval("return redis.call('GET', KEYS[1])", 1, "other:secret")
    if user not in ("llm-worker", "postcall"):
        with pytest.raises(NoPermissionError):
            r.zrange("arq:queue", 0, -1)  # only the post-call job's users touch arq's keys
    if user != "postcall":
        with pytest.raises(NoPermissionError):
            r.info()


def test_the_operator_user_has_everything(acl_redis: AclRedis) -> None:
    ops = acl_redis.client("ops")
    assert command(ops, "ACL", "WHOAMI") in (b"ops", "ops")
    assert isinstance(ops.info(), dict)
    assert ops.config_get("maxmemory")


def spawn(module: str, redis_url: str, log: Path, **env: str) -> subprocess.Popen[bytes]:
    environment = {
        **os.environ,
        "REDIS_URL": redis_url,
        "WORKER_NAME": f"acl-{module}",
        "METRICS_PORT": "0",
        "STT_PROVIDER": "fake",
        "LLM_PROVIDER": "fake",
        "TTS_PROVIDER": "fake",
        "TTS_FALLBACK": "none",
        "POSTCALL_DEFER_MAX_S": "0",
        **env,
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module], env=environment, stdout=out, stderr=subprocess.STDOUT
        )


WORKERS = {
    "stt": ("stt_worker", "stt-worker"),
    "llm": ("llm_worker", "llm-worker"),
    "tts": ("tts_worker", "tts-worker"),
    "postcall": ("llm_worker.postcall", "postcall"),
}
"""A worker's module and the ACL user it runs as."""


def workers_as_their_users(
    acl_redis: AclRedis, tmp_path: Path, *names: str
) -> dict[str, subprocess.Popen[bytes]]:
    """The named workers (fake engines), each as its own Redis user, logging to tmp_path."""
    return {
        name: spawn(WORKERS[name][0], acl_redis.url(WORKERS[name][1]), tmp_path / f"{name}.log")
        for name in names
    }


def wait(
    check: Callable[[], object],
    timeout: float,
    what: str,
    procs: dict[str, subprocess.Popen[bytes]],
    logs: Path,
) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        for name, p in procs.items():
            if p.poll() is not None:
                log = (logs / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"{name} exited ({p.returncode}) waiting for {what}:\n{log}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


async def test_each_service_as_its_own_user_carries_a_call(
    acl_redis: AclRedis, tmp_path: Path
) -> None:
    ops = acl_redis.client("ops")
    command(ops, "ACL", "LOG", "RESET")
    procs = workers_as_their_users(acl_redis, tmp_path, "stt", "llm", "tts", "postcall")
    edge = Bus.from_url(acl_redis.url("sip-edge"))  # what sip-edge does: the Bus, as its user
    try:
        sid = str(uuid.uuid4())
        await edge.publish(SessionStart(session_id=sid, metadata={"language": "pt-BR"}))

        def ended(response_id: str) -> bool:
            entries = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]", ops.xrange(layout.session_stream(sid))
            )
            return any(
                f.get(b"type") == b"response.end" and f.get(b"response_id") == response_id.encode()
                for _, f in entries
            )

        wait(lambda: ended("greeting"), 90, "the greeting", procs, tmp_path)
        await edge.publish(utterance(sid, "u-1", b"\x00\x10\x00\xf0" * 2000))
        wait(lambda: ended("r-u-1"), 60, "the answer to u-1", procs, tmp_path)
        types = [m.TYPE for m in await edge.session_log(sid)]
        assert "transcript" in types
        assert "response.audio" in types
        await edge.publish(SessionEnd(session_id=sid, reason="hangup"))
        await edge.end_session(sid)
        # the llm-worker enqueues the summary on arq, the post-call worker writes it
        wait(
            lambda: ops.exists(layout.summary_key(sid)),
            60,
            "the post-call summary",
            procs,
            tmp_path,
        )
        denied = command(ops, "ACL", "LOG")
        assert not denied, f"commands refused to a service: {denied}"
    finally:
        await edge.close()
        stop_processes(procs.values(), 15)


async def test_the_asp_gateway_as_its_own_user_serves_a_session(
    acl_redis: AclRedis, tmp_path: Path
) -> None:
    from sip_edge.gateway.testing import AspClient, GatewayProcess

    ops = acl_redis.client("ops")
    command(ops, "ACL", "LOG", "RESET")
    procs = workers_as_their_users(acl_redis, tmp_path, "stt", "llm", "tts")
    try:
        with GatewayProcess(tmp_path / "gateway.log", REDIS_URL=acl_redis.url("asp-gateway")) as gw:
            client = await AspClient.open(gw.url(token=gw.token))
            await client.wait_for(type="protocol.capabilities")
            sid = str(uuid.uuid4())
            await client.send(
                {
                    "type": "session.start",
                    "session_id": sid,
                    "audio": {"sample_rate": 8000, "encoding": "pcm_s16le"},
                }
            )
            await client.wait_for(type="session.started", session_id=sid, status="accepted")
            await client.wait_for(
                type="response.end", session_id=sid, response_id="greeting", within=90
            )
            await client.send({"type": "session.end", "session_id": sid, "reason": "hangup"})
            await client.wait_for(type="session.ended", session_id=sid)
            await client.close()
            log = gw.log()
        assert "NOPERM" not in log
        assert "Traceback" not in log, log[-3000:]
        assert ops.exists(layout.session_stream(sid))
        denied = command(ops, "ACL", "LOG")
        assert not denied, f"commands refused to a service: {denied}"
    finally:
        stop_processes(procs.values(), 15)
