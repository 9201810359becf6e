"""The developer tooling's commands, mounted into `lts` through the `lts.commands` entry points
(libs/devtools/pyproject.toml): `lts infra up/down/status`, `lts stack up/down`, `lts dev`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, Annotated, Any

import typer
from lts_devtools import stack, supervision
from lts_devtools.infra import (
    Infrastructure,
    ensure_infrastructure,
    infrastructure_status,
    stop_infrastructure,
)

infra_app = typer.Typer(
    help="Kafka and PostgreSQL for development and tests.", no_args_is_help=True
)
stack_app = typer.Typer(help="Every service, in the background.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of env lines.")]
COLORS = ("cyan", "magenta", "green", "yellow", "blue", "red")


def _err(message: str) -> None:
    typer.secho(message, err=True, fg="yellow")


def _print_infra(infra: Infrastructure, as_json: bool) -> None:
    if as_json:
        typer.echo(
            json.dumps({**infra.env(), "sources": dict(infra.sources), "started": infra.started})
        )
    else:
        for key, value in infra.env().items():
            typer.echo(f"export {key}={value}")


@infra_app.command("up")
def infra_up(as_json: JsonFlag = False) -> None:
    """Start what is missing (env vars, else Docker, else local processes); print the settings."""
    _print_infra(ensure_infrastructure(keep=True), as_json)


@infra_app.command("down")
def infra_down() -> None:
    """Stop what `lts infra up` started (never what the environment pointed at)."""
    stopped = stop_infrastructure()
    _err(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")


@infra_app.command("status")
def infra_status(
    as_json: JsonFlag = False,
    quiet: Annotated[bool, typer.Option(help="Print only the names of what runs.")] = False,
) -> None:
    """What `lts infra up` started and still runs (not what the environment points at)."""
    status = infrastructure_status()
    if as_json:
        typer.echo(json.dumps(status))
    elif quiet:
        typer.echo(" ".join(name for name, address in status.items() if address))
    else:
        for name, address in status.items():
            typer.echo(f"{name}: {address or 'not running'}")


def _print_endpoints(info: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    for key, value in info["infrastructure"].items():
        typer.echo(f"{key}={value}")
    for name, urls in info["services"].items():
        links = "  ".join(f"{k}: {v}" for k, v in urls.items() if k not in {"pid", "log"})
        typer.echo(f"[{name}] {links}")
    typer.echo("tokens: " + ", ".join(sorted(info["tokens"])))
    secrets = info["webhook_secrets"].items()
    typer.echo("webhook secrets: " + ", ".join(f"{name}={value}" for name, value in secrets))


def _announce_ready(service: stack.RunningService, seconds: float) -> None:
    """One line per service, as it becomes ready (on stderr: `--json` keeps stdout)."""
    label = typer.style(f"[{service.label}]", bold=True)
    typer.echo(f"{label} ready in {seconds:.1f} s on {service.url}", err=True)


ReplicasOption = Annotated[
    int,
    typer.Option(
        "--replicas",
        min=1,
        help="Processes per service: they share its consumer group and database; one leads.",
    ),
]


@stack_app.command("up")
def stack_up(as_json: JsonFlag = False, replicas: ReplicasOption = 1) -> None:
    """Start the infrastructure and every installed service in the background."""
    infra = ensure_infrastructure(keep=True)
    supervision.stop_watchdog()  # a new one watches the old services and the new
    already = {(s.name, s.replica) for s in stack.running()}
    wanted = stack.wanted(stack.available_services(), replicas)
    started = stack.spawn([w for w in wanted if w not in already], infra, background=True)
    stack.record([*stack.running(), *(service for service, _ in started)])
    try:
        stack.wait_ready(started, on_ready=_announce_ready)
    except stack.ServiceFailed as failure:
        _err(f"{failure}; logs in {stack.log_path('<service>')}")
        stack.stop_services()
        raise typer.Exit(1) from failure
    supervision.start_watchdog(infra)
    _print_endpoints(stack.endpoints(stack.running(), infra), as_json)


@stack_app.command("down")
def stack_down(
    keep_infra: Annotated[bool, typer.Option(help="Leave Kafka and PostgreSQL running.")] = False,
) -> None:
    """Stop the services started by `lts stack up` (and the infrastructure, unless kept)."""
    supervision.stop_watchdog()
    stopped = stack.stop_services()
    if not keep_infra:
        stopped += stop_infrastructure()
    _err(f"stopped: {', '.join(stopped)}" if stopped else "nothing to stop")


def _start_pump(
    service: stack.RunningService, process: subprocess.Popen[bytes], color: str
) -> None:
    if process.stdout is not None:
        pump = threading.Thread(
            target=_pump, args=(service.label, color, process.stdout), daemon=True
        )
        pump.start()


def _pump(name: str, color: str, stream: IO[bytes]) -> None:
    prefix = typer.style(f"[{name}]", fg=color, bold=True)
    for raw in iter(stream.readline, b""):
        typer.echo(f"{prefix} {_readable(raw.decode(errors='replace').rstrip())}")


LEVEL_COLORS = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}


def _readable(line: str) -> str:
    """A JSON log record as `hh:mm:ss LEVEL logger: message`; any other line unchanged."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return line
    if not isinstance(record, dict) or "message" not in record:
        return line
    level = str(record.get("level", ""))
    styled = typer.style(f"{level:<7}", fg=LEVEL_COLORS.get(level))
    text = f"{str(record.get('time', ''))[11:19]} {styled} {record.get('logger', '')}: "
    return text + str(record["message"])


def dev(as_json: JsonFlag = False, replicas: ReplicasOption = 1) -> None:
    """Run the whole stack in the foreground with prefixed logs; Ctrl-C stops everything."""
    started = time.monotonic()
    infra = ensure_infrastructure(keep=True)
    children = stack.spawn(
        stack.wanted(stack.available_services(), replicas), infra, background=False
    )
    colors = {s.label: COLORS[i % len(COLORS)] for i, (s, _) in enumerate(children)}
    for service, process in children:
        _start_pump(service, process, colors[service.label])
    supervisor = supervision.Supervisor(
        infra,
        children,
        background=False,
        say=lambda line: _err(f"[stack] {line}"),
        on_start=lambda s, p: _start_pump(s, p, colors[s.label]),
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stack.wait_ready(children, on_ready=_announce_ready)
        ready = time.monotonic() - started
        _run_demo(children, infra)
        # last, so that they are what the screen shows once the demo's output has scrolled by
        _print_endpoints(stack.endpoints([s for s, _ in children], infra), as_json)
        _err(f"every service ready {ready:.1f} s after `lts dev` started; Ctrl-C stops them")
        while not stop.wait(supervision.CHECK_SECONDS):
            supervisor.step()  # a service that dies is started again, as compose would
    except KeyboardInterrupt:
        pass
    except stack.ServiceFailed as failure:
        _err(str(failure))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup
        _err("stopping...")
        stack.terminate(supervisor.services())
        if infra.started:
            stop_infrastructure()


def _run_demo(
    children: Sequence[tuple[stack.RunningService, subprocess.Popen[bytes]]], infra: Infrastructure
) -> None:
    """The demo workflow against the first replica of every service (its own process)."""
    urls = {f"LTS_{s.name.upper()}_URL": s.url for s, _ in children if s.replica == 1}
    env = {**os.environ, **infra.env(), **urls}
    subprocess.run([sys.executable, "-m", "lts_events.cli", "demo"], env=env, check=False)
