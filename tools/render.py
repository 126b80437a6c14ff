"""Renders a stack offline under Pulumi's mock runtime: no CLI, cluster or cloud.

python -m tools.render --stack dev            # Kubernetes objects as YAML
python -m tools.render --stack dev --json     # every resource and the outputs
python -m tools.render --stack dev --decks other-decks/
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.errors import InputError
from components.settings import DeckSettings

# Objects that others depend on come first, as `kubectl apply -f` wants them.
_KIND_ORDER = (
    "Namespace",
    "ResourceQuota",
    "LimitRange",
    "ServiceAccount",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Job",
)
_FAKE_ACCOUNT = "000000000000"


@dataclass(frozen=True)
class RenderedResource:
    """One registered resource: its type token, logical name and resolved inputs."""

    type: str
    name: str
    inputs: dict[str, Any]
    custom: bool
    options: dict[str, Any]

    @property
    def is_kubernetes(self) -> bool:
        """Tell whether this is a Kubernetes object."""
        return self.custom and self.type.startswith("kubernetes:")


@dataclass(frozen=True)
class Rendering:
    """Everything a stack registers, and its stack outputs."""

    stack: str
    resources: tuple[RenderedResource, ...]
    outputs: dict[str, Any]
    decks: Path

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """Return the Kubernetes objects in apply order."""
        objects = [r.inputs for r in self.resources if r.is_kubernetes]
        return sorted(objects, key=_apply_order)

    def jobs(self) -> Iterator[dict[str, Any]]:
        """Yield the stack's Jobs."""
        return (obj for obj in self.kubernetes_objects() if obj["kind"] == "Job")

    def as_json(self) -> dict[str, Any]:
        """Return the --json document."""
        return {
            "resources": [
                {
                    "type": r.type,
                    "name": r.name,
                    "inputs": r.inputs,
                    "options": r.options,
                }
                for r in self.resources
            ],
            "outputs": self.outputs,
        }


class _Recorder(mocks.Mocks):
    """Answers the engine's calls the way a fresh deployment would."""

    def __init__(self) -> None:
        self.resources: list[RenderedResource] = []
        self.options: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs = _plain(args.inputs)
        with self._lock:
            self.resources.append(
                RenderedResource(
                    type=args.typ,
                    name=args.name,
                    inputs=inputs,
                    custom=bool(args.custom),
                    options=self.options.get((args.typ, args.name), {}),
                )
            )
        return _fake_id(args.typ, args.name, inputs), {**inputs, **_fake_state(args)}

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


class _OptionsMonitor(mocks.MockMonitor):
    """A mock monitor that also records the resource options mocks do not see."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__(recorder)
        self._recorder = recorder

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC name
        timeouts = request.customTimeouts
        self._recorder.options[(request.type, request.name)] = {
            "protect": bool(request.protect),
            "retainOnDelete": bool(request.retainOnDelete),
            "customTimeouts": {
                phase: getattr(timeouts, phase)
                for phase in ("create", "update", "delete")
                if getattr(timeouts, phase)
            },
            "dependsOn": sorted(
                urn.rsplit("::", 1)[-1] for urn in request.dependencies
            ),
        }
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None


def stack_config(
    stack: str, *, project_dir: Path, decks: Path | None = None
) -> tuple[str, dict[str, str]]:
    """Return the project name and the stack's config as the engine passes it."""
    project_file = project_dir / "Pulumi.yaml"
    stack_file = project_dir / f"Pulumi.{stack}.yaml"
    for path in (project_file, stack_file):
        if not path.is_file():
            raise InputError(f"{path}: not found (run from the project folder)")
    project = str(_read_yaml(project_file)["name"])
    raw = dict(_read_yaml(stack_file).get("config") or {})
    if decks is not None:
        key = f"{project}:decks"
        raw[key] = {**(raw.get(key) or {}), "path": str(decks)}
    return project, {key: _config_text(value) for key, value in raw.items()}


def render(
    stack: str, *, project_dir: Path | None = None, decks: Path | None = None
) -> Rendering:
    """Run the program for a stack under mocks and return what it registers."""
    folder = Path.cwd() if project_dir is None else project_dir
    project, config = stack_config(stack, project_dir=folder, decks=decks)
    recorder = _Recorder()
    runtime_settings.ROOT.set(None)
    mocks.set_mocks(
        recorder,
        project=project,
        stack=stack,
        preview=False,
        monitor=_OptionsMonitor(recorder),
    )
    pulumi.runtime.set_all_config(config)
    root = runtime_settings.get_root_resource()
    program = str(folder / "__main__.py")

    previous = Path.cwd()
    os.chdir(folder)
    try:
        _sync_await(run_pulumi_func(lambda: _run_program(program)))
        outputs = _sync_await(
            pulumi.Output.from_input(getattr(root, "outputs", {})).future()
        )
    except pulumi.RunError as err:
        raise InputError(str(err)) from None
    finally:
        os.chdir(previous)
    resources = tuple(sorted(recorder.resources, key=lambda r: (r.type, r.name)))
    deck_settings = json.loads(config.get(f"{project}:decks", "{}"))
    return Rendering(
        stack=stack,
        resources=resources,
        outputs=_plain(outputs or {}),
        decks=folder / deck_settings.get("path", DeckSettings().path),
    )


def _run_program(path: str) -> None:
    runpy.run_path(path, run_name="__main__")


def render_outputs(stack: str) -> dict[str, Any]:
    """Return the stack outputs the offline render predicts."""
    return render(stack).outputs


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m tools.render", description=__doc__)
    parser.add_argument("--stack", required=True, help="stack name, e.g. dev or prod")
    parser.add_argument(
        "--json", action="store_true", help="print every resource as JSON"
    )
    parser.add_argument("--decks", type=Path, help="render with another decks folder")
    parser.add_argument(
        "--check-policies", action="store_true", help="check policy/ rules instead"
    )
    args = parser.parse_args(argv)
    try:
        rendering = render(args.stack, decks=args.decks)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.check_policies:
        from tools import policy_check

        return policy_check.report(policy_check.check(rendering), stack=args.stack)
    if args.json:
        json.dump(rendering.as_json(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
    else:
        write_yaml_stream(rendering.kubernetes_objects(), sys.stdout)
    return 0


class _ManifestDumper(yaml.SafeDumper):
    """Writes manifests the way people write them: multi-line text as blocks."""


def _represent_text(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text and _block_safe(text) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def _block_safe(text: str) -> bool:
    # Block scalars cannot carry trailing spaces or most control characters
    # faithfully, so such text stays quoted.
    return not any(line != line.rstrip() for line in text.split("\n")) and all(
        char in "\n\t" or char.isprintable() for char in text
    )


_ManifestDumper.add_representer(str, _represent_text)


def write_yaml_stream(objects: list[dict[str, Any]], stream: Any) -> None:
    """Write Kubernetes objects as a multi-document YAML stream."""
    yaml.dump_all(
        [_conventional_order(obj) for obj in objects],
        stream,
        Dumper=_ManifestDumper,
        sort_keys=False,
        width=100,
    )


def _conventional_order(obj: dict[str, Any]) -> dict[str, Any]:
    head = ("apiVersion", "kind", "metadata")
    ordered = {key: _sorted(obj[key]) for key in head if key in obj}
    ordered.update({key: _sorted(obj[key]) for key in sorted(obj) if key not in head})
    return ordered


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise InputError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(document, dict):
        raise InputError(f"{path}: expected a mapping at the top")
    return document


def _config_text(value: Any) -> str:
    # The engine hands structured values to the program as JSON text and
    # scalars as their plain text, booleans in lower case.
    if isinstance(value, dict) and set(value) == {"secure"}:
        raise InputError("secret config values cannot be rendered offline")
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _plain(value: Any) -> Any:
    # Numbers cross the mock monitor as floats; whole ones go back to ints so
    # that replicas, ports and exit codes read as the schema wants them.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _apply_order(obj: dict[str, Any]) -> tuple[int, str, str]:
    kind = str(obj.get("kind", ""))
    rank = _KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER)
    metadata = obj.get("metadata", {})
    return rank, str(metadata.get("namespace", "")), str(metadata.get("name", ""))


def _fake_id(type_: str, name: str, inputs: dict[str, Any]) -> str:
    if type_.startswith("kubernetes:"):
        metadata = inputs.get("metadata", {})
        return "/".join(filter(None, [metadata.get("namespace"), metadata.get("name")]))
    if type_ == "aws:s3/bucket:Bucket":
        return str(inputs.get("bucket", name))
    return f"{name}-id"


def _fake_state(args: mocks.MockResourceArgs) -> dict[str, Any]:
    inputs = args.inputs
    if args.typ == "aws:s3/bucket:Bucket":
        return {"arn": f"arn:aws:s3:::{inputs.get('bucket', args.name)}"}
    if args.typ == "aws:iam/role:Role":
        return {
            "arn": f"arn:aws:iam::{_FAKE_ACCOUNT}:role/{inputs.get('name', args.name)}"
        }
    return {}


if __name__ == "__main__":
    sys.exit(main())
