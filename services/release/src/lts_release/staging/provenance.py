"""An in-toto Statement v1 with an SLSA Provenance v1 predicate over a candidate's artifacts,
built from its manifest; signed as a DSSE envelope (dsse.py)."""

from __future__ import annotations

import json
from typing import Any

from lts_release.staging.manifest import BuildManifest

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"
BUILD_TYPE = "https://lts-flow.dev/release-candidate/v1"


def statement(manifest: BuildManifest) -> dict[str, Any]:
    return {
        "_type": STATEMENT_TYPE,
        "subject": [
            {"name": artifact.name, "digest": {"sha256": artifact.sha256}}
            for artifact in manifest.artifacts
        ],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {
                    "candidate": manifest.candidate_id,
                    "version": manifest.version,
                    "line": manifest.line,
                },
                "internalParameters": {
                    "tickets": list(manifest.tickets),
                    "cves": list(manifest.cves),
                },
                "resolvedDependencies": [
                    {
                        "uri": f"git+{backport.branch}",
                        "digest": {"gitCommit": backport.source_commit},
                        "annotations": {"ticket": backport.ticket_id},
                    }
                    for backport in manifest.backports
                ],
            },
            "runDetails": {
                "builder": {"id": manifest.builder.id},
                "metadata": {
                    "invocationId": manifest.candidate_id,
                    "finishedOn": manifest.sealed_at.isoformat(),
                },
            },
        },
    }


def statement_bytes(manifest: BuildManifest) -> bytes:
    return json.dumps(statement(manifest), sort_keys=True, separators=(",", ":")).encode()


def subjects(document: dict[str, Any]) -> dict[str, str]:
    """Name -> sha256 of a statement's subjects; `ValueError` when it is no in-toto v1
    statement."""
    if document.get("_type") != STATEMENT_TYPE:
        raise ValueError(f"_type is not {STATEMENT_TYPE}")
    if document.get("predicateType") != SLSA_PROVENANCE_V1:
        raise ValueError(f"predicateType is not {SLSA_PROVENANCE_V1}")
    return {entry["name"]: entry["digest"]["sha256"] for entry in document["subject"]}
