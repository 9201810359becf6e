"""A CycloneDX JSON SBOM per artifact, with `cyclonedx-python-lib`.

A wheel's `*.dist-info/METADATA` (or an sdist's `PKG-INFO`) gives the root component (name,
version, purl) and one component per `Requires-Dist`; any other file becomes a single `file`
component. The artifact's SHA-256 is the root's hash, so the SBOM names exactly what it
describes. An SBOM that CI uploads for an artifact is taken as is (only checked to be
CycloneDX JSON)."""

from __future__ import annotations

import json
import tarfile
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesHeaderParser
from typing import BinaryIO

from cyclonedx.model import HashAlgorithm, HashType, Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.output import make_outputter
from cyclonedx.schema import OutputFormat, SchemaVersion
from packageurl import PackageURL
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

SCHEMA_VERSION = SchemaVersion.V1_6
MEDIA_TYPE = "application/vnd.cyclonedx+json"
_SERIALS = uuid.UUID("5d0f4a52-6c55-4b8e-9b33-4c1e2f7a9d10")  # namespace of our serial numbers
MAX_METADATA = 4 * 1024 * 1024


@dataclass(frozen=True)
class PythonMetadata:
    name: str
    version: str
    requires: dict[str, list[str]] = field(default_factory=dict)  # canonical name -> lines


def python_metadata(name: str, open_blob: Callable[[], BinaryIO]) -> PythonMetadata | None:
    """The core metadata of a wheel or sdist, None for other files or unreadable archives."""
    try:
        if name.endswith(".whl"):
            return _from_headers(_wheel_metadata(open_blob))
        if name.endswith((".tar.gz", ".tgz")):
            return _from_headers(_sdist_metadata(open_blob))
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError):
        return None
    return None


def _wheel_metadata(open_blob: Callable[[], BinaryIO]) -> bytes | None:
    with open_blob() as blob, zipfile.ZipFile(blob) as wheel:
        for info in wheel.infolist():
            parts = info.filename.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return wheel.read(info)[:MAX_METADATA] if info.file_size <= MAX_METADATA else None
    return None


def _sdist_metadata(open_blob: Callable[[], BinaryIO]) -> bytes | None:
    with open_blob() as blob, tarfile.open(fileobj=blob, mode="r|gz") as sdist:
        for member in sdist:  # streamed: the archive is read once, never held in memory
            parts = member.name.split("/")
            if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                if member.size > MAX_METADATA:
                    return None
                extracted = sdist.extractfile(member)
                return extracted.read() if extracted else None
    return None


def _from_headers(raw: bytes | None) -> PythonMetadata | None:
    if raw is None:
        return None
    headers: Message = BytesHeaderParser().parsebytes(raw)
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return None
    requires: dict[str, list[str]] = {}
    for line in headers.get_all("Requires-Dist") or []:
        try:
            requirement = Requirement(str(line))
        except InvalidRequirement:
            continue
        requires.setdefault(canonicalize_name(requirement.name), []).append(str(requirement))
    return PythonMetadata(str(name), str(version), requires)


def generate(
    *, artifact: str, sha256: str, metadata: PythonMetadata | None, created_at: datetime
) -> bytes:
    root = _root_component(artifact, sha256, metadata)
    bom = Bom(
        serial_number=uuid.uuid5(_SERIALS, f"{artifact}@{sha256}"),
        metadata=BomMetaData(component=root, timestamp=created_at),
    )
    dependencies = []
    for name, lines in sorted((metadata.requires if metadata else {}).items()):
        dependency = Component(
            name=name,
            type=ComponentType.LIBRARY,
            purl=PackageURL("pypi", None, name),
            bom_ref=f"pkg:pypi/{name}",
            properties=[Property(name="lts:requires-dist", value=line) for line in lines],
        )
        bom.components.add(dependency)
        dependencies.append(dependency)
    bom.register_dependency(root, dependencies)
    return make_outputter(bom, OutputFormat.JSON, SCHEMA_VERSION).output_as_string().encode()


def _root_component(artifact: str, sha256: str, metadata: PythonMetadata | None) -> Component:
    hashes = [HashType(alg=HashAlgorithm.SHA_256, content=sha256)]
    if metadata is None:
        return Component(name=artifact, type=ComponentType.FILE, hashes=hashes, bom_ref=artifact)
    name = canonicalize_name(metadata.name)
    return Component(
        name=metadata.name,
        version=metadata.version,
        type=ComponentType.LIBRARY,
        purl=PackageURL("pypi", None, name, metadata.version),
        hashes=hashes,
        bom_ref=f"pkg:pypi/{name}@{metadata.version}",
        properties=[Property(name="lts:artifact", value=artifact)],
    )


def cyclonedx_problem(content: bytes) -> str | None:
    """Why `content` is not a CycloneDX JSON document, None when it is one (the check applied
    to uploaded SBOMs and by `lts release verify`: JSON, `bomFormat`, `specVersion`)."""
    try:
        document = json.loads(content)
    except ValueError as error:
        return f"not JSON: {error}"
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        return 'not CycloneDX: "bomFormat" is not "CycloneDX"'
    if not isinstance(document.get("specVersion"), str):
        return 'not CycloneDX: no "specVersion"'
    return None
