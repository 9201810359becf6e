"""For the publication tests: the package index of the local stack (the `package_index` fixture
of `lts_devtools.testing`), real wheels and sdists built here, and a `FileSource` over files on
disk by their SHA-256."""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest
from lts_events.contracts.release.publication import FileKind
from lts_release.channels.base import ReleaseFile


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(directory: Path, name: str, version: str, *, payload: str = "") -> Path:
    """A minimal valid pure-Python wheel (PEP 427): a module, METADATA, WHEEL and a RECORD
    holding every file's hash and size."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": f'VERSION = "{version}"\n{payload}'.encode(),
        f"{dist_info}/METADATA": (
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            "Summary: built by the publication tests\n"
        ).encode(),
        f"{dist_info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: lts-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = "".join(f"{path},{_record_hash(data)},{len(data)}\n" for path, data in files.items())
    record += f"{dist_info}/RECORD,,\n"
    path = directory / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for entry, data in files.items():
            wheel.writestr(entry, data)
        wheel.writestr(f"{dist_info}/RECORD", record)
    return path


def build_sdist(directory: Path, name: str, version: str) -> Path:
    """A minimal sdist (`<name>-<version>.tar.gz` with a top-level PKG-INFO)."""
    module = name.replace("-", "_")
    root = f"{module}-{version}"
    path = directory / f"{root}.tar.gz"
    members = {
        f"{root}/PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode(),
        f"{root}/{module}/__init__.py": f'VERSION = "{version}"\n'.encode(),
    }
    with tarfile.open(path, "w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(member)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


@dataclass
class PathSource:
    """A `FileSource` over files on disk, found by their SHA-256."""

    paths: dict[str, Path]

    def open(self, sha256: str) -> BinaryIO:
        return self.paths[sha256].open("rb")

    def add(self, path: Path, kind: FileKind = FileKind.ARTIFACT) -> ReleaseFile:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        self.paths[digest] = path
        return ReleaseFile(name=path.name, kind=kind, sha256=digest, size=len(data))


@pytest.fixture
def source() -> PathSource:
    return PathSource({})


@pytest.fixture
def project() -> str:
    """A project name no other test uses on the shared index."""
    return f"lts-pubtest-{uuid.uuid4().hex[:10]}"


@dataclass
class Builds:
    """Real distributions built into a test's directory."""

    directory: Path

    def wheel(self, name: str, version: str, *, payload: str = "") -> Path:
        return build_wheel(self.directory, name, version, payload=payload)

    def sdist(self, name: str, version: str) -> Path:
        return build_sdist(self.directory, name, version)


@pytest.fixture
def builds(tmp_path: Path) -> Builds:
    directory = tmp_path / "dist"
    directory.mkdir()
    return Builds(directory)


# The running release service, for the route tests here (database_url, kafka and drop_schemas
# come from the `lts_devtools.testing` plugin).
from ..integration.conftest import (  # noqa: E402, F401
    release_service,
    unique,
)
