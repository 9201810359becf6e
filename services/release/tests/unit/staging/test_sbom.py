from __future__ import annotations

import json

from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from lts_release.staging import sbom

from .conftest import SEALED_AT, a_wheel, an_sdist


def validation_error(document: bytes) -> object:
    return JsonStrictValidator(SchemaVersion.V1_6).validate_str(document.decode())


def generated(name: str, content: bytes) -> tuple[bytes, dict]:  # type: ignore[type-arg]
    import io

    metadata = sbom.python_metadata(name, lambda: io.BytesIO(content))
    document = sbom.generate(
        artifact=name, sha256="ab" * 32, metadata=metadata, created_at=SEALED_AT
    )
    return document, json.loads(document)


def test_a_wheels_sbom_is_valid_cyclonedx_with_its_requirements() -> None:
    document, bom = generated("acme_server-1.4.5-py3-none-any.whl", a_wheel())

    assert validation_error(document) is None
    root = bom["metadata"]["component"]
    assert (root["name"], root["version"], root["purl"]) == (
        "acme-server",
        "1.4.5",
        "pkg:pypi/acme-server@1.4.5",
    )
    assert root["hashes"] == [{"alg": "SHA-256", "content": "ab" * 32}]
    assert sorted(c["name"] for c in bom["components"]) == ["cryptography", "pytest", "requests"]


def test_an_sdists_sbom_reads_pkg_info() -> None:
    document, bom = generated("acme_server-1.4.5.tar.gz", an_sdist())

    assert validation_error(document) is None
    assert bom["metadata"]["component"]["version"] == "1.4.5"
    assert len(bom["components"]) == 3


def test_any_other_file_is_one_file_component() -> None:
    document, bom = generated("firmware.bin", b"\x00\x01")

    assert validation_error(document) is None
    assert bom["metadata"]["component"]["type"] == "file"
    assert "components" not in bom or bom["components"] == []


def test_a_broken_wheel_still_gets_a_file_sbom() -> None:
    document, bom = generated("broken-1.0-py3-none-any.whl", b"not a zip")

    assert validation_error(document) is None
    assert bom["metadata"]["component"]["type"] == "file"


def test_the_cyclonedx_check_names_what_is_wrong() -> None:
    assert sbom.cyclonedx_problem(b"{}") == 'not CycloneDX: "bomFormat" is not "CycloneDX"'
    assert sbom.cyclonedx_problem(b"[") is not None
    assert sbom.cyclonedx_problem(b'{"bomFormat":"CycloneDX","specVersion":"1.5"}') is None
