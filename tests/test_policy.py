"""Tests for the policy pack: real stacks pass, and every rule catches its breach."""

from __future__ import annotations

import copy
import dataclasses
import json
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import EnforcementLevel, StackValidationPolicy
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from components.quantity import parse_quantity as component_quantity
from policy import rules
from tools import policy_check
from tools import render as render_tool
from tools.render import RenderedResource, Rendering

REPO = Path(__file__).resolve().parents[1]

STACKS = ("dev", "prod")
JOB = "kubernetes:batch/v1:Job"
CONFIGMAP = "kubernetes:core/v1:ConfigMap"
NAMESPACE = "kubernetes:core/v1:Namespace"
BUCKET = "aws:s3/bucket:Bucket"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"
ENCRYPTION = (
    "aws:s3/bucketServerSideEncryptionConfiguration:"
    "BucketServerSideEncryptionConfiguration"
)
PUBLIC_ACCESS = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
RULE_NAMES = [rule.name for rule in rules.RULES]
LEVELS = {rule.name: rule.level for rule in rules.RULES}

Resources = list[RenderedResource]


@pytest.fixture(scope="session")
def renderings(dev: Rendering, prod: Rendering) -> dict[str, Rendering]:
    """Both stacks, rendered once per session by conftest's fixtures."""
    return {"dev": dev, "prod": prod}


# --- Building broken stacks ----------------------------------------------------


def inputs_of(resources: Resources, type_: str) -> dict[str, Any]:
    """Return the inputs of the first resource of a type."""
    return next(r.inputs for r in resources if r.type == type_)


def pod_spec(resources: Resources) -> dict[str, Any]:
    """Return the pod spec of the stack's Job."""
    spec: dict[str, Any] = inputs_of(resources, JOB)["spec"]["template"]["spec"]
    return spec


def simulator(resources: Resources) -> dict[str, Any]:
    """Return the Job's first container, the simulator."""
    container: dict[str, Any] = pod_spec(resources)["containers"][0]
    return container


def drop(resources: Resources, type_: str) -> None:
    """Remove every resource of a type."""
    resources[:] = [r for r in resources if r.type != type_]


def policy_json(resources: Resources, type_: str) -> dict[str, Any]:
    """Return the parsed `policy` document of the first resource of a type."""
    document: dict[str, Any] = json.loads(inputs_of(resources, type_)["policy"])
    return document


def set_policy(resources: Resources, type_: str, document: dict[str, Any]) -> None:
    """Replace the `policy` document of the first resource of a type."""
    inputs_of(resources, type_)["policy"] = json.dumps(document)


def grant(resources: Resources, *, action: str = "", resource: str = "") -> None:
    """Widen the first statement of the IRSA role policy."""
    document = policy_json(resources, ROLE_POLICY)
    statement = document["Statement"][0]
    if action:
        statement["Action"] = [*statement["Action"], action]
    if resource:
        statement["Resource"] = resource
    set_policy(resources, ROLE_POLICY, document)


def allow_plain_http(resources: Resources) -> None:
    """Turn the TLS-only deny into an allow."""
    document = policy_json(resources, BUCKET_POLICY)
    document["Statement"][0]["Effect"] = "Allow"
    set_policy(resources, BUCKET_POLICY, document)


def drop_run_as_non_root(resources: Resources) -> None:
    """Remove runAsNonRoot from the pod and from every container."""
    spec = pod_spec(resources)
    for owner in (spec, *spec["containers"]):
        owner["securityContext"].pop("runAsNonRoot")


def mount_host_path(resources: Resources) -> None:
    """Back the scratch volume by the node's /tmp instead of an emptyDir."""
    volume = pod_spec(resources)["volumes"][-1]
    volume.pop("emptyDir")
    volume["hostPath"] = {"path": "/tmp"}


def oversized_configmap(resources: Resources) -> None:
    """Grow the deck ConfigMap to 600 KiB."""
    inputs_of(resources, CONFIGMAP)["data"]["PADDING.INC"] = "-" * (600 * 1024)


@dataclass(frozen=True)
class Breach:
    """One deliberate violation: the stack, what it breaks and where it shows."""

    id: str
    stack: str
    rule: str
    resource_type: str
    mutate: Callable[[Resources], None]


BREACHES = [
    Breach(
        "image-tag-latest",
        "dev",
        "image-pinned",
        JOB,
        lambda rs: simulator(rs).update(image="opm/opm-flow:latest"),
    ),
    Breach(
        "image-untagged",
        "prod",
        "image-pinned",
        JOB,
        lambda rs: pod_spec(rs)["containers"][1].update(image="amazon/aws-cli"),
    ),
    Breach(
        "image-registry-port-but-no-tag",
        "dev",
        "image-pinned",
        JOB,
        lambda rs: simulator(rs).update(image="registry.local:5000/opm-flow"),
    ),
    Breach(
        "memory-limit-dropped",
        "dev",
        "container-resources",
        JOB,
        lambda rs: simulator(rs)["resources"]["limits"].pop("memory"),
    ),
    Breach(
        "cpu-request-above-limit",
        "prod",
        "container-resources",
        JOB,
        lambda rs: simulator(rs)["resources"]["requests"].update(cpu="32"),
    ),
    Breach(
        "privileged-container",
        "dev",
        "pod-security-restricted",
        JOB,
        lambda rs: simulator(rs)["securityContext"].update(privileged=True),
    ),
    Breach(
        "privilege-escalation-allowed",
        "dev",
        "pod-security-restricted",
        JOB,
        lambda rs: simulator(rs)["securityContext"].pop("allowPrivilegeEscalation"),
    ),
    Breach(
        "capability-added",
        "prod",
        "pod-security-restricted",
        JOB,
        lambda rs: simulator(rs)["securityContext"]["capabilities"].update(
            add=["SYS_ADMIN"]
        ),
    ),
    Breach(
        "root-user",
        "dev",
        "pod-security-restricted",
        JOB,
        lambda rs: pod_spec(rs)["securityContext"].update(runAsUser=0),
    ),
    Breach(
        "run-as-non-root-dropped",
        "dev",
        "pod-security-restricted",
        JOB,
        drop_run_as_non_root,
    ),
    Breach(
        "seccomp-unconfined",
        "prod",
        "pod-security-restricted",
        JOB,
        lambda rs: simulator(rs)["securityContext"].update(
            seccompProfile={"type": "Unconfined"}
        ),
    ),
    Breach(
        "host-network",
        "dev",
        "pod-security-restricted",
        JOB,
        lambda rs: pod_spec(rs).update(hostNetwork=True),
    ),
    Breach(
        "host-path-volume",
        "dev",
        "pod-security-restricted",
        JOB,
        mount_host_path,
    ),
    Breach(
        "job-ttl-set",
        "dev",
        "job-no-ttl",
        JOB,
        lambda rs: inputs_of(rs, JOB)["spec"].update(ttlSecondsAfterFinished=3600),
    ),
    Breach(
        "versioning-removed",
        "dev",
        "s3-bucket-hardened",
        BUCKET,
        lambda rs: drop(rs, VERSIONING),
    ),
    Breach(
        "versioning-suspended",
        "prod",
        "s3-bucket-hardened",
        VERSIONING,
        lambda rs: inputs_of(rs, VERSIONING)["versioningConfiguration"].update(
            status="Suspended"
        ),
    ),
    Breach(
        "encryption-removed",
        "prod",
        "s3-bucket-hardened",
        BUCKET,
        lambda rs: drop(rs, ENCRYPTION),
    ),
    Breach(
        "public-acls-allowed",
        "dev",
        "s3-bucket-hardened",
        PUBLIC_ACCESS,
        lambda rs: inputs_of(rs, PUBLIC_ACCESS).update(blockPublicAcls=False),
    ),
    Breach(
        "tls-policy-removed",
        "dev",
        "s3-bucket-hardened",
        BUCKET,
        lambda rs: drop(rs, BUCKET_POLICY),
    ),
    Breach(
        "tls-policy-allows",
        "prod",
        "s3-bucket-hardened",
        BUCKET_POLICY,
        allow_plain_http,
    ),
    Breach(
        "iam-grants-s3-star",
        "prod",
        "iam-least-privilege",
        ROLE_POLICY,
        lambda rs: grant(rs, action="s3:*"),
    ),
    Breach(
        "iam-grants-star",
        "prod",
        "iam-least-privilege",
        ROLE_POLICY,
        lambda rs: grant(rs, action="*"),
    ),
    Breach(
        "iam-star-resource",
        "prod",
        "iam-least-privilege",
        ROLE_POLICY,
        lambda rs: grant(rs, resource="*"),
    ),
    Breach(
        "part-of-label-dropped",
        "dev",
        "kubernetes-part-of-label",
        NAMESPACE,
        lambda rs: inputs_of(rs, NAMESPACE)["metadata"]["labels"].pop(
            rules.PART_OF_LABEL
        ),
    ),
    Breach(
        "active-deadline-dropped",
        "prod",
        "job-active-deadline",
        JOB,
        lambda rs: inputs_of(rs, JOB)["spec"].pop("activeDeadlineSeconds"),
    ),
    Breach(
        "configmap-600-kib",
        "dev",
        "configmap-size",
        CONFIGMAP,
        oversized_configmap,
    ),
]


def breached(rendering: Rendering, breach: Breach) -> Rendering:
    """Return a deep copy of the rendering with the breach applied."""
    resources = list(copy.deepcopy(rendering.resources))
    breach.mutate(resources)
    return dataclasses.replace(rendering, resources=tuple(resources))


# --- The offline check ---------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_real_stack_has_no_mandatory_violation(
    renderings: dict[str, Rendering], stack: str
) -> None:
    violations = policy_check.check(renderings[stack])
    assert [v.line() for v in violations if v.mandatory] == []


def test_every_rule_has_a_breach() -> None:
    assert sorted({b.rule for b in BREACHES}) == sorted(RULE_NAMES)


@pytest.mark.parametrize("breach", BREACHES, ids=[b.id for b in BREACHES])
def test_breach_fails_its_rule_and_no_other(
    renderings: dict[str, Rendering], breach: Breach
) -> None:
    violations = policy_check.check(breached(renderings[breach.stack], breach))
    assert {v.rule for v in violations} == {breach.rule}, [v.line() for v in violations]
    assert {v.resource_type for v in violations} == {breach.resource_type}
    mandatory = LEVELS[breach.rule] == "mandatory"
    assert all(v.mandatory is mandatory for v in violations)
    assert all(v.message for v in violations)


def test_violation_line_names_rule_resource_and_fix() -> None:
    violation = policy_check.Violation("job-no-ttl", JOB, "case-job", "do X", True)
    advisory = dataclasses.replace(violation, mandatory=False)
    assert violation.line() == f"job-no-ttl: {JOB}::case-job: do X"
    assert advisory.line() == f"warning: job-no-ttl: {JOB}::case-job: do X"


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("opm/flow:v2024.10.0", True),
        ("amazon/aws-cli:2.22.35", True),
        ("registry.local:5000/opm/flow:1.2.3-rc.1", True),
        ("opm/flow@sha256:" + "a" * 64, True),
        ("opm/flow:latest@sha256:" + "0" * 64, True),
        ("opm/flow:1.2", False),
        ("opm/flow:main", False),
        ("opm/flow@sha256:abc", False),
        ("", False),
    ],
)
def test_image_is_pinned_only_by_semver_tag_or_digest(image: str, pinned: bool) -> None:
    job = {"spec": {"template": {"spec": {"containers": [{"image": image}]}}}}
    assert (rules.image_pinned(JOB, job) == []) is pinned


@pytest.mark.parametrize(
    "quantity", ["500m", "2", "8Gi", "1.5", "1e3", "100M", "0.5Ki", "64", "2E"]
)
def test_pack_quantities_agree_with_the_program(quantity: str) -> None:
    assert rules.parse_quantity(quantity) == component_quantity(quantity)


def test_quantities_accept_numbers_as_the_analyzer_sends_them() -> None:
    assert rules.parse_quantity(2.0) == rules.parse_quantity("2")
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        rules.parse_quantity("two")


# --- The CLI flag --------------------------------------------------------------


def test_cli_passes_the_dev_stack(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    assert render_tool.main(["--stack", "dev", "--check-policies"]) == 0
    out, err = capsys.readouterr()
    assert out == f"dev: {len(RULE_NAMES)} of {len(RULE_NAMES)} policy rules passed\n"
    assert err == ""


def _serve(monkeypatch: pytest.MonkeyPatch, rendering: Rendering) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(render_tool, "render", lambda *_, **__: rendering)


def test_cli_fails_on_a_mandatory_violation(
    renderings: dict[str, Rendering],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _serve(monkeypatch, breached(renderings["dev"], BREACHES[0]))
    assert render_tool.main(["--stack", "dev", "--check-policies"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines[0].startswith(f"image-pinned: {JOB}::")
    assert lines[-1].endswith("failed: image-pinned")


def test_cli_passes_with_warnings_on_advisory_violations(
    renderings: dict[str, Rendering],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    breach = next(b for b in BREACHES if b.rule == "job-active-deadline")
    _serve(monkeypatch, breached(renderings[breach.stack], breach))
    assert render_tool.main(["--stack", "prod", "--check-policies"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("warning: job-active-deadline: ")
    assert out.endswith("policy rules passed, 1 warning\n")


# --- The CrossGuard pack, through pulumi-policy's own analyzer -----------------


@pytest.fixture(scope="module")
def analyzer() -> Any:
    """The pack's policies behind the analyzer service the CLI talks to."""
    # Loaded as the CLI loads it (folder on sys.path), under another name so
    # that the module does not start serving.
    pack = runpy.run_path(str(REPO / "policy"), run_name="clarissa_policy_pack")
    policies = pack["policies"]()
    return _PolicyAnalyzerServicer(
        pack["PACK_NAME"], "0.0.1", policies, EnforcementLevel.ADVISORY
    )


def _urn(resource: RenderedResource, stack: str) -> str:
    return f"urn:pulumi:{stack}::clarissa::{resource.type}::{resource.name}"


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    message.update(props)
    return message


def _diagnostics(analyzer: Any, rendering: Rendering) -> Iterator[tuple[str, Any]]:
    """Yield (URN of the resource at fault, diagnostic) as a preview would."""
    stack = []
    for resource in rendering.resources:
        urn = _urn(resource, rendering.stack)
        properties = _struct(resource.inputs)
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type, name=resource.name, urn=urn, properties=properties
        )
        # The engine files a resource policy's report under the resource.
        for diagnostic in analyzer.Analyze(request, None).diagnostics:
            yield urn, diagnostic
        stack.append(
            analyzer_pb2.AnalyzerResource(
                type=resource.type, name=resource.name, urn=urn, properties=properties
            )
        )
    request = analyzer_pb2.AnalyzeStackRequest(resources=stack)
    for diagnostic in analyzer.AnalyzeStack(request, None).diagnostics:
        yield diagnostic.urn, diagnostic


def test_pack_has_one_policy_per_rule_at_its_level() -> None:
    pack = runpy.run_path(str(REPO / "policy"), run_name="clarissa_policy_pack")
    levels = {
        "mandatory": EnforcementLevel.MANDATORY,
        "advisory": EnforcementLevel.ADVISORY,
    }
    policies = pack["policies"]()
    assert [p.name for p in policies] == RULE_NAMES
    assert [p.enforcement_level for p in policies] == [
        levels[rule.level] for rule in rules.RULES
    ]
    stack_policies = [p.name for p in policies if isinstance(p, StackValidationPolicy)]
    assert stack_policies == ["s3-bucket-hardened"]


@pytest.mark.parametrize("stack", STACKS)
def test_pack_passes_the_real_stack(
    analyzer: Any, renderings: dict[str, Rendering], stack: str
) -> None:
    mandatory = [
        (urn, d.policyName, d.message)
        for urn, d in _diagnostics(analyzer, renderings[stack])
        if d.enforcementLevel == analyzer_pb2.MANDATORY
    ]
    assert mandatory == []


@pytest.mark.parametrize("breach", BREACHES, ids=[b.id for b in BREACHES])
def test_pack_reports_the_breach_on_the_resource_to_change(
    analyzer: Any,
    renderings: dict[str, Rendering],
    breach: Breach,
) -> None:
    rendering = breached(renderings[breach.stack], breach)
    reports = list(_diagnostics(analyzer, rendering))
    assert {d.policyName for _, d in reports} == {breach.rule}
    assert {urn.split("::")[-2] for urn, _ in reports} == {breach.resource_type}
    level = getattr(analyzer_pb2, LEVELS[breach.rule].upper())
    assert {d.enforcementLevel for _, d in reports} == {level}


def test_pack_defers_values_unknown_during_preview(
    analyzer: Any, renderings: dict[str, Rendering]
) -> None:
    job = next(r for r in renderings["dev"].resources if r.type == JOB)
    inputs = copy.deepcopy(job.inputs)
    inputs["spec"]["template"]["spec"]["containers"][0]["image"] = UNKNOWN_STRING_VALUE
    request = analyzer_pb2.AnalyzeRequest(
        type=JOB, name=job.name, urn=_urn(job, "dev"), properties=_struct(inputs)
    )
    diagnostics = list(analyzer.Analyze(request, None).diagnostics)
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("image-pinned", analyzer_pb2.ADVISORY)
    ]
    assert "during preview" in diagnostics[0].message
