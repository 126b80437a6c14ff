"""Stack settings: the pydantic model and the messages users get for bad values."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from components.errors import InputError
from components.quantity import parse_quantity
from components.settings import load_settings
from tests.conftest import stack_file


def _raw(stack: str) -> dict[str, Any]:
    config = stack_file(stack)["config"]
    return {
        key.split(":", 1)[1]: copy.deepcopy(value)
        for key, value in config.items()
        if key.startswith("clarissa:")
    }


def _error(raw: dict[str, Any], stack: str = "dev") -> str:
    with pytest.raises(InputError) as caught:
        load_settings(raw, project="clarissa", stack=stack)
    return str(caught.value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("2", Decimal(2)),
        (2, Decimal(2)),
        ("1.5", Decimal("1.5")),
        ("8Gi", Decimal(8 * 2**30)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1G", Decimal(10**9)),
        ("1e3", Decimal(1000)),
    ],
)
def test_quantities_parse_to_their_exact_value(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "2 cores", "8GB", "Gi", "-", "1.2.3"])
def test_malformed_quantities_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        parse_quantity(text)


def test_both_repository_stacks_validate() -> None:
    for stack in ("dev", "prod"):
        settings = load_settings(_raw(stack), project="clarissa", stack=stack)
        assert settings.namespace.name == f"clarissa-{stack}"


def test_request_above_limit_names_stack_file_and_key() -> None:
    raw = _raw("dev")
    raw["job"]["resources"]["requests"]["cpu"] = "4"
    message = _error(raw)
    assert message.startswith("Pulumi.dev.yaml: clarissa:job.resources: ")
    assert "requests.cpu '4' is above limits.cpu '2'" in message


def test_bad_quantity_names_the_key_path() -> None:
    raw = _raw("dev")
    raw["job"]["resources"]["limits"]["memory"] = "4 gigs"
    message = _error(raw)
    assert "Pulumi.dev.yaml: clarissa:job.resources.limits.memory:" in message
    assert "'4 gigs' is not a Kubernetes quantity" in message


def test_unknown_key_is_refused_by_name() -> None:
    raw = _raw("dev")
    raw["job"]["retries"] = 3
    assert "Pulumi.dev.yaml: clarissa:job.retries: unknown key" in _error(raw)


def test_unknown_top_level_key_is_refused() -> None:
    raw = _raw("dev")
    raw["colour"] = "blue"
    assert "clarissa:colour: unknown key" in _error(raw)


def test_missing_required_key_is_named() -> None:
    raw = _raw("dev")
    del raw["image"]
    assert "Pulumi.dev.yaml: clarissa:image: required key is missing" in _error(raw)


def test_every_bad_key_is_reported_in_one_message() -> None:
    raw = _raw("dev")
    raw["job"]["backoffLimit"] = -1
    raw["output"]["kind"] = "nfs"
    lines = _error(raw).splitlines()
    assert len(lines) == 2
    assert any("clarissa:job.backoffLimit" in line for line in lines)
    assert any("clarissa:output.kind" in line and "'nfs'" in line for line in lines)


@pytest.mark.parametrize("tag", ["latest", "main", "1.0", "v1"])
def test_a_stack_that_requires_pinned_images_refuses_floating_tags(tag: str) -> None:
    raw = _raw("prod")
    raw["image"]["tag"] = tag
    message = _error(raw, stack="prod")
    assert "Pulumi.prod.yaml: clarissa:image:" in message
    assert f"tag '{tag}' is not pinned" in message


@pytest.mark.parametrize(
    "reference",
    [{"tag": "v2.3.4"}, {"tag": "2024.10.1-rc1"}, {"digest": "sha256:" + "a" * 64}],
)
def test_a_stack_that_requires_pinned_images_takes_semver_or_digest(
    reference: dict[str, str],
) -> None:
    raw = _raw("prod")
    raw["image"] = {**raw["image"], "tag": None, **reference}
    settings = load_settings(raw, project="clarissa", stack="prod")
    assert settings.image.reference.endswith(next(iter(reference.values())))


def test_dev_takes_a_floating_tag() -> None:
    raw = _raw("dev")
    raw["image"]["tag"] = "latest"
    settings = load_settings(raw, project="clarissa", stack="dev")
    assert settings.image.reference.endswith(":latest")


def test_image_needs_exactly_one_of_tag_and_digest() -> None:
    raw = _raw("dev")
    raw["image"]["digest"] = "sha256:" + "b" * 64
    assert "exactly one of 'tag' and 'digest'" in _error(raw)


def test_bucket_name_and_existing_bucket_exclude_each_other() -> None:
    raw = _raw("dev")
    raw["bucket"] = {"name": "a-bucket", "existing": "other-bucket"}
    assert "not both" in _error(raw)


def test_protected_stack_never_force_destroys_its_bucket() -> None:
    raw = _raw("prod")
    raw["bucket"]["forceDestroy"] = True
    assert "never force-destroys" in _error(raw, stack="prod")


def test_irsa_and_secret_access_exclude_each_other() -> None:
    raw = _raw("prod")
    raw["access"]["secretName"] = "keys"
    assert "give 'irsa' or 'secretName', not both" in _error(raw, stack="prod")


def test_namespace_name_must_be_a_dns_label() -> None:
    raw = _raw("dev")
    raw["namespace"]["name"] = "Clarissa_Dev"
    assert "clarissa:namespace.name" in _error(raw)
