"""The stack's policy rules as plain functions, shared by CrossGuard and CI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

# Everything here must import with the standard library alone: the CLI runs
# the pack from this folder, where neither `components` nor `tools` is on the
# path, and `pulumi policy publish` uploads this folder only.
#
# Props arrive as plain dicts offline and as pulumi-policy's read-only proxies
# (Mapping and Sequence, not dict and list) in the pack. The proxies raise on
# a value that is unknown during a preview, and pulumi-policy turns that into
# a "cannot run during preview" note, so rules read only what they judge.

Level = Literal["mandatory", "advisory"]
Props = Mapping[str, Any]
StackResource = tuple[str, str, Props]
"""A resource as stack rules see it: type token, logical name and properties."""

PART_OF_LABEL = "app.kubernetes.io/part-of"
CONFIGMAP_BUDGET_BYTES = 512 * 1024

_POD_TEMPLATE_KINDS = frozenset(
    {
        "Job",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "ReplicaSet",
        "ReplicationController",
    }
)
# Helm, YAML and Kustomize tokens are components that wrap objects, not objects.
_NON_OBJECT_MODULES = ("yaml", "helm.sh/", "kustomize/")
_RESTRICTED_VOLUME_TYPES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SECCOMP_TYPES = ("RuntimeDefault", "Localhost")

_SEMVER_TAG = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z][0-9A-Za-z.-]*)?$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_QUANTITY = re.compile(
    r"^(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<suffix>[KMGTPE]i|[numkMGTPE])|[eE](?P<exponent>[+-]?\d+))?$"
)
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {
    "n": -9,
    "u": -6,
    "m": -3,
    "": 0,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}

_BUCKETS = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"})
_PUBLIC_ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
_ENCRYPTION = frozenset(
    {
        "aws:s3/bucketServerSideEncryptionConfiguration:"
        "BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:"
        "BucketServerSideEncryptionConfigurationV2",
    }
)
_VERSIONING = frozenset(
    {
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketVersioningV2:BucketVersioningV2",
    }
)
_BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
_PUBLIC_ACCESS_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)
_SSE_ALGORITHMS = frozenset({"AES256", "aws:kms", "aws:kms:dsse"})
_IAM_POLICIES = frozenset(
    {
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/policy:Policy",
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/groupPolicy:GroupPolicy",
    }
)


@dataclass(frozen=True)
class Finding:
    """A stack rule's verdict on one resource: which one, and what to change."""

    resource_type: str
    resource_name: str
    message: str


@dataclass(frozen=True)
class ResourceRule:
    """A rule over one resource; `check` returns what to change, empty if it passes."""

    name: str
    description: str
    level: Level
    check: Callable[[str, Props], list[str]]


@dataclass(frozen=True)
class StackRule:
    """A rule over every resource of a stack, for checks that span resources."""

    name: str
    description: str
    level: Level
    check: Callable[[Sequence[StackResource]], list[Finding]]


def parse_quantity(value: object) -> Decimal:
    """Return a Kubernetes quantity ("500m", "8Gi", 2) as a number, or ValueError."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    match = _QUANTITY.match(str(value).strip())
    if match is None:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as err:  # pragma: no cover - the pattern admits numbers
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from err
    if match["exponent"] is not None:
        return number.scaleb(int(match["exponent"]))
    suffix = match["suffix"] or ""
    if suffix in _BINARY:
        return number * Decimal(1024) ** _BINARY[suffix]
    return number.scaleb(_DECIMAL[suffix])


# --- Kubernetes -----------------------------------------------------------


def image_pinned(resource_type: str, props: Props) -> list[str]:
    """Require every container image to carry a semver tag or a sha256 digest."""
    problems = []
    for where, container in _all_containers(resource_type, props):
        image = container.get("image")
        problem = _image_problem(image)
        if problem is not None:
            problems.append(
                f"{where}: image {image!r} {problem}; pin it to a release tag "
                "such as :v1.2.3 or to a digest @sha256:<64 hex digits>"
            )
    return problems


def container_resources(resource_type: str, props: Props) -> list[str]:
    """Require CPU and memory requests and limits, with requests within limits."""
    problems = []
    for where, pod_spec in _pod_specs(resource_type, props):
        for field in ("initContainers", "containers"):
            for label, container in _containers(where, pod_spec, field):
                problems.extend(_resource_problems(label, container))
    return problems


def pod_security_restricted(resource_type: str, props: Props) -> list[str]:
    """Require every pod template to meet the Pod Security `restricted` profile."""
    problems = []
    for where, pod_spec in _pod_specs(resource_type, props):
        problems.extend(_pod_level_problems(where, pod_spec))
        pod_context = _mapping(pod_spec.get("securityContext"))
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for label, container in _containers(where, pod_spec, field):
                problems.extend(_container_problems(label, container, pod_context))
    return problems


def job_without_ttl(resource_type: str, props: Props) -> list[str]:
    """Forbid ttlSecondsAfterFinished, which deletes Jobs that Pulumi still owns."""
    return [
        f"{where}.ttlSecondsAfterFinished: remove it; the cluster would delete the "
        "finished Job behind Pulumi's back, and the next refresh and `pulumi up` "
        "would recreate it and run the case again"
        for where, job_spec in _job_specs(resource_type, props)
        if job_spec.get("ttlSecondsAfterFinished") is not None
    ]


def job_active_deadline(resource_type: str, props: Props) -> list[str]:
    """Advise an activeDeadlineSeconds on every Job so a hung run cannot hold nodes."""
    return [
        f"{where}.activeDeadlineSeconds: set it (clarissa:job.activeDeadlineSeconds) "
        "so that a hung simulation is stopped instead of holding its nodes"
        for where, job_spec in _job_specs(resource_type, props)
        if job_spec.get("activeDeadlineSeconds") is None
    ]


def configmap_size(resource_type: str, props: Props) -> list[str]:
    """Advise keeping a ConfigMap's data and binaryData within 512 KiB."""
    if not _is_kubernetes_object(resource_type) or _kind(resource_type) != "ConfigMap":
        return []
    size = _text_bytes(props.get("data")) + _binary_bytes(props.get("binaryData"))
    if size <= CONFIGMAP_BUDGET_BYTES:
        return []
    return [
        f"data and binaryData hold {size / 1024:.0f} KiB, above the "
        f"{CONFIGMAP_BUDGET_BYTES // 1024} KiB budget (the API server refuses 1 MiB): "
        f"set clarissa:decks.configMapMaxBytes to {CONFIGMAP_BUDGET_BYTES} or less "
        "so that decks this large are staged in the bucket"
    ]


def part_of_label(resource_type: str, props: Props) -> list[str]:
    """Require the app.kubernetes.io/part-of label on every Kubernetes object."""
    if not _is_kubernetes_object(resource_type):
        return []
    labels = _mapping(_mapping(props.get("metadata")).get("labels"))
    value = labels.get(PART_OF_LABEL)
    if isinstance(value, str) and value:
        return []
    return [
        f"metadata.labels: add {PART_OF_LABEL} (clarissa:partOf, 'clarissa' by "
        "default) so that the object is found and cleaned up with its stack"
    ]


# --- AWS ------------------------------------------------------------------


def iam_least_privilege(resource_type: str, props: Props) -> list[str]:
    """Forbid IAM policies that allow wildcard actions (`*`, `s3:*`) or resources."""
    if resource_type not in _IAM_POLICIES:
        return []
    document, error = _policy_document(props.get("policy"))
    if error is not None:
        return [f"policy: {error}; write it as an IAM policy JSON document"]
    problems = []
    for where, statement in _statements(document):
        if statement.get("Effect") != "Allow":
            continue
        actions = [a for a in _strings(statement.get("Action")) if _wide_action(a)]
        if actions:
            problems.append(
                f"{where}.Action: {', '.join(actions)} is a wildcard that grants "
                "more than the workload needs; list the actions it calls "
                "(e.g. s3:PutObject)"
            )
        if "*" in _strings(statement.get("Resource")):
            problems.append(
                f"{where}.Resource: '*' reaches every resource; name the bucket "
                "ARN or prefix (arn:aws:s3:::bucket/prefix/*)"
            )
    return problems


def bucket_hardened(resources: Sequence[StackResource]) -> list[Finding]:
    """Require each S3 bucket to block public access, encrypt, version and need TLS."""
    buckets = [r for r in resources if r[0] in _BUCKETS]
    if not buckets:
        return []
    attached: dict[str, list[StackResource]] = {}
    for resource in resources:
        if _is_bucket_setting(resource[0]):
            reference = resource[2].get("bucket")
            if isinstance(reference, str):
                attached.setdefault(reference, []).append(resource)
    findings = []
    for bucket in buckets:
        settings = [r for key in _bucket_keys(bucket) for r in attached.get(key, [])]
        findings.extend(_bucket_findings(bucket, settings))
    return findings


RULES: tuple[ResourceRule | StackRule, ...] = (
    ResourceRule(
        "image-pinned",
        "Container images are pinned to a semver tag or a sha256 digest.",
        "mandatory",
        image_pinned,
    ),
    ResourceRule(
        "container-resources",
        "Containers request and limit CPU and memory, requests within limits.",
        "mandatory",
        container_resources,
    ),
    ResourceRule(
        "pod-security-restricted",
        "Pod templates meet the Pod Security Standards `restricted` profile.",
        "mandatory",
        pod_security_restricted,
    ),
    ResourceRule(
        "job-no-ttl",
        "Jobs do not set ttlSecondsAfterFinished.",
        "mandatory",
        job_without_ttl,
    ),
    StackRule(
        "s3-bucket-hardened",
        "S3 buckets block public access, encrypt at rest, are versioned and "
        "deny requests without TLS.",
        "mandatory",
        bucket_hardened,
    ),
    ResourceRule(
        "iam-least-privilege",
        "IAM policies grant no `*` or service-wide actions and no `*` resource.",
        "mandatory",
        iam_least_privilege,
    ),
    ResourceRule(
        "kubernetes-part-of-label",
        f"Kubernetes objects carry the {PART_OF_LABEL} label.",
        "mandatory",
        part_of_label,
    ),
    ResourceRule(
        "job-active-deadline",
        "Jobs set activeDeadlineSeconds.",
        "advisory",
        job_active_deadline,
    ),
    ResourceRule(
        "configmap-size",
        f"ConfigMaps hold at most {CONFIGMAP_BUDGET_BYTES // 1024} KiB of data.",
        "advisory",
        configmap_size,
    ),
)


# --- Kubernetes helpers ---------------------------------------------------


def _kind(resource_type: str) -> str:
    return resource_type.rsplit(":", 1)[-1]


def _is_kubernetes_object(resource_type: str) -> bool:
    parts = resource_type.split(":")
    if len(parts) != 3 or parts[0] != "kubernetes":
        return False
    module, kind = parts[1], parts[2]
    # Patches change objects that others own; lists only wrap objects.
    return (
        "/" in module
        and not module.startswith(_NON_OBJECT_MODULES)
        and not kind.endswith(("Patch", "List"))
    )


def _mapping(value: object) -> Props:
    return value if isinstance(value, Mapping) else {}


def _sequence(value: object) -> Sequence[Any]:
    if isinstance(value, Sequence) and not isinstance(value, str):
        return value
    return ()


def _dig(props: Props, *keys: str) -> Props:
    for key in keys:
        props = _mapping(props.get(key))
    return props


def _pod_specs(resource_type: str, props: Props) -> Iterator[tuple[str, Props]]:
    if not _is_kubernetes_object(resource_type):
        return
    kind = _kind(resource_type)
    if kind == "Pod":
        yield "spec", _mapping(props.get("spec"))
    elif kind == "PodTemplate":
        yield "template.spec", _dig(props, "template", "spec")
    elif kind == "CronJob":
        path = ("spec", "jobTemplate", "spec", "template", "spec")
        yield ".".join(path), _dig(props, *path)
    elif kind in _POD_TEMPLATE_KINDS:
        yield "spec.template.spec", _dig(props, "spec", "template", "spec")


def _job_specs(resource_type: str, props: Props) -> Iterator[tuple[str, Props]]:
    if not _is_kubernetes_object(resource_type):
        return
    kind = _kind(resource_type)
    if kind == "Job":
        yield "spec", _mapping(props.get("spec"))
    elif kind == "CronJob":
        yield "spec.jobTemplate.spec", _dig(props, "spec", "jobTemplate", "spec")


def _containers(where: str, pod_spec: Props, field: str) -> Iterator[tuple[str, Props]]:
    for index, item in enumerate(_sequence(pod_spec.get(field))):
        container = _mapping(item)
        name = container.get("name")
        suffix = f" ({name})" if name else ""
        yield f"{where}.{field}[{index}]{suffix}", container


def _all_containers(resource_type: str, props: Props) -> Iterator[tuple[str, Props]]:
    for where, pod_spec in _pod_specs(resource_type, props):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            yield from _containers(where, pod_spec, field)


def _image_problem(image: object) -> str | None:
    if not isinstance(image, str) or not image.strip():
        return "is missing"
    name, _, digest = image.partition("@")
    if digest:
        return None if _DIGEST.match(digest) else "has a digest that is not sha256"
    # A colon before the last slash belongs to a registry port, not a tag.
    last_part = name.rsplit("/", 1)[-1]
    tag = last_part.partition(":")[2]
    if not tag:
        return "has no tag, so it means :latest"
    if tag == "latest":
        return "uses :latest, which moves"
    if _SEMVER_TAG.match(tag) is None:
        return f"has tag {tag!r}, which is not a semver version"
    return None


def _resource_problems(label: str, container: Props) -> list[str]:
    resources = _mapping(container.get("resources"))
    requests = _mapping(resources.get("requests"))
    limits = _mapping(resources.get("limits"))
    problems = []
    for kind in ("cpu", "memory"):
        request, limit = requests.get(kind), limits.get(kind)
        missing = [
            f"resources.{part}.{kind}"
            for part, value in (("requests", request), ("limits", limit))
            if value is None
        ]
        if missing:
            problems.append(
                f"{label}: set {' and '.join(missing)} so that the scheduler "
                "reserves what the container uses and the node is protected from it"
            )
            continue
        try:
            too_high = parse_quantity(request) > parse_quantity(limit)
        except ValueError as err:
            problems.append(f"{label}: resources.*.{kind}: {err}; use e.g. 500m, 8Gi")
            continue
        if too_high:
            problems.append(
                f"{label}: resources.requests.{kind} {request} is above "
                f"resources.limits.{kind} {limit}; lower the request or raise the limit"
            )
    return problems


def _pod_level_problems(where: str, pod_spec: Props) -> list[str]:
    problems = [
        f"{where}.{field}: remove it; host namespaces are not allowed"
        for field in ("hostNetwork", "hostPID", "hostIPC")
        if pod_spec.get(field) is True
    ]
    context = _mapping(pod_spec.get("securityContext"))
    if _is_root(context.get("runAsUser")):
        problems.append(
            f"{where}.securityContext.runAsUser: 0 is root; use a non-zero UID"
        )
    pod_seccomp = _dig(context, "seccompProfile").get("type")
    if pod_seccomp is not None and pod_seccomp not in _SECCOMP_TYPES:
        problems.append(
            f"{where}.securityContext.seccompProfile.type: {pod_seccomp!r} is not "
            "allowed; use RuntimeDefault or Localhost"
        )
    for index, item in enumerate(_sequence(pod_spec.get("volumes"))):
        volume = _mapping(item)
        kinds = sorted(key for key in volume if key != "name")
        if "hostPath" in kinds:
            problems.append(
                f"{where}.volumes[{index}] ({volume.get('name')}): hostPath is not "
                "allowed; use an emptyDir, configMap, secret or persistentVolumeClaim"
            )
            continue
        other = [kind for kind in kinds if kind not in _RESTRICTED_VOLUME_TYPES]
        if other:
            problems.append(
                f"{where}.volumes[{index}] ({volume.get('name')}): {', '.join(other)} "
                "is outside the restricted volume types; use one of "
                f"{', '.join(sorted(_RESTRICTED_VOLUME_TYPES))}"
            )
    return problems


def _container_problems(label: str, container: Props, pod_context: Props) -> list[str]:
    context = _mapping(container.get("securityContext"))
    problems = []
    if context.get("privileged") is True:
        problems.append(f"{label}: securityContext.privileged: set it to false")
    if context.get("allowPrivilegeEscalation") is not False:
        problems.append(
            f"{label}: securityContext.allowPrivilegeEscalation: set it to false"
        )
    capabilities = _mapping(context.get("capabilities"))
    if "ALL" not in _strings(capabilities.get("drop")):
        problems.append(f"{label}: securityContext.capabilities.drop: include ALL")
    added = [c for c in _strings(capabilities.get("add")) if c != "NET_BIND_SERVICE"]
    if added:
        problems.append(
            f"{label}: securityContext.capabilities.add: remove {', '.join(added)}; "
            "only NET_BIND_SERVICE may be added"
        )
    non_root = context.get("runAsNonRoot")
    if non_root is not True and (
        non_root is False or pod_context.get("runAsNonRoot") is not True
    ):
        problems.append(
            f"{label}: set securityContext.runAsNonRoot: true on the container or "
            "the pod (and do not set it false on the container)"
        )
    if _is_root(context.get("runAsUser")):
        problems.append(f"{label}: securityContext.runAsUser: 0 is root; use a UID")
    seccomp = _dig(context, "seccompProfile").get("type")
    if seccomp is None:
        seccomp = _dig(pod_context, "seccompProfile").get("type")
        if seccomp is None:
            problems.append(
                f"{label}: set securityContext.seccompProfile.type: RuntimeDefault "
                "on the pod or the container"
            )
    elif seccomp not in _SECCOMP_TYPES:
        problems.append(
            f"{label}: securityContext.seccompProfile.type: {seccomp!r} is not "
            "allowed; use RuntimeDefault or Localhost"
        )
    for index, item in enumerate(_sequence(container.get("ports"))):
        if _mapping(item).get("hostPort") not in (None, 0):
            problems.append(f"{label}: ports[{index}].hostPort: remove it")
    return problems


def _is_root(uid: object) -> bool:
    # Numbers cross the analyzer's gRPC as floats, so 0.0 is root too.
    return isinstance(uid, (int, float)) and not isinstance(uid, bool) and uid == 0


def _text_bytes(data: object) -> int:
    return sum(
        len(str(key).encode()) + len(str(value).encode())
        for key, value in _mapping(data).items()
    )


def _binary_bytes(data: object) -> int:
    # binaryData values are base64 text; what counts is the bytes they carry.
    total = 0
    for key, value in _mapping(data).items():
        text = str(value).strip()
        total += len(str(key).encode()) + len(text) * 3 // 4 - text[-2:].count("=")
    return total


# --- AWS helpers ----------------------------------------------------------


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in _sequence(value) if isinstance(item, str)]


def _policy_document(policy: object) -> tuple[Props, str | None]:
    if isinstance(policy, Mapping):
        return policy, None
    if not isinstance(policy, str):
        return {}, "it is missing"
    try:
        document = json.loads(policy)
    except ValueError as err:
        return {}, f"it is not valid JSON ({err})"
    if not isinstance(document, dict):
        return {}, "it is not a JSON object"
    return document, None


def _statements(document: Props) -> Iterator[tuple[str, Props]]:
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    for index, item in enumerate(_sequence(statements)):
        statement = _mapping(item)
        sid = statement.get("Sid")
        yield f"Statement[{index}]" + (f" ({sid})" if sid else ""), statement


def _wide_action(action: str) -> bool:
    return action == "*" or action.endswith(":*")


def _is_bucket_setting(resource_type: str) -> bool:
    return (
        resource_type in _ENCRYPTION
        or resource_type in _VERSIONING
        or resource_type in (_PUBLIC_ACCESS_BLOCK, _BUCKET_POLICY)
    )


def _bucket_keys(bucket: StackResource) -> list[str]:
    # Settings name their bucket by id, which is the bucket name; the logical
    # name stands in when the bucket name is left for Pulumi to generate.
    _, name, props = bucket
    keys = [name]
    for field in ("bucket", "id"):
        value = props.get(field)
        if isinstance(value, str) and value not in keys:
            keys.append(value)
    return keys


def _bucket_findings(
    bucket: StackResource, settings: Sequence[StackResource]
) -> list[Finding]:
    bucket_type, bucket_name, _ = bucket
    findings = []

    def missing(what: str) -> None:
        findings.append(Finding(bucket_type, bucket_name, f"add {what}"))

    blocks = [r for r in settings if r[0] == _PUBLIC_ACCESS_BLOCK]
    if not blocks:
        missing(
            "an aws.s3.BucketPublicAccessBlock for it with "
            f"{', '.join(_PUBLIC_ACCESS_FLAGS)} all true"
        )
    elif not any(_unset_flags(r[2]) == [] for r in blocks):
        block = blocks[0]
        findings.append(
            Finding(
                block[0],
                block[1],
                f"set {', '.join(_unset_flags(block[2]))} to true so that no ACL "
                "or policy can make the results public",
            )
        )

    encryption = [r for r in settings if r[0] in _ENCRYPTION]
    if not encryption:
        missing(
            "an aws.s3.BucketServerSideEncryptionConfiguration for it "
            "(sseAlgorithm AES256 or aws:kms)"
        )
    elif not any(_encrypts(r[2]) for r in encryption):
        findings.append(
            Finding(
                encryption[0][0],
                encryption[0][1],
                "set rules[0].applyServerSideEncryptionByDefault.sseAlgorithm to "
                "AES256 or aws:kms",
            )
        )

    versioning = [r for r in settings if r[0] in _VERSIONING]
    if not versioning:
        missing("an aws.s3.BucketVersioning for it with status Enabled")
    elif not any(_versioned(r[2]) for r in versioning):
        findings.append(
            Finding(
                versioning[0][0],
                versioning[0][1],
                "set versioningConfiguration.status to Enabled so that overwritten "
                "or deleted results can be recovered",
            )
        )

    policies = [r for r in settings if r[0] == _BUCKET_POLICY]
    tls_only = any(_denies_plain_http(r[2]) for r in policies)
    if not policies:
        missing(
            "an aws.s3.BucketPolicy for it that denies s3:* when "
            "aws:SecureTransport is false"
        )
    elif not tls_only:
        findings.append(
            Finding(
                policies[0][0],
                policies[0][1],
                "add a statement with Effect Deny, Principal *, Action s3:* and "
                'Condition {"Bool": {"aws:SecureTransport": "false"}}',
            )
        )
    return findings


def _unset_flags(props: Props) -> list[str]:
    return [flag for flag in _PUBLIC_ACCESS_FLAGS if props.get(flag) is not True]


def _encrypts(props: Props) -> bool:
    return any(
        _dig(_mapping(rule), "applyServerSideEncryptionByDefault").get("sseAlgorithm")
        in _SSE_ALGORITHMS
        for rule in _sequence(props.get("rules"))
    )


def _versioned(props: Props) -> bool:
    return _dig(props, "versioningConfiguration").get("status") == "Enabled"


def _denies_plain_http(props: Props) -> bool:
    document, error = _policy_document(props.get("policy"))
    if error is not None:
        return False
    return any(
        statement.get("Effect") == "Deny"
        and _everyone(statement.get("Principal"))
        and bool({"*", "s3:*"} & set(_strings(statement.get("Action"))))
        and _is_false(_dig(statement, "Condition", "Bool").get("aws:SecureTransport"))
        for _, statement in _statements(document)
    )


def _everyone(principal: object) -> bool:
    return principal == "*" or _strings(_mapping(principal).get("AWS")) == ["*"]


def _is_false(value: object) -> bool:
    # IAM conditions compare strings, but "false", false and ["false"] all parse.
    values = _strings(value) if not isinstance(value, bool) else [str(value)]
    return [item.lower() for item in values] == ["false"]
