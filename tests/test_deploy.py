"""The Kubernetes manifests in deploy/kubernetes/: valid against the Kubernetes schemas
(offline, with the schemas kubernetes-validate ships) and wired as the docs say."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).parent.parent / "deploy" / "kubernetes"
KUBERNETES = "1.33.0"
"""The oldest Kubernetes the manifests target: native sidecars and backoffLimitPerIndex are GA."""


def documents() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(DEPLOY.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            found[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return found


@pytest.mark.parametrize("name", sorted(documents()))
def test_manifest_validates_against_the_kubernetes_schema(name: str) -> None:
    kubernetes_validate.validate(documents()[name], KUBERNETES, strict=True)


def test_a_broken_manifest_is_caught() -> None:
    deployment = documents()["Deployment/reconcile-watch"]
    deployment["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinesProbe"):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


def container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in pod["containers"] + pod.get("initContainers", []) if c["name"] == name)


def test_the_deployment_listens_on_the_pod_address_with_probes_and_a_service() -> None:
    docs = documents()
    pod = docs["Deployment/reconcile-watch"]["spec"]["template"]
    watch = container(pod["spec"], "reconcile")
    assert watch["args"][0] == "watch"
    assert "--listen=0.0.0.0:9464" in watch["args"]
    assert watch["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert watch["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert watch["ports"] == [{"name": "metrics", "containerPort": 9464}]
    sidecar = container(pod["spec"], "git-sync")
    assert sidecar["restartPolicy"] == "Always"
    assert any(a.startswith("/git/current/") for a in watch["args"])
    service = docs["Service/reconcile-watch"]["spec"]
    assert service["selector"].items() <= pod["metadata"]["labels"].items()
    assert service["ports"][0]["targetPort"] == "metrics"
    claim = next(v for v in pod["spec"]["volumes"] if v["name"] == "state")
    assert claim["persistentVolumeClaim"]["claimName"] in {
        name.split("/")[1] for name in docs if name.startswith("PersistentVolumeClaim/")
    }


def test_credentials_come_from_a_secret_never_from_the_manifests() -> None:
    docs = documents()
    assert not [n for n in docs if n.startswith("Secret/")]
    for name in ("Deployment/reconcile-watch", "CronJob/reconcile-drift"):
        doc = docs[name]
        spec = (
            doc["spec"]["template"]["spec"]
            if "template" in doc["spec"]
            else (doc["spec"]["jobTemplate"]["spec"]["template"]["spec"])
        )
        reconcile = container(spec, "reconcile")
        assert {"secretRef": {"name": "reconcile-credentials"}} in reconcile["envFrom"]
        plain = {e["name"] for e in reconcile.get("env", [])}
        assert not plain & {"RECONCILE_TOKEN", "RECONCILE_CLIENT_SECRET", "RECONCILE_NOTIFY_URLS"}
    settings = docs["ConfigMap/reconcile-settings"]["data"]
    assert not {k for k in settings if "SECRET" in k or "TOKEN" in k or "NOTIFY" in k}


def test_the_cronjob_gives_pod_k_shard_k_plus_1_of_n(tmp_path: Path) -> None:
    job = documents()["CronJob/reconcile-drift"]["spec"]["jobTemplate"]["spec"]
    assert job["completionMode"] == "Indexed"
    drift = container(job["template"]["spec"], "reconcile")
    shards = int(next(e["value"] for e in drift["env"] if e["name"] == "SHARDS"))
    assert job["completions"] == job["parallelism"] == shards
    # Run the container's command with a stand-in `reconcile` that prints its arguments.
    fake = tmp_path / "reconcile"
    fake.write_text('#!/bin/sh\necho "$@"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    seen = []
    for index in range(shards):
        env = {
            "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}",
            "JOB_COMPLETION_INDEX": str(index),
            "SHARDS": str(shards),
        }
        done = subprocess.run(
            [*drift["command"], *drift["args"]], env=env, capture_output=True, text=True, check=True
        )
        seen.append(done.stdout.split())
    assert seen == [
        ["drift", "/git/current/manifests", "--shard", f"{k + 1}/{shards}"] for k in range(shards)
    ]
