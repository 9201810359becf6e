from __future__ import annotations

import json

import pytest
from lts_events.contracts.release.ci import CiStatus, FindingLevel
from lts_release.ci import sarif
from lts_release.ci.errors import BadInput

from .fixtures import payload, raw


def test_a_bandit_finding_keeps_its_rule_level_and_place() -> None:
    (finding,) = sarif.parse(raw("sarif-bandit.json"))

    assert (finding.tool, finding.rule_id, finding.level) == ("Bandit", "B101", FindingLevel.NOTE)
    assert (finding.path, finding.line) == ("examples/assert.py", 1)
    assert finding.message.startswith("Use of assert detected.")


def test_a_semgrep_result_without_level_takes_its_rules_default() -> None:
    (finding,) = sarif.parse(raw("sarif-semgrep.json"))

    assert (finding.tool, finding.rule_id) == ("Semgrep OSS", "rules.eqeq-is-bad")
    assert finding.level is FindingLevel.ERROR  # the rule's defaultConfiguration
    assert (finding.path, finding.line) == ("targets/basic/stupid.py", 3)


@pytest.mark.parametrize(
    ("fixture", "fail_level", "status"),
    [
        ("sarif-semgrep.json", FindingLevel.ERROR, CiStatus.FAILED),
        ("sarif-bandit.json", FindingLevel.ERROR, CiStatus.PASSED),  # a note
        ("sarif-bandit.json", FindingLevel.WARNING, CiStatus.PASSED),
        ("sarif-bandit.json", FindingLevel.NOTE, CiStatus.FAILED),
    ],
)
def test_findings_at_or_above_the_configured_level_fail_the_scan(
    fixture: str, fail_level: FindingLevel, status: CiStatus
) -> None:
    findings = sarif.parse(raw(fixture))

    assert sarif.status_of(findings, fail_level=fail_level) is status


def test_without_a_level_or_a_rule_default_a_result_is_a_warning() -> None:
    log = payload("sarif-bandit.json")
    del log["runs"][0]["results"][0]["level"]

    (finding,) = sarif.findings_of(log)

    assert finding.level is FindingLevel.WARNING


def test_a_rules_security_severity_is_kept() -> None:
    log = payload("sarif-bandit.json")
    log["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"] = "8.8"

    (finding,) = sarif.findings_of(log)

    assert finding.security_severity == 8.8


def test_accepted_suppressions_do_not_count_but_those_under_review_do() -> None:
    log = payload("sarif-semgrep.json")
    result = log["runs"][0]["results"][0]
    result["suppressions"] = [{"kind": "inSource"}]
    suppressed = sarif.findings_of(log)
    result["suppressions"] = [{"kind": "external", "status": "underReview"}]

    assert suppressed == ()
    assert len(sarif.findings_of(log)) == 1


def test_an_unknown_level_is_refused_naming_the_result() -> None:
    log = payload("sarif-semgrep.json")
    log["runs"][0]["results"][0]["level"] = "critical"

    with pytest.raises(BadInput) as refused:
        sarif.findings_of(log)

    assert refused.value.field == "runs.0.results.0.level"


def test_another_sarif_version_is_refused_naming_the_field() -> None:
    log = payload("sarif-bandit.json")
    log["version"] = "2.0.0"

    with pytest.raises(BadInput) as refused:
        sarif.parse(json.dumps(log).encode())

    assert refused.value.field == "version"


def test_a_result_without_message_is_refused_naming_it() -> None:
    log = payload("sarif-bandit.json")
    del log["runs"][0]["results"][0]["message"]

    with pytest.raises(BadInput) as refused:
        sarif.findings_of(log)

    assert refused.value.field == "runs.0.results.0.message"


def test_not_json_is_refused() -> None:
    with pytest.raises(BadInput, match="not JSON") as refused:
        sarif.parse(b"<sarif/>")

    assert refused.value.field == "body"


def test_rules_in_a_query_packs_extension_are_found_by_index_guid_or_id() -> None:
    # CodeQL's shape: the driver lists no rules, the query pack's extension does; results
    # name it by rule.toolComponent (index or guid) and the rule by index, guid or id
    findings = sarif.parse(raw("sarif-rules-in-extensions.json"))

    assert [f.rule_id for f in sorted(findings, key=lambda f: f.line or 0)] == [
        "js/unused-local-variable-1",
        "js/unused-local-variable-1",
        "js/unused-local-variable-1",
        "js/unused-local-variable-1",
        "com.lgtm/python-queries:py/unnecessary-pass-1",
    ]


def test_a_codeql_result_takes_the_level_and_severity_of_its_extensions_rule() -> None:
    # `codeql database analyze` with query packs: results carry no level; their rule, with its
    # default level and security-severity, is in tool.extensions. The driver's own rule at the
    # same index must not be taken for it.
    log = payload("sarif-rules-in-extensions.json")
    tool = log["runs"][0]["tool"]
    tool["driver"]["rules"] = [{"id": "driver/other", "defaultConfiguration": {"level": "note"}}]
    rule = tool["extensions"][0]["rules"][0]
    rule["defaultConfiguration"] = {"enabled": True, "level": "error"}
    rule["properties"]["security-severity"] = "8.8"
    log["runs"][0]["results"] = [
        {
            "ruleId": "js/unused-local-variable-1",
            "rule": {"id": "js/unused-local-variable-1", "index": 0, "toolComponent": {"index": 0}},
            "message": {"text": "Unused variable foo."},
        }
    ]

    (finding,) = sarif.findings_of(log)

    assert (finding.level, finding.security_severity) == (FindingLevel.ERROR, 8.8)
    assert sarif.status_of((finding,), fail_level=FindingLevel.ERROR) is CiStatus.FAILED


def test_a_rule_index_of_minus_one_is_no_index() -> None:
    # the SARIF schema's default and minimum for ruleIndex; some producers write it out
    (finding,) = sarif.parse(raw("sarif-sentinel-index.json"))

    assert (finding.rule_id, finding.level, finding.line) == ("TEST001", FindingLevel.WARNING, 42)


def test_a_result_absent_from_this_run_is_no_finding() -> None:
    # `sarif validate --baseline` output: 31 results, one `baselineState: absent` (fixed)
    findings = sarif.parse(raw("sarif-baseline-absent.json"))

    assert len(findings) == 30
    assert [f.rule_id for f in findings].count("SARIF2012") == 1
