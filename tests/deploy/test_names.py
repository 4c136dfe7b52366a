"""Names that must agree between the k8s manifests, the compose file and the code:
images, ports, environment variables, health paths, streams and consumer groups, grace
periods. Each mismatch here is a deployment that starts and then does not work."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from asp import Stage
from asp import streams as layout
from llm_worker.__main__ import METRICS_PORT as LLM_PORT
from pipeline.testing import load_script
from prometheus_client import CollectorRegistry, generate_latest
from sip_edge.gateway.metrics import GatewayMetrics
from sip_edge.gateway.settings import GatewaySettings
from stt_worker.__main__ import METRICS_PORT as STT_PORT
from tts_worker.__main__ import METRICS_PORT as TTS_PORT

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose" / "docker-compose.yml"
pods = load_script(ROOT / "tests" / "deploy" / "pods.py")


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines (commented-out `# KEY=` lines count as documented keys too)."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("# ") and "=" in line and line[2:].split("=")[0].isupper():
            line = line[2:]
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if key.replace("_", "").isalnum() and key.isupper():
            values[key] = value
    return values


WORKER_PORTS = {Stage.STT: STT_PORT, Stage.LLM: LLM_PORT, Stage.TTS: TTS_PORT}
SIP_EDGE_METRICS = 9091  # services/sip-edge: Settings.metrics_port (sip_edge needs pjsua2)
GATEWAY_PORT = GatewaySettings().port  # the ASP WebSocket gateway (sip_edge.gateway)
GATEWAY_METRICS = GatewaySettings().metrics_port
# compose service -> the `make up` script that starts the same process natively
NATIVE = {
    "asterisk": "20-asterisk.sh",
    "redis": "10-redis.sh",
    "sip-edge": "40-sip-edge.sh",
    "asp-gateway": "45-asp-gateway.sh",
    "stt-worker": "60-workers.sh",
    "llm-worker": "60-workers.sh",
    "tts-worker": "60-workers.sh",
    "softphone": "50-softphone.sh",
    "coturn": "25-coturn.sh",
    "postcall-worker": "60-workers.sh",  # `python -m llm_worker.postcall`
    "init": "20-asterisk.sh",  # scripts/asterisk.sh install-config: passwords and certificates
}
# the module each worker-like compose service runs, as scripts/workers.sh runs it
MODULES = {"postcall-worker": "llm_worker.postcall"}
ENV_EXAMPLE = {
    "stt-worker": ROOT / "services/stt-worker/.env.example",
    "llm-worker": ROOT / "services/llm-worker/.env.example",
    "tts-worker": ROOT / "services/tts-worker/.env.example",
    "sip-edge": ROOT / "services/sip-edge/.env.example",
    "asp-gateway": ROOT / "services/sip-edge/.env.example",
    "asterisk": ROOT / "compose/.env.example",
}


def kinds(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def configmap(docs: list[dict[str, Any]], prefix: str) -> dict[str, str]:
    (cm,) = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"].startswith(prefix + "-")
    ]
    return dict(cm["data"])


def pod_env(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    """Environment of a Deployment's first container: its ConfigMaps, then its env list, then
    the Secret files container-env.sh loads (PABX_ENV_FILES), as the process sees it."""
    deployment = kinds(docs, "Deployment")[name]
    spec = deployment["spec"]["template"]["spec"]["containers"][0]
    env: dict[str, str] = {}
    for ref in spec.get("envFrom", []):
        if "configMapRef" in ref:
            generated = ref["configMapRef"]["name"]
            (cm,) = [
                d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == generated
            ]
            env.update(cm["data"])
    for item in spec.get("env", []):
        env[item["name"]] = item.get("value", "<from>")
    files = pods.mounted_secret_files(docs, deployment)
    for path in env.get("PABX_ENV_FILES", "").split():
        env.update(pods.env_lines(files[path]))
    return env


def image_name(ref: str) -> str:
    """pabx/stt-worker from pabx/stt-worker:0.1.0 or ${PABX_IMAGE_PREFIX:-pabx}/stt-worker:..."""
    ref = re.sub(r"\$\{PABX_IMAGE_PREFIX:-([^}]*)\}", r"\1", ref)
    return ref.split(":")[0]


# --- compose ------------------------------------------------------------------------------


def test_compose_keeps_the_seed_names_and_maps_to_make_up(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["asterisk"]["container_name"] == "asterisk-pabx"
    assert services["sip-edge"]["container_name"] == "sip-media-server"
    assert {"coturn", "redis", "stt-worker", "llm-worker", "tts-worker", "softphone"} <= set(
        services
    )
    for name, script in NATIVE.items():
        assert name in services
        assert (ROOT / "scripts/up.d" / script).is_file(), f"{name}: no make up script {script}"
    for name, module in MODULES.items():
        # container-env.sh first: REDIS_URL (its Redis ACL user) from the init's file
        assert services[name]["entrypoint"] == ["container-env.sh", "python", "-m", module]
        assert f"-m {module}" in (ROOT / "scripts/workers.sh").read_text()
    assert "compose/coturn/turnserver.conf" in (ROOT / "scripts/coturn.sh").read_text()
    gateway = services["asp-gateway"]
    assert gateway["entrypoint"][-3:] == ["python", "-m", "sip_edge.gateway"]
    # make up starts the same module (scripts/lib.sh start_module NAME MODULE ...)
    assert (
        "start_module asp-gateway sip_edge.gateway "
        in (ROOT / "scripts/up.d/45-asp-gateway.sh").read_text()
    )
    assert image_name(gateway["image"]) == image_name(services["sip-edge"]["image"])
    unmapped = set(services) - set(NATIVE)
    assert unmapped == {"redis-exporter", "prometheus", "grafana"}  # profile observability
    for name in ("asterisk", "coturn", "sip-edge"):  # media: no Docker NAT
        assert services[name]["network_mode"] == "host", name


def test_compose_builds_every_image_from_a_dockerfile_here(compose: dict[str, Any]) -> None:
    for name, svc in compose["services"].items():
        build = svc.get("build")
        if build is None:
            continue
        dockerfile = (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve()
        assert dockerfile.is_file(), f"{name}: {dockerfile}"
        assert image_name(svc["image"]).startswith("pabx/"), name


def test_compose_environment_is_documented_in_env_examples(compose: dict[str, Any]) -> None:
    examples = {**ENV_EXAMPLE, "postcall-worker": ENV_EXAMPLE["llm-worker"]}
    for name, example in examples.items():
        documented = env_file(example)
        if name == "postcall-worker":  # POSTCALL_WEBHOOK_URL: documented in compose/.env.example
            documented |= env_file(ROOT / "compose/.env.example")
        for key in compose["services"][name].get("environment", {}):
            assert key in documented, f"{name}: {key} is not in {example.relative_to(ROOT)}"


def test_compose_interpolated_variables_are_in_compose_env_example() -> None:
    documented = env_file(ROOT / "compose/.env.example")
    used = set(re.findall(r"\$\{([A-Z0-9_]+)(?::?-[^}]*)?\}", COMPOSE.read_text()))
    missing = sorted(used - set(documented))
    assert not missing, f"add to compose/.env.example: {missing}"


def test_compose_health_checks_probe_each_services_health_path(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for stage, port in WORKER_PORTS.items():
        svc = services[f"{stage.value}-worker"]
        assert svc["environment"]["METRICS_PORT"] == str(port)
        # compose cannot restart on liveness: its health check is readiness (item 3)
        assert f"http://127.0.0.1:{port}/ready" in " ".join(svc["healthcheck"]["test"])
        # the container stops within WORKER_GRACE_S plus a margin
        grace = int(svc["environment"]["WORKER_GRACE_S"])
        assert int(svc["stop_grace_period"].rstrip("s")) > grace
    edge = services["sip-edge"]
    assert edge["environment"]["SIP_EDGE_METRICS_PORT"] == str(SIP_EDGE_METRICS)
    assert f":{SIP_EDGE_METRICS}/ready" in " ".join(edge["healthcheck"]["test"])
    assert int(edge["stop_grace_period"].rstrip("s")) > float(
        edge["environment"]["SIP_EDGE_DRAIN_GRACE_S"]
    )
    gateway = services["asp-gateway"]
    assert gateway["environment"]["ASP_GATEWAY_PORT"] == str(GATEWAY_PORT)
    assert gateway["environment"]["ASP_GATEWAY_METRICS_PORT"] == str(GATEWAY_METRICS)
    assert gateway["ports"] == [f"${{ASP_GATEWAY_PORT:-{GATEWAY_PORT}}}:{GATEWAY_PORT}"]
    assert f":{GATEWAY_METRICS}/ready" in " ".join(gateway["healthcheck"]["test"])
    assert int(gateway["stop_grace_period"].rstrip("s")) > float(
        gateway["environment"]["SIP_EDGE_DRAIN_GRACE_S"]
    )
    assert "scripts/asterisk.sh" in services["asterisk"]["healthcheck"]["test"]
    assert services["redis"]["ports"] == ["127.0.0.1:6379:6379"], "Redis must stay on loopback"


def test_prometheus_scrapes_every_metrics_port() -> None:
    prom = yaml.safe_load((ROOT / "compose/prometheus/prometheus.yml").read_text())
    jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
    for stage, port in WORKER_PORTS.items():
        assert jobs[f"{stage.value}-worker"]["dns_sd_configs"][0]["port"] == port
    assert jobs["asp-gateway"]["dns_sd_configs"][0]["port"] == GATEWAY_METRICS
    assert jobs["sip-edge"]["static_configs"][0]["targets"] == [
        f"host.docker.internal:{SIP_EDGE_METRICS}"
    ]
    assert "redis" in jobs


def test_redis_exporter_and_dashboard_watch_the_work_streams(compose: dict[str, Any]) -> None:
    pattern = compose["services"]["redis-exporter"]["environment"]["REDIS_EXPORTER_CHECK_STREAMS"]
    for stage in Stage:
        assert fnmatch.fnmatchcase(layout.work_stream(stage), pattern)
    dash = json.loads((ROOT / "compose/grafana/dashboards/pipeline.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    for metric in (
        "sip_edge_active_calls",
        "sip_edge_underruns_total",
        "sip_edge_barge_ins_total",
        "asp_worker_job_seconds_bucket",
        "asp_worker_queue_wait_seconds_bucket",
        "redis_stream_group_lag",
    ):
        assert metric in exprs, metric
    assert all(re.fullmatch(r"asp:work:.*", layout.work_stream(s)) for s in Stage)


# --- kubernetes ---------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", ["cpu", "cpu-hpa", "gpu"])
def test_manifests_match_compose_images_and_ports(
    built: dict[str, list[dict[str, Any]]], compose: dict[str, Any], overlay: str
) -> None:
    docs = built[overlay]
    deployments = kinds(docs, "Deployment")
    compose_images = {image_name(s["image"]) for s in compose["services"].values() if "image" in s}
    for name, dep in deployments.items():
        (container,) = dep["spec"]["template"]["spec"]["containers"]
        assert image_name(container["image"]) in compose_images, f"{name}: {container['image']}"
    for stage, port in WORKER_PORTS.items():
        name = f"{stage.value}-worker"
        (c,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert c["ports"][0]["containerPort"] == port
        # liveness is the process's own loop, readiness Redis + model + engine: a Redis
        # outage makes pods unready, never restarts them
        assert c["livenessProbe"]["httpGet"] == {"path": "/live", "port": "metrics"}
        assert c["startupProbe"]["httpGet"] == {"path": "/live", "port": "metrics"}
        assert c["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
        env = pod_env(docs, name)
        assert env["METRICS_PORT"] == str(port)
        assert env["WORKER_NAME"] == "<from>", "each pod must be its own consumer"
        assert "requests" in c["resources"]
        assert "limits" in c["resources"]
        spec = deployments[name]["spec"]["template"]["spec"]
        assert spec["terminationGracePeriodSeconds"] == int(env["WORKER_GRACE_S"]) + 5
    edge = deployments["sip-edge"]["spec"]["template"]["spec"]
    # sip-edge on the pod network (restricted), Asterisk on the node's (test_least_privilege)
    assert "hostNetwork" not in edge
    assert deployments["asterisk"]["spec"]["template"]["spec"]["hostNetwork"] is True
    edge_env = pod_env(docs, "sip-edge")
    assert edge["terminationGracePeriodSeconds"] == float(edge_env["SIP_EDGE_DRAIN_GRACE_S"]) + 5
    assert edge["containers"][0]["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert edge["containers"][0]["livenessProbe"]["httpGet"]["path"] == "/live"
    assert edge_env["SIP_EDGE_METRICS_PORT"] == str(SIP_EDGE_METRICS)
    gateway = deployments["asp-gateway"]["spec"]["template"]["spec"]
    (gc,) = gateway["containers"]
    assert gc["command"][-3:] == ["python", "-m", "sip_edge.gateway"]
    assert {p["name"]: p["containerPort"] for p in gc["ports"]} == {
        "asp": GATEWAY_PORT,
        "metrics": GATEWAY_METRICS,
    }
    assert gc["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
    assert gc["livenessProbe"]["httpGet"] == {"path": "/live", "port": "metrics"}
    gateway_env = pod_env(docs, "asp-gateway")
    assert gateway_env["ASP_GATEWAY_PORT"] == str(GATEWAY_PORT)
    assert gateway_env["ASP_GATEWAY_METRICS_PORT"] == str(GATEWAY_METRICS)
    # the token comes from the Secret file, not from an environment variable of the pod
    assert len(gateway_env["ASP_GATEWAY_TOKEN"]) >= 32
    assert "ASP_GATEWAY_TOKEN" not in {e["name"] for e in gc.get("env", [])}
    assert (
        gateway["terminationGracePeriodSeconds"] == float(gateway_env["SIP_EDGE_DRAIN_GRACE_S"]) + 5
    )
    service = kinds(docs, "Service")["asp-gateway"]
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]}["asp"] == GATEWAY_PORT
    assert service["spec"]["selector"] == {"app.kubernetes.io/name": "asp-gateway"}
    assert set(kinds(docs, "PodDisruptionBudget")) >= {"stt-worker", "llm-worker", "tts-worker"}
    assert "redis" in kinds(docs, "StatefulSet")


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_keda_scales_each_worker_on_its_consumer_group(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    scaled = kinds(built[overlay], "ScaledObject")
    assert set(scaled) == {f"{s.value}-worker" for s in Stage} | {"asp-gateway"}
    deployments = kinds(built[overlay], "Deployment")
    for stage in Stage:
        so = scaled[f"{stage.value}-worker"]
        assert so["apiVersion"] == "keda.sh/v1alpha1"
        assert so["spec"]["scaleTargetRef"]["name"] in deployments
        assert so["spec"]["minReplicaCount"] >= 1
        (trigger,) = so["spec"]["triggers"]
        assert trigger["type"] == "redis-streams"
        meta = trigger["metadata"]
        assert meta["stream"] == layout.work_stream(stage)
        assert meta["consumerGroup"] == layout.consumer_group(stage)
        assert int(meta["lagCount"]) >= 1
        host = meta["address"].split(":")[0]
        redis_url = pod_env(built[overlay], f"{stage.value}-worker")["REDIS_URL"]
        assert host in redis_url


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_keda_scales_the_gateway_on_its_connections(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    """asp-gateway scales on the connections it holds: the gauge its metrics export, summed
    over the pods of the namespace, never below the Deployment's replicas."""
    so = kinds(built[overlay], "ScaledObject")["asp-gateway"]
    deployment = kinds(built[overlay], "Deployment")["asp-gateway"]
    assert so["spec"]["scaleTargetRef"]["name"] == "asp-gateway"
    assert so["spec"]["minReplicaCount"] >= deployment["spec"]["replicas"]
    (trigger,) = so["spec"]["triggers"]
    assert trigger["type"] == "prometheus"
    query = trigger["metadata"]["query"]
    registry = CollectorRegistry()
    GatewayMetrics(registry)
    gauge = "asp_gateway_connections"
    assert f"# TYPE {gauge} gauge" in generate_latest(registry).decode()  # the gateway's own
    assert f"sum({gauge}{{" in query
    namespace = deployment["metadata"].get("namespace") or "pabx"
    assert f'namespace="{namespace}"' in query
    assert int(trigger["metadata"]["threshold"]) >= 1
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"  # Prometheus has the gauge to sum


def test_hpa_overlay_scales_each_worker(built: dict[str, list[dict[str, Any]]]) -> None:
    hpas = kinds(built["cpu-hpa"], "HorizontalPodAutoscaler")
    assert set(hpas) == {f"{s.value}-worker" for s in Stage}
    assert not kinds(built["cpu-hpa"], "ScaledObject")


def test_gpu_overlay_puts_stt_on_cuda(built: dict[str, list[dict[str, Any]]]) -> None:
    gpu = kinds(built["gpu"], "Deployment")["stt-worker"]["spec"]["template"]["spec"]
    (c,) = gpu["containers"]
    assert c["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert c["image"].endswith("-cuda")
    assert pod_env(built["gpu"], "stt-worker")["STT_DEVICE"] == "cuda"
    cpu = kinds(built["cpu"], "Deployment")["stt-worker"]["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in cpu["containers"][0]["resources"]["limits"]
    assert pod_env(built["cpu"], "stt-worker")["STT_DEVICE"] == "cpu"


@pytest.mark.parametrize("overlay", ["cpu"])
def test_configmap_keys_are_documented(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = built[overlay]
    for name in ("stt-worker", "llm-worker", "tts-worker", "sip-edge", "asp-gateway", "asterisk"):
        documented = env_file(ENV_EXAMPLE[name])
        if name == "llm-worker":  # POSTCALL_WEBHOOK_URL: documented in compose/.env.example
            documented |= env_file(ROOT / "compose/.env.example")
        # a variable the pod spec only expands into another ($(NODE_IP) of sip-edge's
        # registrar) is the manifest's own, not the service's: k8s/base/config/*.env says why
        container = kinds(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"][0]
        inputs = {
            ref
            for e in container.get("env", [])
            for ref in re.findall(r"\$\((\w+)\)", e.get("value", ""))
        }
        for key in pod_env(docs, name).keys() - inputs:
            assert key in documented, (
                f"{name}: {key} is not in {ENV_EXAMPLE[name].relative_to(ROOT)}"
            )


@pytest.mark.integration  # git
def test_no_secret_value_is_committed() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "k8s", "compose"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert {p for p in tracked if p.startswith("k8s/base/secrets/")} <= {
        "k8s/base/secrets/.gitignore",
        "k8s/base/secrets/README.md",
    }
    assert "compose/.env" not in tracked
    base = yaml.safe_load((ROOT / "k8s/base/kustomization.yaml").read_text())
    for gen in base["secretGenerator"]:
        assert "literals" not in gen, gen["name"]
    for p in tracked:
        if p.endswith((".yaml", ".yml", ".env")) and Path(ROOT / p).is_file():
            text = (ROOT / p).read_text()
            assert not re.search(r"PASSWORD=\S", text), p
            assert "sk-ant-" not in text or p.endswith("README.md"), p


# --- Dockerfiles (they cannot be built here: check what a build would need) ---------------


@pytest.mark.parametrize("dockerfile", pods.dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_dockerfile_copies_files_that_exist_and_are_not_dockerignored(dockerfile: Path) -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "!"))
    ]
    lines = [ln for ln in dockerfile.read_text().splitlines() if not ln.lstrip().startswith("#")]
    text = "\n".join(lines).replace("\\\n", " ")
    copies = [line.split()[1:] for line in text.splitlines() if line.startswith("COPY ")]
    assert copies, dockerfile
    for args in copies:
        if any(a.startswith("--from") for a in args):
            continue
        for src in args[:-1]:
            assert (ROOT / src).exists(), f"{dockerfile.name}: COPY {src} (no such path)"
            for pattern in ignored:
                assert not fnmatch.fnmatch(src, pattern.removeprefix("**/")), (src, pattern)
    # every repository script a RUN line calls is copied in first
    copied = " ".join(" ".join(a) for a in copies)
    for script in re.findall(r"(scripts/[\w./-]+\.(?:sh|py))", text):
        if f"RUN bash {script}" in text or f" {script}" in text.split("COPY", 1)[-1]:
            assert script in copied or script.rsplit("/", 1)[0] + "/" in copied, script
    # and in the stage that runs it or a stage that one is FROM (a Dockerfile of several
    # targets: not in a sibling stage)
    stages = pods.stages(dockerfile)
    for name, stage in stages.items():
        runs = " ".join(ln for ln in stage.splitlines() if ln.startswith("RUN "))
        chain = "".join(pods.chain(stages, name))
        sources = {
            src
            for line in chain.splitlines()
            if line.startswith("COPY ") and "--from" not in line
            for src in line.split()[1:-1]
        }
        for script in re.findall(r"(?:^| )(scripts/[\w./-]+\.(?:sh|py))", runs):
            inside = [s for s in sources if script == s or script.startswith(s.rstrip("/") + "/")]
            assert inside, f"{dockerfile.name} {name}: {script} is not copied in"


def test_dashboard_metrics_exist_in_the_code() -> None:
    """Every sip_edge_* / asp_worker_* series the Grafana panels query is defined in code."""
    dash = json.loads((ROOT / "compose/grafana/dashboards/pipeline.json").read_text())
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    code = (ROOT / "services/sip-edge/src/sip_edge/metrics.py").read_text()
    code += (ROOT / "libs/pipeline/src/pipeline/metrics.py").read_text()
    # prometheus_client exposes counter "x" and "x_total" both as x_total
    names = re.findall(r'(?:Counter|Gauge|Histogram)\(\s*"([a-z_]+)"', code)
    defined = {n.removesuffix("_total") for n in names}
    used = set(re.findall(r"\b((?:sip_edge|asp_worker)_[a-z_]+)", exprs))
    assert used
    for series in used:
        base = re.sub(r"_(total|bucket|sum|count)$", "", series)
        assert base in defined, f"{series}: no metric {base} in the code"


# --- Redis: bounded memory, nothing of a live call evicted --------------------------------

MEMORY_UNITS = {"kb": 1000, "mb": 1000**2, "gb": 1000**3, "ki": 1024, "mi": 1024**2, "gi": 1024**3}


def memory_bytes(value: str) -> int:
    """768mb, 1Gi, 512Mi... in bytes (Redis's and Kubernetes's spellings)."""
    match = re.fullmatch(r"(\d+)([kmg]i?b?)", value.strip().lower())
    assert match, f"not a memory size: {value!r}"
    unit = match.group(2).removesuffix("b")
    factor = MEMORY_UNITS[unit if unit.endswith("i") else unit + "b"]
    return int(match.group(1)) * factor


def redis_flag(argv: list[str], flag: str) -> str:
    assert flag in argv, f"redis-server without {flag}: {argv}"
    return argv[argv.index(flag) + 1]


def test_memory_size_parser_rejects_malformed_sizes() -> None:
    assert memory_bytes("768mb") == 768 * 1000**2
    assert memory_bytes("1Gi") == 1024**3
    for bad in ("", "lots", "12 parsecs", "-1mb"):
        with pytest.raises(AssertionError):
            memory_bytes(bad)


def test_every_redis_has_maxmemory_and_evicts_nothing(
    compose: dict[str, Any], built: dict[str, list[dict[str, Any]]]
) -> None:
    """compose, k8s and `make up` start Redis with a memory bound below what its container
    may use, and the noeviction policy: every live-call key has a TTL, so a volatile-*
    policy would evict live calls; allkeys-* would too."""
    argv = [
        re.sub(r"\$\{REDIS_MAXMEMORY:-([^}]*)\}", r"\1", a)
        for a in compose["services"]["redis"]["command"]
    ]
    assert redis_flag(argv, "--maxmemory-policy") == "noeviction"
    assert memory_bytes(redis_flag(argv, "--maxmemory")) > 0
    documented = env_file(ROOT / "compose/.env.example")["REDIS_MAXMEMORY"]
    assert documented == redis_flag(argv, "--maxmemory")
    for overlay, docs in built.items():
        (c,) = kinds(docs, "StatefulSet")["redis"]["spec"]["template"]["spec"]["containers"]
        assert redis_flag(c["args"], "--maxmemory-policy") == "noeviction", overlay
        bound = memory_bytes(redis_flag(c["args"], "--maxmemory"))
        limit = memory_bytes(c["resources"]["limits"]["memory"])
        # room for the AOF rewrite's fork and the client buffers above maxmemory
        assert bound <= 0.8 * limit, (overlay, bound, limit)
    script = (ROOT / "scripts/redis.sh").read_text()
    assert re.search(r"--maxmemory \"\$\{REDIS_MAXMEMORY:-\d+[kmg]b\}\"", script)
    assert "--maxmemory-policy noeviction" in script


def test_audio_retention_and_redis_timeouts_agree_everywhere(
    compose: dict[str, Any], built: dict[str, list[dict[str, Any]]]
) -> None:
    """KEEP_CALL_AUDIO (off by default, LGPD) and REDIS_SOCKET_TIMEOUT_S reach the edge and
    every worker with one value: an edge that keeps audio while a worker deletes it (or the
    reverse) would make the setting a lie."""
    services = compose["services"]
    for key, default in (("KEEP_CALL_AUDIO", "false"), ("REDIS_SOCKET_TIMEOUT_S", "5")):
        assert env_file(ROOT / "compose/.env.example")[key] == default
        for name in ("sip-edge", "stt-worker", "llm-worker", "tts-worker", "postcall-worker"):
            assert services[name]["environment"][key] == f"${{{key}:-{default}}}", name
        for name in ("sip-edge", "stt-worker", "llm-worker", "tts-worker"):
            assert env_file(ENV_EXAMPLE[name])[key] == default, name
            assert pod_env(built["cpu"], name)[key] == default, name
