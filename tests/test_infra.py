"""Where Kafka and PostgreSQL come from: the environment wins; otherwise real local processes that
`up` starts, a second `up` reuses and `down` stops."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from lts_devtools.cli import infra_app
from lts_devtools.infra import (
    Infrastructure,
    containers,
    ensure_infrastructure,
    infrastructure_status,
    local_kafka,
    local_pypi,
    local_smtp,
    stop_infrastructure,
)
from lts_devtools.infra.topics import topic_names
from lts_devtools.supervision import Supervisor
from lts_events.infra import Found, NotRunning, find_running, paths, state
from lts_events.infra.probes import answers, kafka_ready, postgres_ready, run_async
from typer.testing import CliRunner

GIVEN = {
    "KAFKA_BOOTSTRAP_SERVERS": "kafka.example:9092",
    "DATABASE_URL": "postgresql://db/x",
    "LTS_COMMS_SMTP_HOST": "mail.example",
    "LTS_COMMS_SMTP_PORT": "2525",
    "LTS_RELEASE_PYPI_URL": "https://upload.pypi.example/legacy/",
    "LTS_RELEASE_PYPI_USERNAME": "__token__",
    "LTS_RELEASE_PYPI_PASSWORD": "pypi-secret",
}


def test_addresses_in_the_environment_are_used_and_nothing_is_started() -> None:
    found = ensure_infrastructure(environ=GIVEN)

    assert found.env() == GIVEN
    assert found.sources == {"kafka": "env", "postgres": "env", "smtp": "env", "pypi": "env"}
    assert found.started == ()


def test_a_reading_tool_takes_the_address_the_environment_gives() -> None:
    assert find_running("kafka", environ=GIVEN) == Found(
        "kafka.example:9092", "KAFKA_BOOTSTRAP_SERVERS"
    )
    assert find_running("postgres", environ=GIVEN) == Found("postgresql://db/x", "DATABASE_URL")


def test_a_reading_tool_starts_nothing_and_names_where_it_looked(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LTS_HOME", str(tmp_path))

    with pytest.raises(NotRunning) as missing:
        find_running("kafka", environ={})

    assert "KAFKA_BOOTSTRAP_SERVERS is unset" in str(missing.value)
    assert str(tmp_path / "run") in str(missing.value)
    assert not (tmp_path / "run" / "kafka.json").exists()


def test_infra_up_prints_the_settings_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in GIVEN.items():
        monkeypatch.setenv(key, value)

    result = CliRunner().invoke(infra_app, ["up", "--json"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["KAFKA_BOOTSTRAP_SERVERS"] == "kafka.example:9092"
    assert printed["started"] == []


@pytest.mark.integration
def test_the_infra_fixture_gives_a_kafka_and_a_postgresql_that_answer(
    infra: Infrastructure,
) -> None:
    assert kafka_ready(infra.kafka_bootstrap_servers)
    assert postgres_ready(infra.database_url)
    assert os.environ["DATABASE_URL"] == infra.database_url


async def _durability(database_url: str) -> dict[str, str]:
    import asyncpg

    connection = await asyncpg.connect(database_url)
    try:
        return {
            name: await connection.fetchval(f"SHOW {name}")
            for name in ("fsync", "synchronous_commit", "full_page_writes")
        }
    finally:
        await connection.close()


@pytest.fixture
def fresh_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty LTS_HOME sharing only the cached Kafka jars; whatever starts there is stopped.
    Not under pytest's basetemp: as root the server runs as `lts_pg`, which needs to traverse
    the home's parents, and every pytest session that starts resets /tmp/pytest-of-<user> to
    0700 (a second test run on the machine locked the server out of its data mid-test)."""
    home = Path(tempfile.mkdtemp(prefix="lts-test-home-"))
    shared_jars = local_kafka.fetch_jars().parent
    monkeypatch.setenv("LTS_HOME", str(home))
    monkeypatch.setenv("LTS_INFRA", "local")
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("LTS_COMMS_SMTP_HOST", raising=False)
    monkeypatch.delenv("LTS_COMMS_SMTP_PORT", raising=False)
    monkeypatch.delenv("LTS_RELEASE_PYPI_URL", raising=False)
    (home / shared_jars.name).symlink_to(shared_jars)
    assert paths.kafka_libs_dir().exists()
    yield home
    stop_infrastructure()
    shutil.rmtree(home, ignore_errors=True)


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_local_infra_is_started_reused_and_stopped(fresh_home: Path) -> None:
    started = ensure_infrastructure()
    durability = run_async(lambda: _durability(started.database_url))
    again = ensure_infrastructure()
    # where `lts metrics rebuild`, `lts store verify`, `lts dlq` ... look with no variable set
    found = (find_running("kafka"), find_running("postgres"))
    stopped = stop_infrastructure()

    assert durability == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    assert started.sources == {
        "kafka": "local",
        "postgres": "local",
        "smtp": "local",
        "pypi": "local",
    }
    assert started.started == ("kafka", "postgres", "smtp", "pypi")
    assert again.env() == started.env()
    assert again.started == ()
    assert found == (
        Found(started.kafka_bootstrap_servers, "the local kafka of `lts infra up`"),
        Found(started.database_url, "the local postgres of `lts infra up`"),
    )
    assert stopped == ["kafka", "postgres", "smtp", "pypi"]
    assert infrastructure_status() == {"kafka": None, "postgres": None, "smtp": None, "pypi": None}
    kafka_port = int(started.kafka_bootstrap_servers.rsplit(":", 1)[1])
    assert not answers("127.0.0.1", kafka_port)
    assert started.package_index is not None
    assert not local_pypi.healthy(started.package_index.url)


@pytest.mark.integration
@pytest.mark.timeout(240)
def test_a_stopped_broker_restarts_on_its_old_port_with_its_topics(fresh_home: Path) -> None:
    first = ensure_infrastructure()
    create_topic(first.kafka_bootstrap_servers, "lts.test.kept")
    stop_infrastructure()

    restarted = ensure_infrastructure()

    assert restarted.kafka_bootstrap_servers == first.kafka_bootstrap_servers
    assert "lts.test.kept" in list_topics(restarted.kafka_bootstrap_servers)


async def _kept_rows(url: str, *, write: bool) -> list[str]:
    connection = await asyncpg.connect(url)
    try:
        if write:
            await connection.execute("CREATE TABLE kept (note text)")
            await connection.execute("INSERT INTO kept VALUES ('written before the kill')")
        return [row["note"] for row in await connection.fetch("SELECT note FROM kept")]
    finally:
        await connection.close()


def _recorded_pid(component: str) -> int:
    recorded = state.load(component)
    assert recorded is not None
    return int(recorded["pid"])


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_a_killed_local_kafka_and_postgresql_come_back_on_their_ports_with_their_data(
    fresh_home: Path,
) -> None:
    """The stack's supervisor (`lts dev`, `lts stack up`'s watchdog) starts the local broker and
    server again after a SIGKILL, at the addresses the services were given, with what they
    held; after `lts infra down` it leaves them stopped."""
    infra = ensure_infrastructure()
    written = run_async(lambda: _kept_rows(infra.database_url, write=True))
    create_topic(infra.kafka_bootstrap_servers, "lts.test.kept")
    lines: list[str] = []
    supervisor = Supervisor(infra, [], background=True, say=lines.append)
    for component in ("kafka", "postgres"):
        os.kill(_recorded_pid(component), signal.SIGKILL)

    deadline = time.monotonic() + 90
    while not (postgres_ready(infra.database_url) and kafka_ready(infra.kafka_bootstrap_servers)):
        assert time.monotonic() < deadline, lines
        supervisor.step()
        time.sleep(0.5)

    assert run_async(lambda: _kept_rows(infra.database_url, write=False)) == written
    assert "lts.test.kept" in list_topics(infra.kafka_bootstrap_servers)
    assert {"kafka is back", "postgres is back"} <= set(lines)

    # a server started again by other means (`pg_ctl restart`: the record's pid is gone, the
    # address answers) is not dead: nothing is started over it
    recorded = state.load("postgres")
    assert recorded is not None
    state.save("postgres", {**recorded, "pid": 2**22 + 1})  # above any pid_max: no process
    lines.clear()
    supervisor.step()
    assert lines == []
    # and `lts infra up` records that server again instead of starting a second one on its
    # data directory (which fails: "another server might be running")
    again = ensure_infrastructure()
    assert (again.database_url, "postgres" in again.started) == (infra.database_url, False)
    assert state.load("postgres") == recorded

    stop_infrastructure()
    supervisor.step()
    assert infrastructure_status()["kafka"] is None
    assert infrastructure_status()["postgres"] is None


@pytest.fixture
def smtp_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An LTS_HOME of its own for the SMTP server alone; the server is stopped after."""
    monkeypatch.setenv("LTS_HOME", str(tmp_path))
    yield tmp_path
    local_smtp.stop()


@pytest.mark.timeout(60)
def test_the_local_smtp_server_keeps_every_message_in_the_maildir_until_down(
    smtp_home: Path,
) -> None:
    import mailbox
    from email.message import EmailMessage

    import aiosmtplib

    host, port = local_smtp.start()
    reused = local_smtp.running()
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "lts@example.org", "ops@example.org", "hi"
    message["Message-ID"] = "<infra-test.1@lts.example.org>"
    message.set_content("kept")
    run_async(lambda: aiosmtplib.send(message, hostname=host, port=port))
    stored = [dict(m.items()) for m in mailbox.Maildir(paths.maildir(), create=False)]
    stopped = local_smtp.stop()

    assert paths.maildir() == smtp_home / "mail"
    assert reused == (host, port)
    assert [m["Message-ID"] for m in stored] == ["<infra-test.1@lts.example.org>"]
    assert stopped
    assert local_smtp.running() is None
    assert not answers(host, port)


def create_topic(bootstrap: str, name: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        finally:
            await admin.close()

    run_async(create)


def list_topics(bootstrap: str) -> set[str]:
    return run_async(lambda: topic_names(bootstrap))


def serve_once(path: Path, reply: bytes) -> threading.Thread:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def answer() -> None:
        with server, server.accept()[0] as connection:
            connection.recv(1024)
            connection.sendall(reply)

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread


def test_an_engine_answering_the_ping_counts_as_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = tmp_path / "docker.sock"
    serve_once(engine, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{engine}")

    assert containers.docker_answers()


def test_a_socket_that_fails_the_ping_or_no_socket_is_not_docker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = tmp_path / "docker.sock"
    serve_once(engine, b"HTTP/1.1 500 Internal Server Error\r\n\r\n")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{engine}")
    failing = containers.docker_answers()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path / 'absent.sock'}")

    absent = containers.docker_answers()

    assert not failing
    assert not absent


def test_no_kafka_cluster_id_starts_with_a_dash() -> None:
    # The storage tool would read such an id as an option and refuse to format (1 id in 64).
    ids = [local_kafka._cluster_id() for _ in range(2000)]

    assert not [found for found in ids if found.startswith("-")]
    assert len(set(ids)) == len(ids)


@pytest.fixture
def index_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty LTS_HOME for the local package index alone; the index is stopped after."""
    home = Path(tempfile.mkdtemp(prefix="lts-test-pypi-"))
    monkeypatch.setenv("LTS_HOME", str(home))
    yield home
    local_pypi.stop()
    shutil.rmtree(home, ignore_errors=True)


def _upload(url: str, auth: tuple[str, str] | None, filename: str, content: bytes) -> int:
    import httpx

    form = {":action": "file_upload", "protocol_version": "1"}
    files = {"content": (filename, content, "application/octet-stream")}
    return httpx.post(url, data=form, files=files, auth=auth, timeout=30).status_code


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_the_local_index_takes_uploads_only_from_its_user_and_keeps_them_across_restarts(
    index_home: Path,
) -> None:
    import httpx

    index = local_pypi.start()
    assert index.username is not None
    assert index.password is not None
    credentials = (index.username, index.password)
    anonymous = _upload(index.url, None, "lts_probe-1.0.tar.gz", b"probe")
    wrong = _upload(index.url, (index.username, "wrong"), "lts_probe-1.0.tar.gz", b"probe")
    accepted = _upload(index.url, credentials, "lts_probe-1.0.tar.gz", b"probe")
    local_pypi.stop()

    again = local_pypi.start()
    listing = httpx.get(f"{again.url}simple/lts-probe/", timeout=10)
    duplicate = _upload(again.url, credentials, "lts_probe-1.0.tar.gz", b"probe")

    assert (anonymous, wrong, accepted) == (401, 403, 200)
    assert again == index
    assert "lts_probe-1.0.tar.gz#sha256=" in listing.text
    assert duplicate == 409
    assert (index_home / "run" / "pypi" / "packages" / "lts_probe-1.0.tar.gz").read_bytes() == (
        b"probe"
    )
