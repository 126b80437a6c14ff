"""The stack's settings: one pydantic model of every config key, checked up front."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from components.errors import InputError
from components.quantity import canonical_quantity, parse_quantity

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*$")
_OIDC_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:oidc-provider/\S+$")


def _quantity(value: Any) -> str:
    parse_quantity(value)
    return canonical_quantity(value)


def _dns_label(value: str) -> str:
    if not _DNS_LABEL.match(value):
        raise ValueError(
            f"'{value}' is not a DNS-1123 label (lower-case letters, digits "
            "and '-', at most 63 characters, starting and ending alphanumeric)"
        )
    return value


def _bucket_name(value: str) -> str:
    if not _BUCKET.match(value) or ".." in value:
        raise ValueError(
            f"'{value}' is not an S3 bucket name (3 to 63 lower-case letters, "
            "digits, '.' and '-')"
        )
    return value


Quantity = Annotated[str, BeforeValidator(_quantity)]
DnsLabel = Annotated[str, AfterValidator(_dns_label)]
BucketName = Annotated[str, AfterValidator(_bucket_name)]


class _Settings(BaseModel):
    """Base of every settings block: camelCase keys, unknown keys refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


class ImageSettings(_Settings):
    """A container image: repository plus a tag or a digest."""

    repository: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9._/:-]*$")
    tag: str | None = None
    digest: str | None = None
    require_pinned: bool = False
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"

    @model_validator(mode="after")
    def _check_reference(self) -> ImageSettings:
        if (self.tag is None) == (self.digest is None):
            raise ValueError("give exactly one of 'tag' and 'digest'")
        if self.digest is not None and not _DIGEST.match(self.digest):
            raise ValueError(f"digest '{self.digest}' is not 'sha256:' + 64 hex digits")
        if self.tag is not None and not _TAG.match(self.tag):
            raise ValueError(f"tag '{self.tag}' is not a valid image tag")
        if self.require_pinned and self.tag is not None and not _SEMVER.match(self.tag):
            raise ValueError(
                f"tag '{self.tag}' is not pinned: this stack wants a semver tag "
                "such as 'v1.2.3' or a digest"
            )
        return self

    @property
    def reference(self) -> str:
        """The image reference a container spec names."""
        if self.digest is not None:
            return f"{self.repository}@{self.digest}"
        return f"{self.repository}:{self.tag}"


class ResourceAmounts(_Settings):
    """An amount of CPU and memory."""

    cpu: Quantity
    memory: Quantity


class Resources(_Settings):
    """Container requests and limits; requests may not exceed limits."""

    requests: ResourceAmounts
    limits: ResourceAmounts

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for field in ("cpu", "memory"):
            request = getattr(self.requests, field)
            limit = getattr(self.limits, field)
            if parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"requests.{field} '{request}' is above limits.{field} '{limit}'"
                )
        return self


class QuotaSettings(_Settings):
    """A ResourceQuota for the namespace."""

    requests_cpu: Quantity | None = None
    requests_memory: Quantity | None = None
    limits_cpu: Quantity | None = None
    limits_memory: Quantity | None = None
    requests_storage: Quantity | None = None
    pods: int | None = Field(default=None, ge=1)


class LimitRangeSettings(_Settings):
    """Default container requests and limits for the namespace."""

    default_request: ResourceAmounts
    default: ResourceAmounts


class NamespaceSettings(_Settings):
    """The namespace: created by the stack, or an existing one to deploy into."""

    name: DnsLabel
    create: bool = True
    quota: QuotaSettings | None = None
    limit_range: LimitRangeSettings | None = None


class JobSettings(_Settings):
    """How each simulation Job runs."""

    resources: Resources
    backoff_limit: int = Field(default=2, ge=0, le=20)
    active_deadline_seconds: int = Field(default=86400, ge=60)
    wait_for_completion: bool = True
    wait_timeout_minutes: int = Field(default=30, ge=1)
    run_as_user: int = Field(default=1000, ge=1)
    read_only_root_filesystem: bool = True
    node_selector: dict[str, str] = Field(default_factory=dict)


class UploaderSettings(_Settings):
    """The container that copies results to the bucket after the simulator."""

    image: ImageSettings = ImageSettings(repository="amazon/aws-cli", tag="2.22.35")
    resources: Resources = Resources(
        requests=ResourceAmounts(cpu="50m", memory="128Mi"),
        limits=ResourceAmounts(cpu="500m", memory="512Mi"),
    )


class OutputSettings(_Settings):
    """Where a case writes its output while it runs."""

    kind: Literal["pvc", "ephemeral"] = "pvc"
    size: Quantity = "10Gi"
    storage_class: str | None = None
    access_mode: Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany"] = (
        "ReadWriteOnce"
    )
    retain: bool = False


class BucketSettings(_Settings):
    """The results bucket: managed by the stack, or an existing one."""

    name: BucketName | None = None
    existing: BucketName | None = None
    prefix: str = Field(default="results", pattern=_PREFIX.pattern)
    region: str | None = None
    endpoint: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/\S*)?$")
    force_destroy: bool = False
    noncurrent_version_expiration_days: int = Field(default=90, ge=1)

    @model_validator(mode="after")
    def _one_source(self) -> BucketSettings:
        if self.name is not None and self.existing is not None:
            raise ValueError("give 'name' (a bucket to create) or 'existing', not both")
        return self


class IrsaSettings(_Settings):
    """IAM roles for service accounts: the cluster's OIDC provider."""

    oidc_provider_arn: str = Field(pattern=_OIDC_ARN.pattern)
    issuer: str = Field(min_length=1)

    @property
    def issuer_host_path(self) -> str:
        """The issuer without its scheme, as IAM condition keys spell it."""
        return re.sub(r"^https://", "", self.issuer).rstrip("/")


class AccessSettings(_Settings):
    """How pods get credentials for the bucket."""

    service_account: DnsLabel = "opm-flow"
    irsa: IrsaSettings | None = None
    secret_name: DnsLabel | None = None
    access_key_id_key: str = "AWS_ACCESS_KEY_ID"
    secret_access_key_key: str = "AWS_SECRET_ACCESS_KEY"

    @model_validator(mode="after")
    def _one_method(self) -> AccessSettings:
        if self.irsa is not None and self.secret_name is not None:
            raise ValueError("give 'irsa' or 'secretName', not both")
        return self


class DeckSettings(_Settings):
    """Where decks are read from and when they are staged in the bucket."""

    path: str = "decks"
    config_map_max_bytes: int = Field(default=786432, ge=1024, le=1000000)


class StackSettings(_Settings):
    """Every config key of a stack, under the project's namespace."""

    part_of: DnsLabel = "clarissa"
    protect: bool = False
    namespace: NamespaceSettings
    image: ImageSettings
    uploader: UploaderSettings = UploaderSettings()
    job: JobSettings
    output: OutputSettings = OutputSettings()
    bucket: BucketSettings = BucketSettings()
    access: AccessSettings = AccessSettings()
    decks: DeckSettings = DeckSettings()

    @model_validator(mode="after")
    def _protected_never_force_destroyed(self) -> StackSettings:
        if self.protect and self.bucket.force_destroy:
            raise ValueError(
                "a protected stack never force-destroys its bucket: "
                "set bucket.forceDestroy to false or protect to false"
            )
        return self


def load_settings(raw: Mapping[str, Any], *, project: str, stack: str) -> StackSettings:
    """Validate a stack's config values, or raise InputError naming every bad key.

    `raw` maps config keys without the project prefix to their parsed values.
    """
    try:
        return StackSettings.model_validate(dict(raw))
    except ValidationError as err:
        lines = [
            f"Pulumi.{stack}.yaml: {_key_path(project, error['loc'])}: "
            f"{_explain(error)}"
            for error in err.errors()
        ]
        raise InputError("\n".join(lines)) from None


def _key_path(project: str, location: tuple[int | str, ...]) -> str:
    parts = [str(part) for part in location]
    if not parts:
        return f"{project}:<root>"
    head, *rest = parts
    path = f"{project}:{head}"
    for part in rest:
        path += f"[{part}]" if part.isdigit() else f".{part}"
    return path


def _explain(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key (see the configuration reference in README.md)"
    if kind == "missing":
        return "required key is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind in {"literal_error", "string_pattern_mismatch"} or kind.endswith("_type"):
        return f"{message} (got {error['input']!r})"
    return message
