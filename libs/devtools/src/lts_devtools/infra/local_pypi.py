"""A package index from the `pypiserver` wheel, on 127.0.0.1, for the release service's
publication channel: uploads need the htpasswd user (dev credentials, local only), downloads
are open. Packages and the password file live under `run/pypi/` in the LTS home.

It never falls back to pypi.org (`--disable-fallback`): a name it does not hold is a 404, so
a test that downloads from it got what was published here. A duplicate upload is a 409
(no `--overwrite`): a published file never changes."""

from __future__ import annotations

import secrets
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lts_devtools.infra.net import free_port, port_free
from lts_devtools.infra.process import launch, stop_recorded, terminate
from lts_events.infra import state
from lts_events.infra.paths import run_dir

COMPONENT = "pypi"
USERNAME = "lts-release"
"""The upload user of the local index (its password is generated once per LTS home)."""
MARKER = "pypiserver"
PYPI_IMAGE = "pypiserver/pypiserver:v2.4.1"
"""The image docker-compose.yml runs: the release line of the `pypiserver` wheel started here."""


@dataclass(frozen=True)
class PackageIndex:
    """Where to upload (twine's `--repository-url`) and with which credentials."""

    url: str
    username: str | None = None
    password: str | None = None


def _home() -> Path:
    return run_dir() / COMPONENT


def packages_dir() -> Path:
    return _home() / "packages"


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}/"


def healthy(url: str, *, timeout: float = 2.0) -> bool:
    """True when pypiserver's liveness endpoint answers 200."""
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/health", timeout=timeout) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _index(recorded: state.State) -> PackageIndex:
    return PackageIndex(_url(int(recorded["port"])), USERNAME, str(recorded["password"]))


def running() -> PackageIndex | None:
    """The index started earlier that is still alive and answering, if any."""
    recorded = state.load(COMPONENT)
    if recorded is None or not state.pid_alive(int(recorded["pid"]), marker=MARKER):
        return None
    index = _index(recorded)
    return index if healthy(index.url) else None


def _password_file(home: Path, password: str) -> Path:
    """An Apache htpasswd file with the one upload user (APR1-MD5, Apache's own default: a
    local dev credential, checked on every upload, where a slow hash only costs time)."""
    from passlib.apache import HtpasswdFile

    path = home / "htpasswd"
    passwords = HtpasswdFile(str(path), new=True, default_scheme="apr_md5_crypt")
    passwords.set_password(USERNAME, password)
    passwords.save()
    path.chmod(0o600)
    return path


def start(*, timeout: float = 60.0) -> PackageIndex:
    """Start the index (keeping its packages, password and, when free, port) and wait for it."""
    home = _home()
    packages_dir().mkdir(parents=True, exist_ok=True)
    previous = state.load(COMPONENT) or {}
    # Alive but not answering: hung.
    terminate(int(previous.get("pid", -1)), marker=MARKER, timeout=10.0)
    old_port, old_password = previous.get("port"), previous.get("password")
    port = old_port if isinstance(old_port, int) and port_free(old_port) else free_port()
    password = old_password if isinstance(old_password, str) else secrets.token_urlsafe(18)
    command = [
        sys.executable,
        "-m",
        "pypiserver",
        "run",
        "--interface",
        "127.0.0.1",
        "--port",
        str(port),
        "--passwords",
        str(_password_file(home, password)),
        "--authenticate",
        "update",
        "--disable-fallback",
        "--hash-algo",
        "sha256",
        str(packages_dir()),
    ]
    index = PackageIndex(_url(port), USERNAME, password)
    launch(
        COMPONENT,
        command,
        log=home / "pypiserver.log",
        settings={"port": port, "password": password, "home": str(home)},
        ready=lambda: healthy(index.url, timeout=1.0),
        what=f"pypiserver on {index.url}",
        timeout=timeout,
        interval=0.2,
    )
    return index


def stop(*, timeout: float = 10.0) -> bool:
    """Stop the index recorded in the state (if alive). True when something was stopped."""
    return stop_recorded(COMPONENT, marker=MARKER, timeout=timeout)
