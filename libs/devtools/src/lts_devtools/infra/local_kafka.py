"""Apache Kafka on the local JVM: jars from Maven Central, single-node KRaft, state in `run/`."""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
import uuid
from importlib import resources
from pathlib import Path

from lts_devtools.infra import process
from lts_devtools.infra.net import free_port, port_free
from lts_devtools.infra.process import LaunchFailed, stop_recorded, terminate
from lts_events.infra import KAFKA_MARKER, kafka_bootstrap, state
from lts_events.infra.paths import KAFKA_VERSION, kafka_libs_dir, run_dir
from lts_events.infra.probes import kafka_ready

LOG4J_VERSION = "2.24.3"
COMPONENT = "kafka"
_MARKER_JAR = f"kafka_2.13-{KAFKA_VERSION}.jar"


class LocalKafkaError(RuntimeError):
    """The local broker could not be fetched, formatted or started."""


def _template(name: str) -> str:
    return resources.files("lts_devtools.infra").joinpath("templates", name).read_text()


def fetch_jars() -> Path:
    """Copy the broker's runtime classpath into the cache, once, with Maven."""
    libs = kafka_libs_dir()
    if (libs / _MARKER_JAR).exists():
        return libs
    if shutil.which("mvn") is None:
        raise LocalKafkaError("Maven (`mvn`) is needed once to fetch the Kafka jars; install it")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=libs.parent) as work:
        pom = Path(work) / "pom.xml"
        pom.write_text(
            _template("pom.xml").format(kafka_version=KAFKA_VERSION, log4j_version=LOG4J_VERSION)
        )
        target = Path(work) / "libs"
        done = subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "-f",
                str(pom),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={target}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0 or not (target / _MARKER_JAR).exists():
            raise LocalKafkaError(f"mvn could not fetch Kafka {KAFKA_VERSION}:\n{done.stdout}")
        shutil.rmtree(libs, ignore_errors=True)
        target.rename(libs)
    return libs


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError("Java 17+ is needed to run Kafka locally (`java` not on PATH)")
    return java


def _cluster_id() -> str:
    """A random id as Kafka makes them; never one starting with '-' (1 in 64 would), which the
    storage tool's argument parser takes for an option."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not found.startswith("-"):
            return found


def _write_config(home: Path, *, broker_port: int, controller_port: int) -> Path:
    properties = home / "server.properties"
    properties.write_text(
        _template("server.properties").format(
            broker_port=broker_port, controller_port=controller_port, log_dir=home / "data"
        )
    )
    (home / "log4j2.properties").write_text(_template("log4j2.properties"))
    return properties


def _java_command(libs: Path, home: Path, main_class: str, *args: str) -> list[str]:
    return [
        _java(),
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={home / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={home / 'logs'}",
        "-cp",
        f"{libs}/*",
        main_class,
        *args,
    ]


def _format(libs: Path, home: Path, properties: Path) -> None:
    shutil.rmtree(home / "data", ignore_errors=True)
    done = subprocess.run(
        _java_command(
            libs,
            home,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "-t",
            _cluster_id(),
            "-c",
            str(properties),
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise LocalKafkaError(f"kafka StorageTool format failed:\n{done.stdout}\n{done.stderr}")


def start(*, timeout: float = 60.0) -> str:
    """Start a broker and wait until it answers. Its data is kept across restarts when the old
    ports are still free; otherwise (or when the old data does not start) it is reformatted."""
    libs = fetch_jars()
    home = run_dir() / COMPONENT
    home.mkdir(parents=True, exist_ok=True)
    previous = state.load(COMPONENT) or {}
    terminate(
        int(previous.get("pid", -1)), marker=KAFKA_MARKER, timeout=30.0, interval=0.2
    )  # alive but not answering: hung
    ports = _reusable_ports(home, previous)
    if ports is not None:
        try:
            return _launch(libs, home, ports=ports, fresh=False, timeout=timeout)
        except (LocalKafkaError, LaunchFailed, TimeoutError):
            stop()
    return _launch(libs, home, ports=(free_port(), free_port()), fresh=True, timeout=timeout)


def restart_in_place(*, timeout: float = 60.0) -> str:
    """Start the recorded broker again after it died: its ports, its data, or nothing (a broker
    elsewhere or emptied would lose what the services wrote and wait for)."""
    home = run_dir() / COMPONENT
    ports = _reusable_ports(home, state.load(COMPONENT) or {})
    if ports is None:
        raise LocalKafkaError("its ports are taken or its data is gone; `lts infra up` decides")
    return _launch(fetch_jars(), home, ports=ports, fresh=False, timeout=timeout)


def _reusable_ports(home: Path, previous: state.State) -> tuple[int, int] | None:
    broker, controller = previous.get("broker_port"), previous.get("controller_port")
    if not (home / "data" / "meta.properties").exists():
        return None
    if isinstance(broker, int) and isinstance(controller, int) and port_free(broker):
        return (broker, controller) if port_free(controller) else None
    return None


def _launch(libs: Path, home: Path, *, ports: tuple[int, int], fresh: bool, timeout: float) -> str:
    broker_port, controller_port = ports
    properties = _write_config(home, broker_port=broker_port, controller_port=controller_port)
    if fresh:
        _format(libs, home, properties)
    recorded = process.launch(
        COMPONENT,
        _java_command(libs, home, "kafka.Kafka", str(properties)),
        log=home / "kafka.log",
        settings={
            "broker_port": broker_port,
            "controller_port": controller_port,
            "home": str(home),
        },
        ready=lambda: kafka_ready(f"127.0.0.1:{broker_port}", timeout_ms=1500),
        what=f"Kafka on 127.0.0.1:{broker_port}",
        timeout=timeout,
        interval=0.5,
    )
    return kafka_bootstrap(recorded)


def stop(*, timeout: float = 30.0) -> bool:
    """Stop the broker recorded in the state (if alive). True when something was stopped."""
    return stop_recorded(COMPONENT, marker=KAFKA_MARKER, timeout=timeout)
