"""The Kubernetes chart (infra/helm/lts-flow): `helm lint --strict` passes, and every manifest it
renders, with the defaults and with per-service overrides, is valid against Kubernetes' own
schemas (kubernetes-validate ships them: no cluster, no network). Each service gets a Deployment
probing /healthz (liveness) and /readyz (readiness), a Service and a PodDisruptionBudget, and
the environment it needs to start outside the local environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from lts_comms.config import Settings as CommsSettings
from lts_devtools.stack import SERVICE_PORTS
from lts_events.auth import load_tokens
from lts_events.settings import AuthSettings, CommonSettings
from lts_events.store.anchoring import signing_key
from lts_intake.config import Settings as IntakeSettings
from lts_metrics.config import MetricsSettings
from lts_release.config import Settings as ReleaseSettings
from lts_triage.config import Settings as TriageSettings
from pydantic_settings import BaseSettings

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


SERVICE_SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "triage": TriageSettings,
    "release": ReleaseSettings,
    "comms": CommsSettings,
    "metrics": MetricsSettings,
}
"""Each service's own settings, read at its start (intake's and release's refuse their dev
webhook secrets outside the local environment)."""
A_TOKEN_TABLE = '{"sha256:%s": {"actor": "ci", "roles": ["release_manager"]}}' % ("0" * 64)


def container_environment(deployment: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the pod would get it, each Secret's value stood in for
    (the token table by one of the right shape)."""
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return {
        entry["name"]: entry.get("value")
        or (A_TOKEN_TABLE if entry["name"] == "LTS_AUTH_TOKENS" else "a-value-from-a-secret")
        for entry in container["env"]
    }


def test_each_service_gets_what_it_needs_to_start_outside_the_local_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployments = {m["metadata"]["name"]: m for m in rendered() if m["kind"] == "Deployment"}
    for service, settings in SERVICE_SETTINGS.items():
        env = container_environment(deployments[f"lts-{service}"])
        for name in [key for key in os.environ if key.startswith("LTS_")]:
            monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)

        assert CommonSettings().environment == "production"
        assert signing_key(environ=env) is not None, service  # the chain-anchor key
        load_tokens(AuthSettings(), CommonSettings())
        settings()


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
