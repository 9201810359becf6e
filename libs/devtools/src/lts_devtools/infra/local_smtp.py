"""A real SMTP server for the comms service's mail: aiosmtpd's own command line with its
`Mailbox` handler, which stores every message it accepts in a maildir under the LTS home
(`$LTS_HOME/mail`), on 127.0.0.1, state in `run/`. Pure Python, so it runs the same way whether
Kafka and PostgreSQL come from Docker or from local processes."""

from __future__ import annotations

import socket
import sys

from lts_devtools.infra.net import free_port, port_free
from lts_devtools.infra.process import launch, stop_recorded
from lts_events.infra import state
from lts_events.infra.paths import maildir, run_dir

COMPONENT = "smtp"
HOST = "127.0.0.1"
_MARKER = "aiosmtpd"


def smtp_ready(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """True when an SMTP server greets on `host:port` (a 220 banner)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as connection:
            connection.settimeout(timeout)
            return connection.recv(4).startswith(b"220")
    except OSError:
        return False


def _address(recorded: state.State) -> tuple[str, int]:
    return HOST, int(recorded["port"])


def running() -> tuple[str, int] | None:
    """(host, port) of a server started earlier that is still alive and greets, if any."""
    recorded = state.load(COMPONENT)
    if recorded is None or not state.pid_alive(int(recorded["pid"]), marker=_MARKER):
        return None
    host, port = _address(recorded)
    return (host, port) if smtp_ready(host, port) else None


def start(*, timeout: float = 30.0) -> tuple[str, int]:
    """Start the server (on its old port when that is free) and wait until it greets."""
    home = run_dir() / COMPONENT
    home.mkdir(parents=True, exist_ok=True)
    mail = maildir()
    for part in ("tmp", "new", "cur"):  # Maildir() creates these only for a missing directory
        (mail / part).mkdir(parents=True, exist_ok=True)
    previous = state.load(COMPONENT) or {}
    old_port = previous.get("port")
    port = old_port if isinstance(old_port, int) and port_free(old_port) else free_port()
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{port}"]
    command += ["-c", "aiosmtpd.handlers.Mailbox", str(mail)]
    launch(
        COMPONENT,
        command,
        log=home / "smtp.log",
        settings={"port": port, "maildir": str(mail)},
        ready=lambda: smtp_ready(HOST, port),
        what=f"SMTP on {HOST}:{port}",
        timeout=timeout,
        interval=0.1,
    )
    return HOST, port


def stop(*, timeout: float = 10.0) -> bool:
    """Stop the server recorded in the state (if alive). True when something was stopped."""
    return stop_recorded(COMPONENT, marker=_MARKER, timeout=timeout)
