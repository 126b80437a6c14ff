"""Reads the stack's raw config values from the Pulumi runtime."""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi.runtime import config as runtime_config


def project_config(project: str) -> dict[str, Any]:
    """Return every config value under `project:`, keyed without the prefix.

    Structured values reach the program as JSON text, so each value is decoded
    when it parses and kept as text otherwise.
    """
    values = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    prefix = f"{project}:"
    return {
        key.removeprefix(prefix): _decode(value)
        for key, value in sorted(values.items())
        if key.startswith(prefix)
    }


def aws_region() -> str | None:
    """Return the AWS provider's region from stack config, if set."""
    return pulumi.Config("aws").get("region")


def _decode(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
