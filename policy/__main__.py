"""The clarissa CrossGuard policy pack: the rules of rules.py as Pulumi policies."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

# The CLI runs this folder as a script, with the folder itself on sys.path.
import rules
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

PACK_NAME = "clarissa"
_LEVELS = {
    "mandatory": EnforcementLevel.MANDATORY,
    "advisory": EnforcementLevel.ADVISORY,
}


def policies() -> list[Policy]:
    """Return one CrossGuard policy per rule, at the rule's enforcement level."""
    return [_policy(rule) for rule in rules.RULES]


def _policy(rule: rules.ResourceRule | rules.StackRule) -> Policy:
    # The two policy classes take the same settings but differently typed
    # validators, so each is built where its validator's type is known.
    name, description, level = rule.name, rule.description, _LEVELS[rule.level]
    if isinstance(rule, rules.StackRule):
        stack = _stack_validation(rule)
        return StackValidationPolicy(name, description, stack, level)
    resource = _resource_validation(rule)
    return ResourceValidationPolicy(name, description, resource, level)


def _resource_validation(
    rule: rules.ResourceRule,
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        for message in rule.check(args.resource_type, args.props):
            report(message, None)

    return validate


def _stack_validation(
    rule: rules.StackRule,
) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        urns: dict[tuple[str, str], str] = {}
        resources: list[tuple[str, str, Mapping[str, Any]]] = []
        for resource in args.resources:
            urns.setdefault((resource.resource_type, resource.name), resource.urn)
            resources.append((resource.resource_type, resource.name, resource.props))
        for finding in rule.check(resources):
            report(
                finding.message,
                urns.get((finding.resource_type, finding.resource_name)),
            )

    return validate


if __name__ == "__main__":
    # PolicyPack serves the analyzer and does not return.
    PolicyPack(name=PACK_NAME, policies=policies())
