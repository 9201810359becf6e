"""Which gate a CI job stands for, by its name: an ordered list of rules, each a gate and the
name patterns that map to it; the first rule with a matching pattern wins, no match is no gate.

A pattern is a shell-style glob matched against the whole job name, case-insensitively
(`*unit*`, `lint`, `test (3.1?)`), or, prefixed with `re:`, a regular expression searched in
the name (`re:^pytest\\b`). Configured as `LTS_RELEASE_CI_GATE_PATTERNS` (JSON, the shape of
`DEFAULT_GATE_RULES`)."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass

from lts_events.contracts.release.ci import Gate
from pydantic import BaseModel, ConfigDict, Field, field_validator

REGEX_PREFIX = "re:"


def compile_pattern(pattern: str) -> re.Pattern[str]:
    if pattern.startswith(REGEX_PREFIX):
        try:
            return re.compile(pattern.removeprefix(REGEX_PREFIX), re.IGNORECASE)
        except re.error as error:
            raise ValueError(f"pattern {pattern!r} is not a regular expression: {error}") from None
    return re.compile(r"\A" + fnmatch.translate(pattern), re.IGNORECASE)  # the whole name


class GateRule(BaseModel):
    """One gate and the job-name patterns that map to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gate: Gate
    patterns: list[str] = Field(min_length=1)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            compile_pattern(pattern)  # a bad regular expression is refused at start-up
        return patterns


# Most specific first: "security-regression" is a regression suite, "dependency-audit" a
# dependency scan, and only what no other rule claims is a unit test run.
DEFAULT_GATE_RULES: tuple[GateRule, ...] = (
    GateRule(gate=Gate.REGRESSION, patterns=["*regression*", "*backport*"]),
    GateRule(gate=Gate.INTEGRATION, patterns=["*integration*", "*e2e*", "*end-to-end*"]),
    GateRule(gate=Gate.PERFORMANCE_SMOKE, patterns=["*perf*", "*smoke*", "*bench*"]),
    GateRule(
        gate=Gate.DEPENDENCY_SCAN,
        patterns=["*pip-audit*", "*pip_audit*", "*dependenc*", "*osv*", "*audit*"],
    ),
    GateRule(
        gate=Gate.SECURITY_SCAN,
        patterns=["*sast*", "*bandit*", "*semgrep*", "*codeql*", "*security*"],
    ),
    GateRule(
        gate=Gate.LINT,
        patterns=["*lint*", "*ruff*", "*flake8*", "*mypy*", "*typecheck*", "*static*", "*format*"],
    ),
    GateRule(gate=Gate.UNIT, patterns=["*unit*", "test", "tests", "*pytest*", "*jest*"]),
)


@dataclass(frozen=True)
class GateMap:
    rules: tuple[tuple[Gate, tuple[re.Pattern[str], ...]], ...]

    @staticmethod
    def of(rules: Sequence[GateRule]) -> GateMap:
        return GateMap(
            tuple((rule.gate, tuple(compile_pattern(p) for p in rule.patterns)) for rule in rules)
        )

    def gate_for(self, job: str) -> Gate | None:
        for gate, patterns in self.rules:
            if any(pattern.search(job) for pattern in patterns):
                return gate
        return None
