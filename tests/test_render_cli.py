"""The offline render command: YAML stream, JSON document and user errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO, ProjectFactory, run_tool


def _render(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    # A bare environment: the render needs neither credentials nor a CLI.
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return run_tool("render", *args, cwd=cwd, env=env)


def test_yaml_stream_holds_every_kubernetes_object_in_apply_order() -> None:
    done = _render("--stack", "dev")
    assert done.returncode == 0, done.stderr
    documents = list(yaml.safe_load_all(done.stdout))
    kinds = [doc["kind"] for doc in documents]
    assert kinds[0] == "Namespace"
    assert kinds.count("Job") == 2
    assert kinds.index("ConfigMap") < kinds.index("Job")
    assert all(list(doc)[:3] == ["apiVersion", "kind", "metadata"] for doc in documents)


def test_json_document_covers_aws_resources_and_outputs() -> None:
    done = _render("--stack", "prod", "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    types = {resource["type"] for resource in document["resources"]}
    assert "aws:s3/bucket:Bucket" in types
    assert "kubernetes:batch/v1:Job" in types
    assert set(document["outputs"]) == {
        "namespace",
        "bucket",
        "serviceAccount",
        "cases",
    }
    assert all(set(r) >= {"type", "name", "inputs"} for r in document["resources"])


def test_decks_option_renders_another_decks_folder(tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    (decks / "tiny").mkdir(parents=True)
    (decks / "tiny" / "TINY.DATA").write_text("RUNSPEC\nEND\n")
    done = _render("--stack", "dev", "--json", "--decks", str(decks))
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["outputs"]["cases"]) == {"tiny"}


def test_bad_config_gives_one_clear_error_and_no_traceback(
    project: ProjectFactory,
) -> None:
    folder = project()
    stack_path = folder / "Pulumi.dev.yaml"
    document = yaml.safe_load(stack_path.read_text())
    document["config"]["clarissa:job"]["resources"]["requests"]["memory"] = "64Gi"
    stack_path.write_text(yaml.safe_dump(document))
    done = _render("--stack", "dev", cwd=folder)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: Pulumi.dev.yaml: clarissa:job.resources: requests.memory '64Gi' "
        "is above limits.memory '4Gi'\n"
    )


def test_bad_deck_gives_one_clear_error_and_no_traceback(tmp_path: Path) -> None:
    decks = tmp_path / "decks"
    (decks / "bad").mkdir(parents=True)
    (decks / "bad" / "BAD.DATA").write_text("RUNSPEC\nGRID\nINCLUDE\n 'nope.inc' /\n")
    done = _render("--stack", "dev", "--decks", str(decks))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("error: decks/bad/BAD.DATA:4: INCLUDE 'nope.inc'")


def test_unknown_stack_is_an_error() -> None:
    done = _render("--stack", "qa")
    assert done.returncode == 2
    assert "Pulumi.qa.yaml: not found" in done.stderr
