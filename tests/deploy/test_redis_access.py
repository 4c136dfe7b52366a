"""Redis is reachable only by the services that use it, each as its own ACL user (issue 15,
item 2), in docker compose and in the k8s overlays: the checks a deployment would otherwise
only fail at run time (a service left on the wrong network, a REDIS_URL without a password,
a NetworkPolicy that admits every pod)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pipeline.testing import load_script

ROOT = Path(__file__).resolve().parents[2]
INIT = ROOT / "compose" / "init" / "secrets-init.sh"


acl = load_script(ROOT / "scripts" / "redis_acl.py")
pods = load_script(ROOT / "tests" / "deploy" / "pods.py")

# compose service -> the Redis ACL user it authenticates as
COMPOSE_USERS = {
    "sip-edge": "sip-edge",
    "asp-gateway": "asp-gateway",
    "stt-worker": "stt-worker",
    "llm-worker": "llm-worker",
    "tts-worker": "tts-worker",
    "postcall-worker": "postcall",
    "redis-exporter": "exporter",
}
# the compose services that keep their image's default PABX_ENV_FILES (Dockerfile ENV): the
# image of each (a target of services/Dockerfile)
IMAGE_ENV_FILES = {"sip-edge", "stt-worker", "llm-worker", "tts-worker"}


def networks_of(svc: dict[str, Any]) -> set[str]:
    nets = svc.get("networks", [])
    return set(nets) if isinstance(nets, list) else set(nets or {})


def env_files(name: str, svc: dict[str, Any]) -> str:
    explicit = svc.get("environment", {}).get("PABX_ENV_FILES")
    if explicit:
        return str(explicit)
    assert name in IMAGE_ENV_FILES, name
    found = re.search(r"PABX_ENV_FILES=(\S+)", pods.image(name))
    assert found, f"{name}: no PABX_ENV_FILES in its image"
    return found.group(1).strip('"')


def test_compose_redis_is_on_an_internal_network_only_its_clients_share(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    redis = services["redis"]
    internal = [
        n
        for n in networks_of(redis)
        if compose["networks"][n] and compose["networks"][n].get("internal")
    ]
    assert len(internal) == 1, "Redis must sit on one internal network"
    (net,) = internal
    on_it = {name for name, svc in services.items() if net in networks_of(svc)}
    assert on_it == {"redis", *COMPOSE_USERS} - {"sip-edge"}
    for other in ("softphone", "grafana", "prometheus"):
        assert net not in networks_of(services[other]), other
    # its other network (for the loopback port of the host-network sip-edge) is Redis's alone
    for extra in networks_of(redis) - {net}:
        assert {n for n, s in services.items() if extra in networks_of(s)} == {"redis"}
    assert redis["ports"] == ["127.0.0.1:6379:6379"], "only the host's loopback"
    argv = redis["command"]
    assert argv[argv.index("--aclfile") + 1] == "/run/pabx-secrets/redis/users.acl"
    assert "PONG|NOAUTH" in " ".join(redis["healthcheck"]["test"])


def test_compose_services_get_their_redis_user_from_the_init_files(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    init = INIT.read_text()
    assert "redis_acl.py ensure" in init
    assert re.search(
        r"redis_acl\.py acl \"\$env_file\" - \| put 999 0400 /secrets/redis/users\.acl", init
    )
    for name, user in COMPOSE_USERS.items():
        svc = services[name]
        env = svc.get("environment", {})
        assert "REDIS_URL" not in env, f"{name}: REDIS_URL comes from its secrets file"
        mounts = svc.get("volumes", [])
        assert any(str(m).startswith("pabx-secrets:/run/pabx-secrets") for m in mounts), name
        if name == "redis-exporter":
            assert env["REDIS_USER"] == user
            assert env["REDIS_PASSWORD_FILE"] == "/run/pabx-secrets/redis-exporter.json"  # noqa: S105
            assert "/secrets/redis-exporter.json" in init
            continue
        entry = svc.get("entrypoint") or []
        if entry:
            assert entry[0] == "container-env.sh", name
        paths = env_files(name, svc).split()
        assert all(p.startswith("/run/pabx-secrets/") for p in paths), (name, paths)
        path = paths[0]  # the one with REDIS_URL (llm-worker, post-call: then the LLM keys)
        written = "/secrets/" + path.removeprefix("/run/pabx-secrets/")
        # the init writes that file with REDIS_URL of this very user
        if written.startswith("/secrets/redis-"):
            assert "for user in stt-worker llm-worker tts-worker postcall" in init
            assert written == f"/secrets/redis-{user}.env", name
        else:
            block = init[: init.index(written)].rsplit("{", 1)[-1]
            assert f"redis_url {user} " in block, (name, written)
    assert "container-env.sh" in " ".join(services["postcall-worker"]["healthcheck"]["test"])
    for image in ("stt-worker", "stt-worker-cuda", "llm-worker", "tts-worker"):
        text = pods.image(image)
        assert "COPY scripts/container-env.sh /usr/local/bin/container-env.sh" in text, image
        assert re.search(r'ENTRYPOINT \["container-env.sh", "python", "-m", "\w+"\]', text), image
    assert "scripts/redis_acl.py" in (ROOT / "compose/asterisk/Dockerfile").read_text()


def test_every_redis_user_has_a_documented_password_variable() -> None:
    example = (ROOT / "compose" / ".env.example").read_text()
    for user in acl.USERS:
        assert re.search(rf"^{acl.env_name(user.name)}=$", example, re.M), user.name
    assert "redis-cli --user ops --askpass" in example
    assert "redis-cli --user ops --askpass" in (ROOT / "docs" / "DEPLOY.md").read_text()


# --- kubernetes ---------------------------------------------------------------------------


def kinds(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


# the same services in k8s, but the exporter: there KEDA authenticates as it (TriggerAuthentication)
K8S_USERS = {name: user for name, user in COMPOSE_USERS.items() if name != "redis-exporter"}


@pytest.mark.parametrize("overlay", ["cpu", "cpu-hpa", "gpu"])
def test_k8s_each_service_is_its_own_redis_user_with_the_password_from_a_secret_file(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """Each service reads REDIS_URL, with its own user and password, from a file of a Secret
    mounted for it alone (PABX_ENV_FILES, loaded by container-env.sh); no Redis password is
    an environment variable (issue 15, items 2 and 6)."""
    docs = built[overlay]
    deployments = kinds(docs, "Deployment")
    for cm in kinds(docs, "ConfigMap").values():
        assert "REDIS_URL" not in (cm.get("data") or {}), cm["metadata"]["name"]
    passwords = set()
    for name, user in K8S_USERS.items():
        (c,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in c.get("env", [])}
        assert not {"REDIS_URL", "REDIS_PASSWORD"} & set(env), name
        if "command" in c:  # it replaces the image's entrypoint, container-env.sh
            assert c["command"][0] == "container-env.sh", name
        files = pods.mounted_secret_files(docs, deployments[name])
        (path,) = env["PABX_ENV_FILES"]["value"].split()
        assert path in files, (name, path, sorted(files))
        url = pods.env_lines(files[path])["REDIS_URL"]
        m = re.fullmatch(r"redis://([\w-]+):(\w+)@redis\.pabx\.svc\.cluster\.local:6379/0", url)
        assert m, (name, url)
        assert m.group(1) == user, name
        assert len(m.group(2)) >= 32, name
        passwords.add(m.group(2))
    assert len(passwords) == len(K8S_USERS), "a password shared by two services"
    secrets = kinds(docs, "Secret")
    # what KEDA's operator may read: the exporter's password, no other
    assert set(secrets["pabx-redis"]["data"]) == {"REDIS_EXPORTER_PASSWORD"}
    (sts,) = [s for n, s in kinds(docs, "StatefulSet").items() if n == "redis"]
    spec = sts["spec"]["template"]["spec"]
    (c,) = spec["containers"]
    assert c["args"][c["args"].index("--aclfile") + 1] == "/etc/redis-acl/users.acl"
    mount = next(m for m in c["volumeMounts"] if m["mountPath"] == "/etc/redis-acl")
    vol = next(v for v in spec["volumes"] if v["name"] == mount["name"])
    assert vol["secret"]["secretName"].startswith("pabx-redis-acl")
    acl_secret = next(s for n, s in secrets.items() if n == vol["secret"]["secretName"])
    assert set(acl_secret["data"]) == {"users.acl"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert "PONG|NOAUTH" in " ".join(c[probe]["exec"]["command"])
    redis_scaled = [
        so
        for so in kinds(docs, "ScaledObject").values()
        if so["spec"]["triggers"][0]["type"] == "redis-streams"
    ]  # the workers'; asp-gateway scales on its connections (Prometheus), not on Redis
    scaled_names = set(kinds(docs, "ScaledObject"))
    assert {so["metadata"]["name"] for so in redis_scaled} == scaled_names - {"asp-gateway"}
    for so in redis_scaled:
        (trigger,) = so["spec"]["triggers"]
        assert trigger["metadata"]["username"] == "exporter"
        auth = kinds(docs, "TriggerAuthentication")[trigger["authenticationRef"]["name"]]
        assert auth["spec"]["secretTargetRef"] == [
            {"parameter": "password", "name": "pabx-redis", "key": "REDIS_EXPORTER_PASSWORD"}
        ]


@pytest.mark.parametrize("overlay", ["cpu", "cpu-hpa", "gpu"])
def test_k8s_network_policies_deny_by_default_and_admit_only_redis_clients(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = built[overlay]
    policies = kinds(docs, "NetworkPolicy")
    deny = [
        p
        for p in policies.values()
        if p["spec"]["podSelector"] == {}
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress")
        and not p["spec"].get("egress")
    ]
    assert deny, "no default-deny NetworkPolicy (ingress and egress) for every pod"
    for name, p in policies.items():  # no rule opens a pod to every pod or address
        for rule in [*p["spec"].get("ingress", []), *p["spec"].get("egress", [])]:
            for peer in rule.get("from", []) + rule.get("to", []):
                assert peer != {"podSelector": {}}, name
                assert peer.get("ipBlock", {}).get("cidr") != "0.0.0.0/0" or name == "llm-egress"
    redis = policies["redis"]
    (rule,) = redis["spec"]["ingress"]
    assert rule["ports"] == [{"port": 6379, "protocol": "TCP"}]
    label = {"pabx.io/redis-client": "true"}
    assert {"podSelector": {"matchLabels": label}} in rule["from"]
    clients = {
        n
        for n, d in kinds(docs, "Deployment").items()
        if d["spec"]["template"]["metadata"]["labels"].get("pabx.io/redis-client") == "true"
    }
    assert clients == set(K8S_USERS)  # sip-edge too: it runs on the pod network
    # no address block: no Redis client is on the host network any more
    assert not [peer for peer in rule["from"] if "ipBlock" in peer]
    egress = policies["redis-clients"]
    assert egress["spec"]["podSelector"] == {"matchLabels": label}
    assert egress["spec"]["egress"] == [
        {
            "to": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "redis"}}}],
            "ports": [{"port": 6379, "protocol": "TCP"}],
        }
    ]
    # every pod resolves names; nothing but Redis's clients may reach Redis
    dns = policies["dns"]
    assert dns["spec"]["podSelector"] == {}
    assert {p["port"] for r in dns["spec"]["egress"] for p in r["ports"]} == {53}
    for name in ("softphone", "asp-gateway"):
        assert policies[name]["spec"]["ingress"], name
