"""JUnit XML test reports, read with `junitparser`: the dialects of pytest (`--junitxml`,
`<testsuites>` around one `<testsuite name="pytest">`), Maven Surefire (one `<testsuite>` per
`TEST-*.xml`), jest-junit (`<testsuites>` with a suite per file) and their relatives (nested
suites are flattened). A case counts as its worst outcome: error, then failure, then skipped;
the counts come from the cases, not from the suites' attributes (which some tools leave out),
except for a suite that lists no case at all. A case that was never run says so in its `status`
attribute rather than with a `<skipped>` child: GoogleTest writes `status="notrun"` for a
disabled test (googletest `src/gtest.cc`, `OutputXmlTestInfo`), the schema Jenkins reads and
C++ frameworks such as tst write `status="disabled"` (with the suite's `disabled` count); such
a case is skipped, not passed. Surefire's reruns (`<flakyFailure>`, `<rerunFailure>`...) are
not results: a flaky case whose last run passed has only those and passes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from junitparser import Error, Failure, JUnitXml, JUnitXmlError, Skipped, TestCase, TestSuite
from junitparser import junitparser as _junitparser
from lts_events.contracts.release.ci import (
    CiStatus,
    FailedTest,
    SuiteCounts,
    TestCounts,
)

from lts_release.ci.errors import BadInput
from lts_release.ci.observation import MAX_NAME, text

MAX_FAILED_PER_SUITE = 20  # the first failing cases of a suite kept as evidence
MAX_SUITES = 200  # suites listed one by one; the totals always count every suite
MAX_DEPTH = 50  # suites nested in suites (PHPUnit nests a few levels; none nests dozens)
# A JUnit report needs no document type; refusing one keeps entity tricks out of the parser.
_DOCTYPE = re.compile(rb"\A\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*<!DOCTYPE", re.S | re.I)


def parse(body: bytes) -> TestCounts:
    """The report's counts per suite and in total; `BadInput` naming what is wrong."""
    if not body.strip():
        raise BadInput("body", "empty: a JUnit XML report is required")
    if _DOCTYPE.match(body):
        raise BadInput("body", "a document type declaration (<!DOCTYPE>) is not accepted")
    try:
        report = JUnitXml.fromroot(_root(body))
    except SyntaxError as error:  # lxml's XMLSyntaxError names the line and column
        raise BadInput("body", f"not well-formed XML: {error}") from None
    except JUnitXmlError as error:
        reason = f"not a JUnit report ({error}): <testsuites> or <testsuite>"
        raise BadInput("(root)", reason) from None
    suites = [_counts(suite, where) for suite, where in _suites(report)]
    return TestCounts(
        tests=sum(s.tests for s in suites),
        passed=sum(s.passed for s in suites),
        failed=sum(s.failed for s in suites),
        skipped=sum(s.skipped for s in suites),
        errors=sum(s.errors for s in suites),
        suites=tuple(suites[:MAX_SUITES]),
    )


def status_of(counts: TestCounts) -> CiStatus:
    """Failed when any case failed or errored; passed when some passed; skipped when nothing
    ran (an empty report passes no gate)."""
    if counts.failed or counts.errors:
        return CiStatus.FAILED
    return CiStatus.PASSED if counts.passed else CiStatus.SKIPPED


def _root(body: bytes) -> Any:
    """The document's root element, parsed as junitparser parses (lxml when installed, else
    ElementTree). lxml refuses a text node above 10 MB unless told `huge_tree`, and a test's
    captured `<system-out>` can be that large in a report under the size limit; entities stay
    unresolved and the document type is refused before (`_DOCTYPE`)."""
    etree: Any = vars(_junitparser)["etree"]
    if etree.__name__ == "lxml.etree":
        parser = etree.XMLParser(huge_tree=True, resolve_entities=False, no_network=True)
        return etree.fromstring(body, parser)
    return etree.fromstring(body)


def _suites(report: JUnitXml) -> Iterator[tuple[TestSuite, str]]:
    for index, suite in enumerate(report):
        yield from _nested(suite, f"testsuite.{index}", 1)


def _nested(suite: TestSuite, where: str, depth: int) -> Iterator[tuple[TestSuite, str]]:
    if depth > MAX_DEPTH:
        raise BadInput(where, f"suites nested more than {MAX_DEPTH} deep")
    yield suite, where
    for index, inner in enumerate(suite.testsuites()):  # type: ignore[no-untyped-call]
        yield from _nested(inner, f"{where}.testsuite.{index}", depth + 1)


def _counts(suite: TestSuite, where: str) -> SuiteCounts:
    # its own cases: iterating a suite yields its nested suites' cases too
    cases = list(suite.iterchildren(TestCase))  # type: ignore[no-untyped-call]
    name = text(suite.name, limit=MAX_NAME) or where
    time = _number(suite, where)
    if not cases:
        return _declared(suite, name, time, where)
    outcomes = [_outcome(case) for case in cases]
    failed = [_failed(case, outcome) for case, outcome in zip(cases, outcomes, strict=True)]
    return SuiteCounts(
        name=name,
        tests=len(cases),
        passed=outcomes.count("passed"),
        failed=outcomes.count("failure"),
        skipped=outcomes.count("skipped"),
        errors=outcomes.count("error"),
        time_seconds=time,
        failed_tests=tuple(f for f in failed if f is not None)[:MAX_FAILED_PER_SUITE],
    )


# `status` values of a case that did not run (GoogleTest; Jenkins' JUnit schema, tst)
_NOT_RUN = frozenset({"notrun", "disabled"})


def _outcome(case: TestCase) -> str:
    results = case.result
    if any(isinstance(r, Error) for r in results):
        return "error"
    if any(isinstance(r, Failure) for r in results):
        return "failure"
    if any(isinstance(r, Skipped) for r in results):
        return "skipped"
    status: str = case._elem.attrib.get("status", "")
    return "skipped" if status.strip().lower() in _NOT_RUN else "passed"


def _failed(case: TestCase, outcome: str) -> FailedTest | None:
    if outcome not in ("failure", "error"):
        return None
    kind = Error if outcome == "error" else Failure
    message = next((r.message for r in case.result if isinstance(r, kind) and r.message), "")
    return FailedTest(
        classname=text(case.classname, limit=MAX_NAME),
        name=text(case.name, limit=MAX_NAME) or "(unnamed)",
        outcome=outcome,
        message=text(message),
    )


def _declared(suite: TestSuite, name: str, time: float | None, where: str) -> SuiteCounts:
    """A suite without cases (a summary-only report): its attributes are all there is."""
    tests, failures, errors, skipped, disabled = (
        _whole(suite, attribute, where)
        for attribute in ("tests", "failures", "errors", "skipped", "disabled")
    )
    skipped += disabled  # GoogleTest counts its disabled tests apart from the skipped ones
    if failures + errors + skipped > tests:
        raise BadInput(
            where, "counts do not add up (failures + errors + skipped + disabled > tests)"
        )
    return SuiteCounts(
        name=name,
        tests=tests,
        passed=tests - failures - errors - skipped,
        failed=failures,
        skipped=skipped,
        errors=errors,
        time_seconds=time,
    )


def _attribute(suite: TestSuite, name: str) -> str | None:
    """The suite's attribute as written. Not junitparser's properties: reading its `time`
    recomputes the suite's statistics from its cases and overwrites the written counts."""
    value: str | None = suite._elem.attrib.get(name)
    return value


def _whole(suite: TestSuite, name: str, where: str) -> int:
    value = _attribute(suite, name)
    if value is None:
        return 0
    try:
        number = int(value)
    except ValueError:
        raise BadInput(f"{where}.{name}", f"{value!r} is not a whole number") from None
    if number < 0:
        raise BadInput(f"{where}.{name}", "a count cannot be negative")
    return number


def _number(suite: TestSuite, where: str) -> float | None:
    value = _attribute(suite, "time")
    if value is None:
        return None
    try:
        return float(value.replace(",", ""))  # some tools write 1,234.5
    except ValueError:
        raise BadInput(f"{where}.time", f"{value!r} is not a number of seconds") from None
