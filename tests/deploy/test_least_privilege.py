"""Least privilege in the containers and in k8s (issue 15, item 6): the Pod Security labels of
the two namespaces, every workload's securityContext checked against the "restricted" Pod
Security Standard (the host network of Asterisk the only exception, in its own namespace, kept
to it by a ValidatingAdmissionPolicy), sip-edge on the pod network reachable only from
Asterisk's node, Asterisk as its own user in the image, compose and k8s, secrets as files,
and resource bounds and a read-only root filesystem on every compose service. Each check is
also shown a broken input."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pipeline.testing import load_script
from sip_edge.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
pods = load_script(ROOT / "tests" / "deploy" / "pods.py")

WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
CLUSTER_KINDS = {"Namespace", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
VOICE_NS = "pabx-voice"
APP_NS = "pabx"
ASTERISK_UID = 10002
# the volume types "restricted" admits
RESTRICTED_VOLUMES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


def workloads(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] in WORKLOAD_KINDS}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return dict(spec["template"]["spec"])


def restricted_violations(pod: dict[str, Any]) -> list[str]:
    """What of the pod breaks the "restricted" Pod Security Standard (Kubernetes 1.25+ rules,
    as the admission controller checks them), one line per finding."""
    found = []
    psc = pod.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            found.append(key)
    for v in pod.get("volumes", []):
        kinds = set(v) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            found.append(f"volume {v['name']}: {sorted(kinds)}")
    if (psc.get("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
        found.append("pod seccompProfile")
    if psc.get("runAsUser") == 0:
        found.append("pod runAsUser 0")
    containers = [*pod.get("initContainers", []), *pod["containers"]]
    for c in containers:
        sc = c.get("securityContext") or {}
        name = c["name"]
        if sc.get("privileged"):
            found.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"{name}: allowPrivilegeEscalation")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            found.append(f"{name}: capabilities not dropped")
        if set(caps.get("add") or []) - {"NET_BIND_SERVICE"}:
            found.append(f"{name}: capabilities added {caps['add']}")
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")) is not True:
            found.append(f"{name}: runAsNonRoot")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            found.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or psc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            found.append(f"{name}: seccompProfile")
        for port in c.get("ports", []):
            if port.get("hostPort") and not pod.get("hostNetwork"):
                found.append(f"{name}: hostPort")
    return found


def hardening_gaps(pod: dict[str, Any]) -> list[str]:
    """What this project asks beyond "restricted": a high numeric uid (not the host's users),
    a read-only root filesystem and no service-account token."""
    found = []
    psc = pod.get("securityContext") or {}
    for c in pod["containers"]:
        sc = c.get("securityContext") or {}
        uid = sc.get("runAsUser", psc.get("runAsUser"))
        if not isinstance(uid, int) or uid < 10000:
            found.append(f"{c['name']}: runAsUser {uid}")
        if sc.get("readOnlyRootFilesystem") is not True:
            found.append(f"{c['name']}: readOnlyRootFilesystem")
    if pod.get("automountServiceAccountToken") is not False:
        found.append("automountServiceAccountToken")
    return found


def test_the_restricted_checker_flags_each_broken_property() -> None:
    good = {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "automountServiceAccountToken": False,
        "containers": [
            {
                "name": "c",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    assert restricted_violations(good) == []
    assert hardening_gaps(good) == []

    def broken(path: str, value: Any) -> dict[str, Any]:
        pod = copy.deepcopy(good)
        where: Any = pod
        *keys, last = path.split(".")
        for key in keys:
            where = where[int(key)] if key.isdigit() else where[key]
        if value is None:
            del where[last]
        else:
            where[last] = value
        return pod

    for path, value in [
        ("securityContext.runAsNonRoot", None),
        ("securityContext.runAsNonRoot", False),
        ("securityContext.runAsUser", 0),
        ("securityContext.seccompProfile", None),
        ("securityContext.seccompProfile", {"type": "Unconfined"}),
        ("hostNetwork", True),
        ("hostPID", True),
        ("volumes", [{"name": "h", "hostPath": {"path": "/"}}]),
        ("containers.0.securityContext.allowPrivilegeEscalation", None),
        ("containers.0.securityContext.privileged", True),
        ("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}),
        ("containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["CHOWN"]}),
        ("containers.0.securityContext.runAsUser", 0),
    ]:
        assert restricted_violations(broken(path, value)), (path, value)
    for path, value in [
        ("securityContext.runAsUser", 101),
        ("containers.0.securityContext.readOnlyRootFilesystem", None),
        ("automountServiceAccountToken", None),
    ]:
        assert hardening_gaps(broken(path, value)), (path, value)


@pytest.fixture(params=["cpu", "cpu-hpa", "gpu"])
def docs(
    built: dict[str, list[dict[str, Any]]], request: pytest.FixtureRequest
) -> list[dict[str, Any]]:
    """The documents of each overlay in turn (the test runs once for each)."""
    return built[request.param]


def test_namespaces_enforce_pod_security_restricted_but_for_the_host_network_pod(
    docs: list[dict[str, Any]],
) -> None:
    namespaces = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Namespace"}
    assert set(namespaces) == {"pabx", VOICE_NS}
    labels = namespaces["pabx"]["metadata"]["labels"]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted", mode
    voice = namespaces[VOICE_NS]["metadata"]["labels"]
    # the host network is refused by baseline too: privileged is the only level that admits
    # it; warn and audit keep reporting every deviation from restricted
    assert voice["pod-security.kubernetes.io/enforce"] == "privileged"
    assert voice["pod-security.kubernetes.io/warn"] == "restricted"
    assert voice["pod-security.kubernetes.io/audit"] == "restricted"
    all_workloads = workloads(docs)
    in_voice = {n for n, w in all_workloads.items() if w["metadata"].get("namespace") == VOICE_NS}
    assert in_voice == {"asterisk"}, "only the host-network pod lives in pabx-voice"
    # sip-edge is on the pod network, under restricted (test_sip_edge_*)
    assert all_workloads["sip-edge"]["metadata"]["namespace"] == APP_NS
    for name, w in all_workloads.items():
        ns = w["metadata"].get("namespace")
        assert ns in namespaces, (name, ns)
        assert bool(pod_spec(w).get("hostNetwork")) == (ns == VOICE_NS), name
    for d in docs:  # every namespaced object names one of the two (none falls to "default")
        if d["kind"] in CLUSTER_KINDS:
            assert "namespace" not in d["metadata"], (d["kind"], d["metadata"]["name"])
        else:
            assert d["metadata"].get("namespace") in namespaces, (d["kind"], d["metadata"]["name"])
    for d in docs:  # nothing else lands in the privileged namespace but what those pods use
        if d["metadata"].get("namespace") == VOICE_NS and d["kind"] not in WORKLOAD_KINDS:
            assert d["kind"] in {"ConfigMap", "Secret", "PodDisruptionBudget"}, d["kind"]


def test_every_workload_meets_restricted_except_the_host_network(
    docs: list[dict[str, Any]],
) -> None:
    all_workloads = workloads(docs)
    assert {"asterisk", "sip-edge", "redis", "softphone", "llm-worker"} <= set(all_workloads)
    for name, w in all_workloads.items():
        pod = pod_spec(w)
        allowed = ["hostNetwork"] if w["metadata"].get("namespace") == VOICE_NS else []
        assert restricted_violations(pod) == allowed, name
        assert hardening_gaps(pod) == [], name


def voice_guard_gaps(docs: list[dict[str, Any]]) -> list[str]:
    """What the admission guard of pabx-voice lacks: a ValidatingAdmissionPolicy on every pod
    created or updated there, failing closed, bound with Deny to that namespace, with a rule
    on each thing the "privileged" Pod Security level leaves open, whose one exception (the
    host network) is the label Asterisk's pod carries."""
    found = []
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}
    bindings = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    voice = {"matchLabels": {"kubernetes.io/metadata.name": VOICE_NS}}
    bound = [
        b
        for b in bindings
        if b["spec"].get("matchResources", {}).get("namespaceSelector") == voice
        and "Deny" in b["spec"].get("validationActions", [])
        and b["spec"].get("policyName") in policies
    ]
    if not bound:
        return ["no policy bound with Deny to pabx-voice"]
    for b in bound:
        policy = policies[b["spec"]["policyName"]]["spec"]
        if policy.get("failurePolicy", "Fail") != "Fail":
            found.append("failurePolicy")
        rules = policy.get("matchConstraints", {}).get("resourceRules", [])
        if not any(
            "pods" in r.get("resources", [])
            and {"CREATE", "UPDATE"} <= set(r.get("operations", []))
            and r.get("apiGroups") == [""]
            for r in rules
        ):
            found.append("pods on CREATE and UPDATE")
        checks = " ".join(v["expression"] for v in policy.get("validations", []))
        for field in ("hostNetwork", "hostPID", "hostIPC", "hostPath", "privileged", "hostPort"):
            if f".{field}" not in checks:
                found.append(f"no rule on {field}")
        if "capabilities.add" not in checks:
            found.append("no rule on added capabilities")
        if "ephemeralContainers" not in checks or "initContainers" not in checks:
            found.append("containers other than the main ones")
        asterisk = workloads(docs)["asterisk"]["spec"]["template"]["metadata"]["labels"]
        exception = re.search(r"labels\['([\w./-]+)'\] == '([\w-]+)'", checks)
        if not exception or asterisk.get(exception.group(1)) != exception.group(2):
            found.append("the host-network exception is not Asterisk's label")
    return found


def test_an_admission_policy_keeps_pabx_voice_to_asterisks_host_network(
    docs: list[dict[str, Any]],
) -> None:
    assert voice_guard_gaps(docs) == []
    # the same check sees each way to weaken it
    vap = "ValidatingAdmissionPolicy"
    for kind, path, value in [
        (vap + "Binding", "spec.validationActions", ["Warn"]),
        (vap + "Binding", "spec.matchResources.namespaceSelector.matchLabels", {"x": "y"}),
        (vap, "spec.failurePolicy", "Ignore"),
        (vap, "spec.validations", []),
        (vap, "spec.matchConstraints.resourceRules.0.operations", ["CREATE"]),
    ]:
        broken = copy.deepcopy(docs)
        (doc,) = [d for d in broken if d["kind"] == kind]
        *keys, last = path.split(".")
        where: Any = doc
        for key in keys:
            where = where[int(key)] if key.isdigit() else where[key]
        where[last] = value
        assert voice_guard_gaps(broken), (kind, path)
    renamed = copy.deepcopy(docs)
    labels = workloads(renamed)["asterisk"]["spec"]["template"]["metadata"]["labels"]
    labels["app.kubernetes.io/name"] = "pbx"
    assert voice_guard_gaps(renamed) == ["the host-network exception is not Asterisk's label"]


def configmap_env(docs: list[dict[str, Any]], workload: dict[str, Any]) -> dict[str, str]:
    (c,) = pod_spec(workload)["containers"]
    env: dict[str, str] = {}
    for ref in c.get("envFrom", []):
        name = ref["configMapRef"]["name"]
        (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name]
        env.update(cm["data"])
    return env


def kubelet_env(
    container: dict[str, Any], from_configmaps: dict[str, str], fields: dict[str, str]
) -> dict[str, str]:
    """The container's environment as the kubelet builds it: envFrom first, then env in
    order, each $(VAR) replaced by a variable defined before it (an unknown one stays as it
    is), fieldRef values from ``fields``."""
    env = dict(from_configmaps)
    for e in container.get("env", []):
        if "valueFrom" in e:
            env[e["name"]] = fields[e["valueFrom"]["fieldRef"]["fieldPath"]]
        else:
            env[e["name"]] = re.sub(
                r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), e.get("value", "")
            )
    return env


def sip_edge_network_gaps(docs: list[dict[str, Any]]) -> list[str]:
    """What keeps sip-edge from the pod network of Asterisk's node: it must run in the
    restricted namespace without the host network or a host port, be a Redis client by label,
    and be scheduled beside Asterisk's pod (its node's address is the registrar)."""
    found = []
    w = workloads(docs)["sip-edge"]
    pod = pod_spec(w)
    if w["metadata"].get("namespace") != APP_NS:
        found.append("namespace")
    if pod.get("hostNetwork"):
        found.append("hostNetwork")
    if any(p.get("hostPort") for c in pod["containers"] for p in c.get("ports", [])):
        found.append("hostPort")
    if w["spec"]["template"]["metadata"]["labels"].get("pabx.io/redis-client") != "true":
        found.append("not a Redis client")
    terms = (
        pod.get("affinity", {})
        .get("podAffinity", {})
        .get("requiredDuringSchedulingIgnoredDuringExecution", [])
    )
    if not any(
        t["labelSelector"].get("matchLabels") == {"app.kubernetes.io/name": "asterisk"}
        and t.get("namespaces") == [VOICE_NS]
        and t["topologyKey"] == "kubernetes.io/hostname"
        for t in terms
    ):
        found.append("not on Asterisk's node")
    return found


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_sip_edge_runs_on_the_pod_network_and_takes_invites_only_from_asterisk(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = built[overlay]
    assert sip_edge_network_gaps(docs) == []
    for path, value in [
        ("metadata.namespace", VOICE_NS),
        ("spec.template.spec.hostNetwork", True),
        ("spec.template.spec.affinity", {}),
        ("spec.template.metadata.labels", {"app.kubernetes.io/name": "sip-edge"}),
    ]:
        broken = copy.deepcopy(docs)
        where: Any = workloads(broken)["sip-edge"]
        *keys, last = path.split(".")
        for key in keys:
            where = where[key]
        where[last] = value
        assert sip_edge_network_gaps(broken), path
    # the process's settings, from the pod's environment as the kubelet expands it, read by
    # sip-edge's own Settings: the registrar is the node's Asterisk, the INVITEs' sources
    # the node's addresses only, and each INVITE must answer the digest challenge
    w = workloads(docs)["sip-edge"]
    (c,) = pod_spec(w)["containers"]
    cm = configmap_env(docs, w)
    asterisk_sip = {
        p["name"]: p["containerPort"]
        for p in pod_spec(workloads(docs)["asterisk"])["containers"][0]["ports"]
    }["sip"]
    node, cni = "192.0.2.10", "10.42.0.1"
    for extra in (cm["SIP_EDGE_NODE_SOURCES"], cni):
        env = kubelet_env(c, {**cm, "SIP_EDGE_NODE_SOURCES": extra}, {"status.hostIP": node})
        assert not any("$(" in v for v in env.values()), env
        settings = Settings.from_env({**env, "EXT_2000_PASSWORD": "from-the-secret-file"})
        assert settings.registrar == f"{node}:{asterisk_sip}"
        assert settings.digest_auth is True
        policy = settings.source_policy()
        assert policy.allows(f"{node}:{asterisk_sip}")
        assert policy.allows(f"{cni}:{asterisk_sip}") == (extra == cni)
        for other in ("10.42.0.7:5060", "203.0.113.9:5060", "127.0.0.1:5160"):
            assert not policy.allows(other), other
    assert cm["SIP_EDGE_NODE_SOURCES"] == ""  # the operator's, per CNI (docs/DEPLOY.md)


def sip_edge_policy_gaps(docs: list[dict[str, Any]]) -> list[str]:
    """What the NetworkPolicies leave open around sip-edge: every rule that selects it may
    admit only /metrics (its SIP and RTP come from its own node, which a pod always admits)
    and reach only Asterisk's SIP and RTP ports on private addresses (plus DNS and Redis by
    the shared rules); Redis admits no address block (no host-network client is left)."""
    found = []
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    labels = workloads(docs)["sip-edge"]["spec"]["template"]["metadata"]["labels"]
    asterisk_ports = {5160, 10000}

    def selects(p: dict[str, Any]) -> bool:
        sel = p["spec"]["podSelector"]
        return all(labels.get(k) == v for k, v in sel.get("matchLabels", {}).items()) and all(
            labels.get(e["key"]) in e["values"] for e in sel.get("matchExpressions", [])
        )

    own = [p for p in policies if selects(p)]
    if not any(p["metadata"]["name"] == "sip-edge" for p in own):
        found.append("no policy of its own")
    for p in own:
        name = p["metadata"]["name"]
        for rule in p["spec"].get("ingress", []):
            if rule.get("from") or rule.get("ports") != [{"port": "metrics", "protocol": "TCP"}]:
                found.append(f"{name}: ingress {rule}")
        if name != "sip-edge":
            continue
        for rule in p["spec"].get("egress", []):
            ports = {q["port"] for q in rule.get("ports", [])}
            if not rule.get("to") or not ports or not ports <= asterisk_ports:
                found.append(f"{name}: egress {rule}")
            for peer in rule.get("to", []):
                cidr = peer.get("ipBlock", {}).get("cidr", "")
                if cidr not in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"):
                    found.append(f"{name}: egress to {peer}")
            for q in rule.get("ports", []):
                if q["protocol"] != "UDP" or (q["port"] == 10000 and q.get("endPort") != 10299):
                    found.append(f"{name}: egress port {q}")
    for p in policies:
        if p["metadata"]["name"] == "redis":
            for rule in p["spec"]["ingress"]:
                if any("ipBlock" in peer for peer in rule.get("from", [])):
                    found.append("redis admits an address block")
    return found


def test_network_policies_open_sip_edge_to_asterisk_and_redis_only(
    docs: list[dict[str, Any]],
) -> None:
    assert sip_edge_policy_gaps(docs) == []
    # Asterisk's RTP range is the one sip-edge may send to (rtp.conf)
    rtp = (ROOT / "compose/asterisk/config/rtp.conf").read_text()
    assert re.search(r"(?m)^rtpstart=10000$", rtp)
    assert re.search(r"(?m)^rtpend=10299$", rtp)

    def broken(change: Any) -> list[dict[str, Any]]:
        out = copy.deepcopy(docs)
        (policy,) = [
            d for d in out if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "sip-edge"
        ]
        change(policy["spec"])
        return out

    udp_all = {"ports": [{"port": 5070, "protocol": "UDP"}]}
    for change in [
        lambda s: s["ingress"].append(udp_all),
        lambda s: s["ingress"].append({"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}], **udp_all}),
        lambda s: s["egress"][0]["to"].append({"ipBlock": {"cidr": "0.0.0.0/0"}}),
        lambda s: s["egress"][0]["ports"].append({"port": 6379, "protocol": "TCP"}),
        lambda s: s["egress"].append({"ports": [{"port": 5160, "protocol": "UDP"}]}),
        lambda s: s["egress"][0]["ports"][1].pop("endPort"),
    ]:
        assert sip_edge_policy_gaps(broken(change)), change
    no_policy = [
        d for d in docs if d["metadata"]["name"] != "sip-edge" or d["kind"] != "NetworkPolicy"
    ]
    assert sip_edge_policy_gaps(no_policy) == ["no policy of its own"]
    wide = copy.deepcopy(docs)
    (redis,) = [
        d for d in wide if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == "redis"
    ]
    redis["spec"]["ingress"][0]["from"].append({"ipBlock": {"cidr": "10.0.0.0/8"}})
    assert sip_edge_policy_gaps(wide) == ["redis admits an address block"]


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_no_secret_is_an_environment_variable(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = built[overlay]
    for name, w in workloads(docs).items():
        pod = pod_spec(w)
        files = pods.mounted_secret_files(docs, w)
        for c in [*pod.get("initContainers", []), *pod["containers"]]:
            for e in c.get("env", []):
                assert "secretKeyRef" not in e.get("valueFrom", {}), (name, e["name"])
            for e in c.get("envFrom", []):
                assert "secretRef" not in e, (name, e)
            env = {e["name"]: e.get("value", "") for e in c.get("env", [])}
            # every secrets file a process is told to read is mounted from a Secret
            for var in ("PABX_ENV_FILES", "PABX_ENV_FILE"):
                for path in env.get(var, "").split():
                    assert path in files, (name, var, path, sorted(files))
        for m in (m for c in pod["containers"] for m in c.get("volumeMounts", [])):
            volume: dict[str, Any] = next((v for v in pod["volumes"] if v["name"] == m["name"]), {})
            if "secret" in volume:  # (no volume: a StatefulSet's claim template)
                assert m.get("readOnly") is True, (name, m)
                assert volume["secret"].get("defaultMode", 0o644) & 0o007 == 0, (name, m)


def final_user(dockerfile: Path) -> str:
    text = dockerfile.read_text()
    final = re.split(r"(?m)^FROM ", text)[-1]
    users: list[str] = re.findall(r"(?m)^USER (\S+)", final)
    assert users, dockerfile
    return users[-1]


def asterisk_runs_as_its_own_user(dockerfile: str, entrypoint: str) -> list[str]:
    """What makes the Asterisk image serve as root: no USER of uid 10002 in the final stage,
    or an entrypoint that starts Asterisk as root (-U root) or never drops root."""
    found = []
    final = re.split(r"(?m)^FROM ", dockerfile)[-1]
    users = re.findall(r"(?m)^USER (\S+)", final)
    if not users or users[-1].split(":")[0] != str(ASTERISK_UID):
        found.append(f"USER {users[-1] if users else None}")
    if not re.search(rf"usermod -u {ASTERISK_UID} .*asterisk", final):
        found.append("the asterisk user's uid is not fixed")
    starts = [ln.strip() for ln in entrypoint.splitlines() if re.match(r"\s*exec asterisk\b", ln)]
    if not starts:
        found.append("no exec asterisk")
    for line in starts:
        if re.search(r"-U\s+root|-G\s+root", line):
            found.append(line)
    # the branch for a root start must drop to the asterisk user
    root_branch = re.search(r'if \[ "\$\(id -u\)" = 0 \]; then(.*?)\bfi\b', entrypoint, re.S)
    if not root_branch or "-U asterisk -G asterisk" not in root_branch.group(1):
        found.append("a root start does not drop to asterisk")
    return found


def test_asterisk_image_runs_as_its_own_user() -> None:
    dockerfile = (ROOT / "compose/asterisk/Dockerfile").read_text()
    entrypoint = (ROOT / "compose/asterisk/entrypoint.sh").read_text()
    assert asterisk_runs_as_its_own_user(dockerfile, entrypoint) == []
    # the same check sees each way back to root
    assert asterisk_runs_as_its_own_user(dockerfile.replace("USER 10002:10002", ""), entrypoint)
    assert asterisk_runs_as_its_own_user(dockerfile + "USER root\n", entrypoint)
    back = entrypoint.replace(
        'exec asterisk -C "$conf" -f "$@"', 'exec asterisk -C "$conf" -f -U root -G root "$@"'
    )
    assert back != entrypoint
    assert asterisk_runs_as_its_own_user(dockerfile, back)
    assert asterisk_runs_as_its_own_user(
        dockerfile, entrypoint.replace("-U asterisk -G asterisk", "")
    )
    # Asterisk's uid is none of the other images' (10001), so it reads none of their files
    others = [p for p in pods.dockerfiles() if p != ROOT / "compose/asterisk/Dockerfile"]
    assert ROOT / "services/Dockerfile" in others
    for other in others:
        for target, image in pods.images(other).items():
            users = re.findall(r"(?m)^USER (\S+)", image)
            assert users, (other, target)
            assert users[-1].split(":")[0] != str(ASTERISK_UID), (other, target)


@pytest.mark.parametrize("overlay", ["cpu", "gpu"])
def test_k8s_asterisk_is_not_root_and_reads_its_secrets_as_files(
    built: dict[str, list[dict[str, Any]]], overlay: str
) -> None:
    docs = built[overlay]
    w = workloads(docs)["asterisk"]
    pod = pod_spec(w)
    psc = pod["securityContext"]
    assert psc["runAsNonRoot"] is True
    assert psc["runAsUser"] == psc["runAsGroup"] == psc["fsGroup"] == ASTERISK_UID
    assert str(psc["runAsUser"]) == final_user(ROOT / "compose/asterisk/Dockerfile").split(":")[0]
    (c,) = pod["containers"]
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}  # no capability added
    env = {e["name"]: e.get("value") for e in c.get("env", [])}
    files = pods.mounted_secret_files(docs, w)
    extensions = pods.env_lines(files[env["PABX_ENV_FILE"]])
    assert {f"EXT_{e}_PASSWORD" for e in (1001, 1002, 1003, 1004, 1005, 2000)} <= set(extensions)
    # its TLS pair where asterisk.sh looks for it (PABX_CERT_DIR, default compose/certs)
    cert_dir = env.get("PABX_CERT_DIR", "/opt/pabx/compose/certs")
    assert {f"{cert_dir}/asterisk.crt", f"{cert_dir}/asterisk.key"} <= set(files)
    # everything it writes lies on emptyDirs (read-only root filesystem)
    writable = {
        m["mountPath"]
        for m in c["volumeMounts"]
        if "emptyDir" in next(v for v in pod["volumes"] if v["name"] == m["name"])
    }
    assert {"/opt/pabx/.run", "/tmp"} <= writable
    dockerfile = (ROOT / "compose/asterisk/Dockerfile").read_text()
    assert "RUN_DIR=/opt/pabx/.run" in dockerfile
    assert "PABX_CACHE=/opt/pabx/.run/" in dockerfile  # lib.sh creates it at every start


def test_compose_asterisk_runs_as_its_own_user_with_its_own_secret_copies(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    init = (ROOT / "compose/init/secrets-init.sh").read_text()
    # only init runs as root (it writes compose/.env and each service's copies)
    assert services["init"]["user"] == "0:0"
    for name, svc in services.items():
        if name != "init":
            assert str(svc.get("user", "")).split(":")[0] not in ("0", "root"), name
    ast = services["asterisk"]
    assert "user" not in ast  # the image's USER, uid 10002
    assert ast["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in ast["security_opt"]
    # not the whole compose/ folder (compose/.env holds every password and the LLM keys)
    assert not any(str(v).startswith("./:") for v in ast["volumes"]), ast["volumes"]
    assert "pabx-secrets:/run/pabx-secrets:ro" in ast["volumes"]
    env = ast["environment"]
    # the files init writes for uid 10002 are the ones asterisk.sh reads
    wanted = {
        env["PABX_ENV_FILE"]: "0400",
        env["PABX_CERT_DIR"] + "/asterisk.key": "0400",
        env["PABX_CERT_DIR"] + "/asterisk.crt": "0444",
    }
    for path, mode in wanted.items():
        written = "/secrets/" + path.removeprefix("/run/pabx-secrets/")
        assert path.startswith("/run/pabx-secrets/asterisk/"), path
        assert re.search(rf"put {ASTERISK_UID} {mode} {re.escape(written)}\b", init), written
    # the copy holds only what Asterisk's configs use: no Redis password, no LLM key
    filt = re.search(r"grep -E '(\^\(.*?\)=)'", init)
    assert filt, "the asterisk.env filter"
    pattern = re.compile(filt.group(1))
    for line in ("EXT_1001_PASSWORD=x", "TURN_PASSWORD=x", "PABX_CONF_PIN=1"):
        assert pattern.match(line), line
    for line in ("REDIS_OPS_PASSWORD=x", "ANTHROPIC_API_KEY=x", "ASP_GATEWAY_TOKEN=x"):
        assert not pattern.match(line), line
    # a mount point under RUN_DIR must exist in the image, owned by Asterisk's user: one the
    # runtime creates is root's, and Asterisk (uid 10002) could not write beside it
    dockerfile = (ROOT / "compose/asterisk/Dockerfile").read_text()
    made = re.search(r"mkdir -p [^\n]*?\.run(/\S*)?", dockerfile)
    assert made, "the image makes no .run"
    assert "chown -R 10002:10002 .run" in dockerfile
    for volume in ast["volumes"]:
        target = str(volume).split(":")[1]
        if target.startswith("/opt/pabx/.run/"):
            assert target == "/opt/pabx/.run" + (made.group(1) or ""), target
    # its log folder on the host (fail2ban reads it) is given to its uid by init
    assert "../.run/asterisk-log:/asterisk-log" in " ".join(services["init"]["volumes"])
    assert f"chown -R {ASTERISK_UID}:{ASTERISK_UID} /asterisk-log" in init


# our images: non-root users, no capability needed
OWN_NON_ROOT = {
    "asterisk",
    "sip-edge",
    "asp-gateway",
    "stt-worker",
    "llm-worker",
    "postcall-worker",
    "tts-worker",
    "softphone",
}


def mem_bytes(value: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([bkmg])?", str(value).lower())
    assert m, value
    return int(float(m.group(1)) * 1024 ** "bkmg".index(m.group(2) or "b"))


def compose_limit_gaps(compose: dict[str, Any]) -> list[str]:
    found = []
    for name, svc in compose["services"].items():
        svc = {
            k: re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", v) if isinstance(v, str) else v
            for k, v in svc.items()
        }
        if not (0 < float(svc.get("cpus", 0)) <= 4):
            found.append(f"{name}: cpus")
        if "mem_limit" not in svc or mem_bytes(svc["mem_limit"]) < 64 * 1024**2:
            found.append(f"{name}: mem_limit")
        if not (0 < int(svc.get("pids_limit", 0)) <= 8192):
            found.append(f"{name}: pids_limit")
        if "no-new-privileges:true" not in svc.get("security_opt", []) and name != "init":
            found.append(f"{name}: no-new-privileges")
        if name in OWN_NON_ROOT and svc.get("cap_drop") != ["ALL"]:
            found.append(f"{name}: cap_drop")
    return found


def test_every_compose_service_has_resource_bounds(compose: dict[str, Any]) -> None:
    assert compose_limit_gaps(compose) == []
    for key in ("cpus", "mem_limit", "pids_limit", "cap_drop", "security_opt"):
        broken = yaml.safe_load(yaml.safe_dump(compose))
        victim = "llm-worker" if key != "security_opt" else "redis"
        broken["services"][victim].pop(key, None)
        assert compose_limit_gaps(broken), key
    # Redis: its container's bound leaves room above maxmemory (AOF rewrite fork, buffers)
    redis = compose["services"]["redis"]
    limit = re.sub(r"\$\{REDIS_MEM_LIMIT:-([^}]*)\}", r"\1", redis["mem_limit"])
    argv = [re.sub(r"\$\{REDIS_MAXMEMORY:-([^}]*)\}", r"\1", a) for a in redis["command"]]
    maxmemory = argv[argv.index("--maxmemory") + 1].removesuffix("b")
    assert mem_bytes(maxmemory) <= 0.8 * mem_bytes(limit)


def compose_writable_gaps(compose: dict[str, Any]) -> list[str]:
    """Where a compose service could write its root filesystem: every service is read_only;
    Asterisk writes RUN_DIR on the named volume asterisk-run (its first use copies the image's
    .run, owned by uid 10002: a tmpfs would be root's) and /tmp on a tmpfs."""
    found = []
    for name, svc in compose["services"].items():
        if svc.get("read_only") is not True:
            found.append(f"{name}: read_only")
    ast = compose["services"]["asterisk"]
    if "asterisk-run:/opt/pabx/.run" not in ast.get("volumes", []):
        found.append("asterisk: RUN_DIR not on the volume asterisk-run")
    if "asterisk-run" not in (compose.get("volumes") or {}):
        found.append("asterisk-run: not declared")
    if "/tmp" not in ast.get("tmpfs", []):
        found.append("asterisk: /tmp")
    return found


def test_every_compose_service_has_a_read_only_root_filesystem(compose: dict[str, Any]) -> None:
    assert compose_writable_gaps(compose) == []
    for name in compose["services"]:
        broken = copy.deepcopy(compose)
        broken["services"][name].pop("read_only")
        assert compose_writable_gaps(broken) == [f"{name}: read_only"], name
    broken = copy.deepcopy(compose)
    broken["services"]["asterisk"]["volumes"].remove("asterisk-run:/opt/pabx/.run")
    assert compose_writable_gaps(broken)
    broken = copy.deepcopy(compose)
    broken["services"]["asterisk"]["tmpfs"] = []
    assert compose_writable_gaps(broken)
    # the volume keeps RUN_DIR across restarts: the entrypoint drops the asterisk.conf an older
    # image rendered before install-config, which writes it only when missing
    entrypoint = (ROOT / "compose/asterisk/entrypoint.sh").read_text()
    drop = entrypoint.index('rm -f "$conf"')
    assert drop < entrypoint.index("scripts/asterisk.sh install-config")
    assert '[ ! -f "$AST_CONF" ]' in (ROOT / "scripts/asterisk.sh").read_text()
    # the workers' anchor carries read_only to each of them (yaml merge keys)
    worker = compose["services"]["stt-worker"]
    assert worker["read_only"] is True
    assert worker["tmpfs"] == ["/tmp"]


pins = load_script(ROOT / "scripts" / "image_pins.py")
DIGEST = "@sha256:" + "ab" * 32


def check_pins(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/image_pins.py"), "check", str(tree)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.integration  # the digest check runs as a process (bash)
def test_the_digest_check_sees_every_base_image_and_flags_the_unpinned(tmp_path: Path) -> None:
    # the images it checks are the ones the container tests make stand-ins for (or state why not)
    listed = pods.repo_output("bash", "scripts/container-base-images.sh", "list").split()
    not_made = pods.repo_output("bash", "scripts/container-base-images.sh", "list-not-made")
    assert pins.images(ROOT) == set(listed) | set(not_made.split())
    # a tree with one image pinned and one not: check names the loose one only
    (tmp_path / "services/a").mkdir(parents=True)
    (tmp_path / "services/a/Dockerfile").write_text(
        f"FROM python:3.11.11-slim-bookworm{DIGEST} AS build\nFROM debian:sid-slim\n"
    )
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s/r.yaml").write_text(f"spec:\n  containers:\n    - image: redis:7{DIGEST}\n")
    out = check_pins(tmp_path)
    assert out.returncode == 1
    assert out.stderr.split() == ["sem", "digest:", "debian:sid-slim"]
    (tmp_path / "services/a/Dockerfile").write_text(f"FROM debian:sid-slim{DIGEST}\n")
    out = check_pins(tmp_path)
    assert out.returncode == 0, out.stderr
    assert not pins.pinned("debian:sid-slim@sha256:abc")  # a digest is 64 hex digits


def test_compose_llm_keys_reach_only_the_llm_workers_and_as_a_file(compose: dict[str, Any]) -> None:
    services = compose["services"]
    init = (ROOT / "compose/init/secrets-init.sh").read_text()
    keys = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if name == "init":  # it writes them into llm-keys.env
            assert all(env[k] == f"${{{k}:-}}" for k in keys)
            continue
        assert not set(keys) & set(env), name
        files = str(env.get("PABX_ENV_FILES", "")).split()
        wants = name in ("llm-worker", "postcall-worker")
        assert ("/run/pabx-secrets/llm-keys.env" in files) == wants, name
    assert re.search(r"\| put 10001 0400 /secrets/llm-keys\.env", init)
    assert all(f"${{{k}:-}}" in init for k in keys)
