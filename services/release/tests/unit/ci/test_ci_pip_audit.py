from __future__ import annotations

import pytest
from lts_events.contracts.release.ci import CiStatus
from lts_release.ci import pip_audit
from lts_release.ci.errors import BadInput

from .fixtures import payload, raw


def test_every_vulnerability_of_an_audited_dependency_is_read() -> None:
    found = pip_audit.parse(raw("pip-audit-many-vulns.json"))

    assert [(v.package, v.version, v.id) for v in found] == [
        ("aiohttp", "3.6.2", "PYSEC-2021-76"),
        ("django", "3.2.9", "PYSEC-2021-439"),
        ("lxml", "4.6.4", "PYSEC-2021-852"),
        ("twisted", "18.9.0", "PYSEC-2019-128"),
        ("twisted", "18.9.0", "PYSEC-2020-260"),
        ("twisted", "18.9.0", "PYSEC-2019-129"),
        ("twisted", "18.9.0", "PYSEC-2020-259"),
    ]
    assert found[1].fix_versions == ("2.2.25", "3.1.14", "3.2.10")
    assert found[2].fix_versions == ()  # no fix known


def test_vulnerabilities_fail_the_scan_and_a_clean_audit_passes() -> None:
    counted, _ = pip_audit.split(pip_audit.parse(raw("pip-audit-many-vulns.json")), ignored_ids=())
    clean, _ = pip_audit.split(pip_audit.parse(raw("pip-audit-zero-vulns.json")), ignored_ids=())

    assert pip_audit.status_of(counted) is CiStatus.FAILED
    assert pip_audit.status_of(clean) is CiStatus.PASSED  # the skipped dependency is no finding


def test_ignored_ids_do_not_count_and_are_kept_for_the_audit() -> None:
    found = pip_audit.parse(raw("pip-audit-many-vulns.json"))

    counted, ignored = pip_audit.split(
        found, ignored_ids={"pysec-2021-76", "PYSEC-2021-439", "PYSEC-2021-852"}
    )

    assert ignored == ["PYSEC-2021-76", "PYSEC-2021-439", "PYSEC-2021-852"]
    assert {v.package for v in counted} == {"twisted"}


def test_an_alias_ignores_too() -> None:
    report = {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "3.1.2",
                "vulns": [
                    {
                        "id": "GHSA-h5c8-rqwp-cp95",
                        "fix_versions": ["3.1.3"],
                        "aliases": ["CVE-2024-22195"],
                    }
                ],
            }
        ]
    }

    counted, ignored = pip_audit.split(
        pip_audit.vulnerabilities_of(report), ignored_ids={"CVE-2024-22195"}
    )

    assert (counted, ignored) == ([], ["GHSA-h5c8-rqwp-cp95"])


def test_the_older_bare_list_shape_is_read() -> None:
    report = payload("pip-audit-many-vulns.json")["dependencies"]

    assert len(pip_audit.vulnerabilities_of(report)) == 7


def test_a_vulnerability_without_id_is_refused_naming_it() -> None:
    report = payload("pip-audit-many-vulns.json")
    del report["dependencies"][1]["vulns"][0]["id"]

    with pytest.raises(BadInput) as refused:
        pip_audit.vulnerabilities_of(report)

    assert refused.value.field == "dependencies.1.vulns.0.id"
