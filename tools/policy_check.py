"""Runs the policy pack's rules offline on a rendered stack, without the Pulumi CLI.

python -m tools.render --stack dev --check-policies
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from policy.rules import RULES, StackRule

if TYPE_CHECKING:
    from tools.render import Rendering


@dataclass(frozen=True)
class Violation:
    """One rule broken by one resource, and what to change to comply."""

    rule: str
    resource_type: str
    resource_name: str
    message: str
    mandatory: bool

    @property
    def resource(self) -> str:
        """Return the resource as Pulumi's URNs end: type::name."""
        return f"{self.resource_type}::{self.resource_name}"

    def line(self) -> str:
        """Return the one-line report: `rule: resource: what to change`."""
        text = f"{self.rule}: {self.resource}: {self.message}"
        return text if self.mandatory else f"warning: {text}"


def check(rendering: Rendering) -> list[Violation]:
    """Return every violation of every rule in the rendered stack."""
    violations: list[Violation] = []
    for rule in RULES:
        mandatory = rule.level == "mandatory"
        if isinstance(rule, StackRule):
            # Offline, as in the pack, the stack rule sees every resource.
            stack = [(r.type, r.name, r.inputs) for r in rendering.resources]
            violations.extend(
                Violation(
                    rule.name, f.resource_type, f.resource_name, f.message, mandatory
                )
                for f in rule.check(stack)
            )
            continue
        for resource in rendering.resources:
            violations.extend(
                Violation(rule.name, resource.type, resource.name, message, mandatory)
                for message in rule.check(resource.type, resource.inputs)
            )
    return violations


def report(
    violations: list[Violation],
    *,
    stack: str,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Print violations to stderr and a summary; return 1 if any is mandatory."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    for violation in violations:
        print(violation.line(), file=err)
    broken = {v.rule for v in violations}
    failed = sorted({v.rule for v in violations if v.mandatory})
    passed = len(RULES) - len(broken)
    warnings = sum(not v.mandatory for v in violations)
    summary = f"{stack}: {passed} of {len(RULES)} policy rules passed"
    if warnings:
        summary += f", {warnings} warning{'s' if warnings != 1 else ''}"
    if failed:
        print(f"{summary}; failed: {', '.join(failed)}", file=err)
        return 1
    print(summary, file=out)
    return 0
