"""Every rendered Kubernetes object passes strict schema validation."""

from __future__ import annotations

import kubernetes_validate
import pytest

from tools.render import Rendering

# The oldest Kubernetes release the Jobs are written for: podFailurePolicy is
# GA from 1.31.
KUBERNETES_VERSION = "1.31.0"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_passes_strict_schema_validation(
    stack: str, request: pytest.FixtureRequest
) -> None:
    rendering: Rendering = request.getfixturevalue(stack)
    objects = rendering.kubernetes_objects()
    assert {obj["kind"] for obj in objects} >= {
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Job",
    }
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_strict_validation_catches_a_misspelt_field(dev: Rendering) -> None:
    job = next(iter(dev.jobs()))
    broken = {**job, "spec": {**job["spec"], "backofLimit": 3}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
