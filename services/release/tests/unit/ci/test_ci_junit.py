from __future__ import annotations

import pytest
from lts_events.contracts.release.ci import CiStatus
from lts_release.ci import junit
from lts_release.ci.errors import BadInput

from .fixtures import raw


def test_pytest_counts_come_from_its_cases() -> None:
    counts = junit.parse(raw("junit-pytest-fail.xml"))

    assert (counts.tests, counts.passed, counts.failed, counts.skipped, counts.errors) == (
        5,
        3,
        1,
        1,
        0,
    )
    (suite,) = counts.suites
    assert (suite.name, suite.time_seconds) == ("pytest", 2.481)
    (failed,) = suite.failed_tests
    assert (failed.classname, failed.name, failed.outcome) == (
        "test.test_spark.SparkTests",
        "test_rsh_events",
        "failure",
    )
    assert "AssertionError: 143 != 0" in failed.message
    assert junit.status_of(counts) is CiStatus.FAILED


def test_a_surefire_report_is_one_testsuite_with_errors_and_failures() -> None:
    counts = junit.parse(raw("junit-surefire-email.xml"))

    assert (counts.tests, counts.passed, counts.failed, counts.errors) == (9, 2, 2, 5)
    (suite,) = counts.suites
    assert suite.name == "action.surefire.report.email.EmailAddressTest"
    assert [f.outcome for f in suite.failed_tests].count("error") == 5
    assert "ñandú" in suite.failed_tests[0].message  # unicode kept as evidence


def test_an_all_green_surefire_report_passes() -> None:
    counts = junit.parse(raw("junit-surefire-allok.xml"))

    assert (counts.tests, counts.passed) == (1, 1)
    assert junit.status_of(counts) is CiStatus.PASSED


def test_a_jest_report_has_a_suite_per_file() -> None:
    counts = junit.parse(raw("junit-jest.xml"))

    assert [(s.name, s.tests, s.passed) for s in counts.suites] == [("widget.test.js", 2, 2)]
    assert junit.status_of(counts) is CiStatus.PASSED


def test_an_empty_report_passes_nothing() -> None:
    counts = junit.parse(b'<testsuites name="nothing"></testsuites>')

    assert counts.tests == 0
    assert junit.status_of(counts) is CiStatus.SKIPPED


def test_a_truncated_report_is_refused_with_the_line() -> None:
    with pytest.raises(BadInput, match=r"not well-formed XML.*line 11") as refused:
        junit.parse(raw("junit-pytest-corrupt.xml"))

    assert refused.value.field == "body"


def test_another_xml_document_is_refused_naming_the_root() -> None:
    with pytest.raises(BadInput) as refused:
        junit.parse(b"<html><body>502 Bad Gateway</body></html>")

    assert refused.value.field == "(root)"


def test_a_document_type_is_refused_before_parsing() -> None:
    entity = (
        b'<?xml version="1.0"?>\n<!DOCTYPE t [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<testsuite name="&x;"/>'
    )

    with pytest.raises(BadInput, match="document type"):
        junit.parse(entity)


def test_a_suite_time_that_is_no_number_is_refused_naming_the_suite() -> None:
    report = (
        b'<testsuites><testsuite name="a" time="soon"><testcase name="t"/></testsuite></testsuites>'
    )

    with pytest.raises(BadInput) as refused:
        junit.parse(report)

    assert refused.value.field == "testsuite.0.time"


def test_a_summary_only_suite_counts_by_its_attributes() -> None:
    counts = junit.parse(b'<testsuite name="s" tests="4" failures="1" errors="0" skipped="1"/>')

    assert (counts.tests, counts.passed, counts.failed, counts.skipped) == (4, 2, 1, 1)


def test_nested_suites_are_listed_apart_and_their_cases_counted_once() -> None:
    report = (
        b'<testsuite name="all"><testcase name="a"/>'
        b'<testsuite name="inner"><testcase name="b"><failure message="no"/></testcase>'
        b"</testsuite></testsuite>"
    )

    counts = junit.parse(report)

    assert [(s.name, s.tests, s.failed) for s in counts.suites] == [("all", 1, 0), ("inner", 1, 1)]
    assert (counts.tests, counts.passed, counts.failed) == (2, 1, 1)


def test_disabled_cases_of_a_cpp_report_are_skipped_not_passed() -> None:
    # tst (C++) writes `status='disabled'` and no <skipped>, as Jenkins' JUnit schema allows;
    # publish-unit-test-result-action counts the same 6 passed and 5 skipped.
    counts = junit.parse(raw("junit-tst-disabled.xml"))

    assert (counts.tests, counts.passed, counts.failed, counts.skipped, counts.errors) == (
        31,
        6,
        19,
        5,
        1,
    )
    assert junit.status_of(counts) is CiStatus.FAILED


def test_a_googletest_report_of_disabled_tests_only_passes_nothing() -> None:
    # What googletest's XmlUnitTestResultPrinter writes for DISABLED_ tests (src/gtest.cc:
    # status "notrun", result "suppressed"), as its gtest_xml_output_unittest.py expects.
    report = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<testsuites tests="1" failures="0" disabled="1" errors="0" time="0" name="AllTests">\n'
        b'  <testsuite name="DisabledTest" tests="1" failures="0" disabled="1" skipped="0"'
        b' errors="0" time="0">\n'
        b'    <testcase name="DISABLED_test_not_run" file="gtest_xml_output_unittest_.cc"'
        b' line="68" status="notrun" result="suppressed" time="0" classname="DisabledTest"/>\n'
        b"  </testsuite>\n</testsuites>\n"
    )

    counts = junit.parse(report)

    assert (counts.tests, counts.passed, counts.skipped) == (1, 0, 1)
    assert junit.status_of(counts) is CiStatus.SKIPPED


def test_a_summary_only_suite_counts_disabled_tests_as_skipped() -> None:
    counts = junit.parse(b'<testsuite name="g" tests="3" failures="0" disabled="2" skipped="0"/>')

    assert (counts.tests, counts.passed, counts.skipped) == (3, 1, 2)


def test_a_surefire_flaky_test_that_passed_on_rerun_passes() -> None:
    # rerunFailingTestsCount: the failed first run is a <flakyFailure>, not a <failure>
    counts = junit.parse(raw("junit-surefire-flaky.xml"))

    assert (counts.tests, counts.passed, counts.failed, counts.errors) == (1, 1, 0, 0)
    assert junit.status_of(counts) is CiStatus.PASSED


def test_a_captured_output_above_lxmls_default_text_limit_is_read() -> None:
    # lxml refuses a text node above 10 MB by default; a report under the 16 MB upload limit
    # (pytest's junit_logging=all, Surefire's system-out) can hold one
    output = b"x" * (11 * 1024 * 1024)
    report = (
        b'<testsuite name="big"><testcase classname="c" name="t"><system-out>'
        + output
        + b"</system-out></testcase></testsuite>"
    )

    counts = junit.parse(report)

    assert (counts.tests, counts.passed) == (1, 1)


def test_suites_nested_too_deep_are_refused_naming_the_suite() -> None:
    depth = junit.MAX_DEPTH + 1
    report = b'<testsuite name="s">' * depth + b'<testcase name="t"/>' + b"</testsuite>" * depth

    with pytest.raises(BadInput, match="nested more than") as refused:
        junit.parse(report)

    assert refused.value.field == ".".join(["testsuite.0"] * depth)
