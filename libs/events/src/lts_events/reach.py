"""How a command reaches the running stack: the addresses `lts infra up` would reuse (starting
nothing), and one line instead of a traceback when what it names does not answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

import typer

from lts_events.faults import describe, is_transient
from lts_events.infra import Found, NotRunning, find_running, find_running_stack

T = TypeVar("T")

# Exit status of a command that could not reach its infrastructure (1 is the command's own "no").
UNREACHABLE = 2


def running(component: Literal["kafka", "postgres"]) -> str:
    """The address of the running `component`, or exit 2 saying where it was looked for."""
    try:
        return find_running(component).address
    except NotRunning as error:
        typer.secho(f"{error} (run `lts infra up`, or set the variable)", err=True, fg="red")
        raise typer.Exit(UNREACHABLE) from None


def running_stack() -> tuple[Found, Found]:
    """Kafka and PostgreSQL, or exit 2 naming each one missing and where it was looked for."""
    try:
        return find_running_stack()
    except NotRunning as error:
        typer.secho(str(error), err=True, fg="red")
        raise typer.Exit(UNREACHABLE) from None


def cannot_reach(component: str, address: str, error: BaseException) -> str:
    """The one line saying that `component` at `address` did not answer, and how."""
    return f"cannot reach {component} at {_without_password(address)}: {describe(error)}"


def run_against(work: Callable[[], Coroutine[Any, Any, T]], *, component: str, address: str) -> T:
    """`asyncio.run(work())`; when `address` does not answer, exit 2 in one line naming it."""
    logging.getLogger("asyncpg").setLevel(logging.CRITICAL)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        return asyncio.run(work())
    except Exception as error:
        if not is_transient(error):
            raise
        typer.secho(cannot_reach(component, address, error), err=True, fg="red")
        raise typer.Exit(UNREACHABLE) from None


def _without_password(address: str) -> str:
    if "://" not in address or "@" not in address:
        return address
    scheme, rest = address.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"
