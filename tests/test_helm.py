"""The Kubernetes chart (infra/helm/lts-flow): `helm lint --strict` passes, and every manifest it
renders, with the defaults and with per-service overrides, is valid against Kubernetes' own
schemas (kubernetes-validate ships them: no cluster, no network). Each service gets a Deployment
probing /healthz (liveness) and /readyz (readiness), a Service and a PodDisruptionBudget."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from lts_devtools.stack import SERVICE_PORTS

CHART = Path(__file__).resolve().parents[1] / "infra" / "helm" / "lts-flow"
KUBERNETES = "1.33"


def helm() -> str:
    home = Path(os.environ.get("LTS_HOME", Path.home() / ".cache" / "lts-flow"))
    found = shutil.which("helm") or shutil.which("helm", path=str(home / "bin"))
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("helm is missing: `make tools` installs it")
        pytest.skip("helm is not installed (`make tools` installs it)")
    return found


def run_helm(*args: str) -> str:
    done = subprocess.run([helm(), *args], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def rendered(*overrides: str) -> list[dict[str, Any]]:
    sets = [arg for value in overrides for arg in ("--set", value)]
    text = run_helm("template", "lts", str(CHART), *sets)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def test_the_chart_lints_strictly() -> None:
    run_helm("lint", "--strict", str(CHART))


def test_every_rendered_manifest_is_valid_kubernetes() -> None:
    for overrides in ((), ("services.triage.replicas=4", "services.comms.enabled=false")):
        for manifest in rendered(*overrides):
            kubernetes_validate.validate(manifest, KUBERNETES, strict=True)


def test_each_service_gets_probes_a_service_and_a_disruption_budget() -> None:
    manifests = rendered("services.triage.replicas=4", "services.metrics.replicas=0")
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for manifest in manifests:
        by_kind.setdefault(manifest["kind"], {})[manifest["metadata"]["name"]] = manifest
    names = {f"lts-{service}" for service in SERVICE_PORTS}
    for kind in ("Deployment", "Service", "PodDisruptionBudget"):
        assert set(by_kind[kind]) == names, kind
    for service, port in SERVICE_PORTS.items():
        deployment = by_kind["Deployment"][f"lts-{service}"]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["ports"][0]["containerPort"] == port
        env = {entry["name"]: entry for entry in container["env"]}
        assert env[f"LTS_{service.upper()}_HTTP_PORT"]["value"] == str(port)
        assert "secretKeyRef" in env["DATABASE_URL"]["valueFrom"]
    assert by_kind["Deployment"]["lts-triage"]["spec"]["replicas"] == 4
    assert by_kind["Deployment"]["lts-intake"]["spec"]["replicas"] == 2
    assert by_kind["Deployment"]["lts-metrics"]["spec"]["replicas"] == 0
    release = by_kind["Deployment"]["lts-release"]["spec"]["template"]["spec"]
    env = {entry["name"]: entry for entry in release["containers"][0]["env"]}
    assert "secretKeyRef" in env["LTS_RELEASE_STAGE_SIGNING_KEY"]["valueFrom"]
    mount = release["containers"][0]["volumeMounts"][0]["mountPath"]
    assert env["LTS_RELEASE_STAGE_DATA_DIR"]["value"].startswith(mount)
    claim = release["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert by_kind["PersistentVolumeClaim"][claim]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_a_bad_value_is_refused_naming_it() -> None:
    done = subprocess.run(
        [helm(), "template", "lts", str(CHART), "--set", "services.triage.port=http"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "port" in done.stderr
