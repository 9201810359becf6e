"""docker-compose.yml cannot run here (no Docker engine), so it is checked as text: valid against
the Compose Specification, and consistent with what the local path runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from lts_devtools.infra.containers import KAFKA_IMAGE, POSTGRES_IMAGE
from lts_devtools.infra.local_pypi import PYPI_IMAGE, USERNAME

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "infra" / "service.Dockerfile"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_the_compose_file_is_valid_against_the_compose_specification() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )

    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_the_images_the_docker_path_of_lts_infra_up_runs() -> None:
    services = _compose()["services"]

    assert services["kafka"]["image"] == KAFKA_IMAGE
    assert services["postgres"]["image"] == POSTGRES_IMAGE


def test_kafka_writes_its_data_where_its_volume_is_mounted() -> None:
    kafka = _compose()["services"]["kafka"]
    [volume] = kafka["volumes"]

    assert volume.split(":")[1] == kafka["environment"]["KAFKA_LOG_DIRS"]


def test_postgres_is_ready_only_when_it_answers_over_tcp() -> None:
    check = " ".join(_compose()["services"]["postgres"]["healthcheck"]["test"])

    assert "pg_isready -h 127.0.0.1" in check


def test_the_analyst_role_can_log_in() -> None:
    metrics = _compose()["services"]["metrics"]

    assert metrics["environment"]["LTS_METRICS_ANALYST_PASSWORD"]


def test_the_image_health_check_probes_liveness_not_readiness() -> None:
    [check] = [line for line in DOCKERFILE.read_text().splitlines() if "urlopen" in line]

    assert "/healthz" in check
    assert "/readyz" not in check


def test_the_comms_service_sends_its_mail_to_the_mail_catcher() -> None:
    services = _compose()["services"]
    comms = services["comms"]["environment"]
    catcher_port = int(services["mailpit"]["ports"][0].split(":")[1])

    assert comms["LTS_COMMS_SMTP_HOST"] == "mailpit"
    assert int(comms["LTS_COMMS_SMTP_PORT"]) == catcher_port


def test_the_release_service_uploads_to_the_compose_index_as_its_htpasswd_user() -> None:
    from passlib.apache import HtpasswdFile

    services = _compose()["services"]
    release = services["release"]["environment"]
    [mount] = [v for v in services["pypiserver"]["volumes"] if v.endswith(":/data/htpasswd:ro")]
    passwords = HtpasswdFile(str(ROOT / mount.split(":")[0]))

    assert services["pypiserver"]["image"] == PYPI_IMAGE
    assert release["LTS_RELEASE_PYPI_URL"] == "http://pypiserver:8080/"
    assert release["LTS_RELEASE_PYPI_USERNAME"] == USERNAME
    assert passwords.check_password(USERNAME, release["LTS_RELEASE_PYPI_PASSWORD"])


def test_the_release_service_keeps_its_data_in_a_volume_it_owns() -> None:
    release = _compose()["services"]["release"]
    [volume] = release["volumes"]
    name, mounted = volume.split(":")

    assert mounted == release["environment"]["LTS_HOME"]
    assert name in _compose()["volumes"]
    assert f"chown lts {mounted}" in DOCKERFILE.read_text()


def test_grafana_logs_in_as_the_analyst_role_the_metrics_service_creates() -> None:
    from lts_metrics.config import MetricsSettings

    metrics = _compose()["services"]["metrics"]["environment"]
    datasources = ROOT / "infra" / "grafana" / "provisioning" / "datasources" / "lts-flow.yaml"
    provisioned = yaml.safe_load(datasources.read_text())["datasources"]
    [analyst] = [d for d in provisioned if d["type"] == "grafana-postgresql-datasource"]
    default_role = MetricsSettings.model_fields["analyst_role"].default

    assert analyst["url"] == "postgres:5432"
    assert analyst["user"] == metrics.get("LTS_METRICS_ANALYST_ROLE", default_role)
    assert analyst["secureJsonData"]["password"] == metrics["LTS_METRICS_ANALYST_PASSWORD"]


def test_every_service_exports_to_the_collectors_otlp_http_receiver() -> None:
    compose = _compose()["services"]
    [mount] = compose["otel-collector"]["volumes"]
    source, target = mount.split(":")[:2]
    config = yaml.safe_load((ROOT / source).read_text())
    http_port = config["receivers"]["otlp"]["protocols"]["http"]["endpoint"].rsplit(":", 1)[1]
    services = {name: spec for name, spec in compose.items() if "build" in spec}

    assert f"--config={target}" in compose["otel-collector"]["command"]
    assert {"traces", "metrics"} <= {
        signal
        for signal, pipeline in config["service"]["pipelines"].items()
        if "otlp" in pipeline["receivers"]
    }
    assert services
    for name, spec in services.items():
        environment = spec["environment"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{http_port}"
        assert environment["OTEL_SERVICE_NAME"] == f"lts-{name}"


def test_every_container_that_dies_is_started_again_as_the_local_stack_does() -> None:
    """`lts dev` and `lts stack up` start a dead service, broker or server again
    (lts_devtools.supervision); compose does the same for each of its containers."""
    compose = _compose()["services"]
    assert {name: spec.get("restart") for name, spec in compose.items()} == {
        name: "unless-stopped" for name in compose
    }
