"""The real Pulumi engine and Kubernetes provider against a kwok control plane.

Run through `make integration`, which builds the binaries, starts the cluster
and sets KUBECONFIG, CLARISSA_IT_BIN and PATH. The steps build on each other
and run in file order: preview, up, a second up, a deck edit, admission of a
bad pod, destroy.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, stack_file
from tools.render import Rendering, render

pytestmark = pytest.mark.integration

STACK = "it"
NAMESPACE = "clarissa-it"
STORAGE_CLASS = "it-static"
IGNORED_TYPES = {"pulumi:pulumi:Stack"}


def _need_cluster() -> str:
    kubeconfig = os.environ.get("KUBECONFIG")
    if not kubeconfig or shutil.which("pulumi") is None:
        pytest.skip("run through `make integration`: no cluster or pulumi CLI")
    return kubeconfig


class Project:
    """A throwaway copy of the project with an `it` stack and a file backend."""

    def __init__(self, folder: Path, kubeconfig: str) -> None:
        self.folder = folder
        self.env = {
            **os.environ,
            "PULUMI_BACKEND_URL": f"file://{folder / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "integration-tier",
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "KUBECONFIG": kubeconfig,
            # The policy pack runs with the python3 it finds first on PATH.
            "PATH": f"{REPO / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        }

    def pulumi(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run the Pulumi CLI on the `it` stack."""
        command = ["pulumi", *args, "--stack", STACK, "--non-interactive"]
        return self._run(command, check=check, timeout=900)

    def kubectl(
        self, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against the cluster."""
        return self._run(["kubectl", *args], check=check, timeout=120)

    def _run(
        self, command: list[str], *, check: bool, timeout: int
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            command,
            cwd=self.folder,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Return the namespace's objects of one kind."""
        done = self.kubectl("get", kind, "-n", NAMESPACE, "-o", "json")
        items: list[dict[str, Any]] = json.loads(done.stdout)["items"]
        return items

    def render(self) -> Rendering:
        """Render the `it` stack offline, as the tier's reference."""
        return render(STACK, project_dir=self.folder)


def _stack_config(kubeconfig: str) -> dict[str, Any]:
    # The same values as dev but for the cluster, the bucket (no AWS provider
    # exists for this tier) and retained claims bound to static volumes.
    config = copy.deepcopy(stack_file("dev")["config"])
    config["kubernetes:kubeconfig"] = kubeconfig
    config["clarissa:namespace"]["name"] = NAMESPACE
    config["clarissa:bucket"] = {"existing": "clarissa-it-results", "prefix": "results"}
    config["clarissa:output"] = {
        "kind": "pvc",
        "size": "1Gi",
        "storageClass": STORAGE_CLASS,
        "retain": True,
    }
    config["clarissa:job"]["waitTimeoutMinutes"] = 5
    return config


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The `it` project, its stack created; the stack is removed afterwards."""
    kubeconfig = _need_cluster()
    folder = tmp_path_factory.mktemp("it")
    shutil.copy(REPO / "__main__.py", folder)
    shutil.copytree(REPO / "components", folder / "components")
    shutil.copytree(REPO / "decks", folder / "decks")
    descriptor = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    descriptor["runtime"]["options"]["virtualenv"] = str(REPO / ".venv")
    (folder / "Pulumi.yaml").write_text(yaml.safe_dump(descriptor))
    document = {"config": _stack_config(kubeconfig)}
    (folder / f"Pulumi.{STACK}.yaml").write_text(yaml.safe_dump(document))
    (folder / "state").mkdir()

    it = Project(folder, kubeconfig)
    it.pulumi("stack", "init")
    _static_volumes(it, count=len(it.render().outputs["cases"]) * 2)
    yield it
    it.pulumi("stack", "rm", "--yes", "--force", check=False)
    it.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def _static_volumes(it: Project, count: int) -> None:
    # kwok has no storage provisioner; the claims bind to these instead.
    volumes = [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"it-volume-{index}"},
            "spec": {
                "capacity": {"storage": "1Gi"},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": f"/tmp/it-volume-{index}"},
            },
        }
        for index in range(count)
    ]
    manifest = it.folder / "volumes.yaml"
    manifest.write_text(yaml.safe_dump_all(volumes))
    it.kubectl("apply", "-f", str(manifest))


def _steps(preview: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = json.loads(preview.stdout).get("steps", [])
    return steps


def _type_and_name(urn: str) -> tuple[str, str]:
    _, _, types, name = urn.split("::", 3)
    return types.split("$")[-1], name


def _changed(steps: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    changes: dict[tuple[str, str], set[str]] = {}
    for step in steps:
        if step["op"] != "same":
            changes.setdefault(_type_and_name(step["urn"]), set()).add(step["op"])
    return changes


def _wait_for_jobs(it: Project, names: set[str], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = {job["metadata"]["name"]: job for job in it.objects("jobs")}
        complete = {
            name
            for name in names
            if any(
                c["type"] == "Complete" and c["status"] == "True"
                for c in jobs.get(name, {}).get("status", {}).get("conditions", [])
            )
        }
        if complete == names:
            return
        time.sleep(2)
    pytest.fail(f"Jobs not Complete within {timeout} s: {sorted(names)}")


def test_preview_lists_every_resource_the_offline_render_lists(
    project: Project,
) -> None:
    preview = project.pulumi("preview", "--json")
    planned = {
        _type_and_name(step["urn"])
        for step in _steps(preview)
        if not _type_and_name(step["urn"])[0].startswith("pulumi:")
    }
    rendered = {(r.type, r.name) for r in project.render().resources}
    assert planned == rendered
    assert all(step["op"] == "create" for step in _steps(preview) if step["urn"])


def test_policy_pack_passes_a_real_preview(project: Project) -> None:
    done = project.pulumi("preview", "--policy-pack", str(REPO / "policy"))
    _, _, report = done.stdout.partition("Policies:")
    assert "✅ clarissa@" in report
    assert "mandatory" not in report.lower()


def test_policy_pack_stops_a_preview_with_a_floating_image(project: Project) -> None:
    stack_path = project.folder / f"Pulumi.{STACK}.yaml"
    original = stack_path.read_text()
    document = yaml.safe_load(original)
    document["config"]["clarissa:image"]["tag"] = "latest"
    stack_path.write_text(yaml.safe_dump(document))
    try:
        done = project.pulumi(
            "preview", "--policy-pack", str(REPO / "policy"), check=False
        )
    finally:
        stack_path.write_text(original)
    assert done.returncode != 0
    assert "image-pinned" in done.stdout
    assert "mandatory" in done.stdout


def test_up_creates_the_objects_and_the_jobs_complete(project: Project) -> None:
    project.pulumi("up", "--yes", "--skip-preview")
    rendering = project.render()
    expected = {
        (obj["kind"], obj["metadata"]["name"])
        for obj in rendering.kubernetes_objects()
        if obj["kind"] != "Namespace"
    }
    found = {
        (obj["kind"], obj["metadata"]["name"])
        for kind in ("configmaps", "pvc", "serviceaccounts", "jobs", "limitranges")
        for obj in project.objects(kind)
        if obj["metadata"]["name"] not in ("default", "kube-root-ca.crt")
    }
    assert expected == found
    namespace = json.loads(
        project.kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout
    )
    assert (
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
        == "restricted"
    )
    _wait_for_jobs(project, {job["metadata"]["name"] for job in rendering.jobs()})
    outputs = json.loads(project.pulumi("stack", "output", "--json").stdout)
    assert outputs == rendering.outputs


def test_rendered_yaml_passes_server_side_dry_run(project: Project) -> None:
    rendered = subprocess.run(
        [sys.executable, "-m", "tools.render", "--stack", STACK],
        cwd=project.folder,
        env={**project.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    manifest = project.folder / "rendered.yaml"
    manifest.write_text(rendered.stdout)
    done = project.kubectl("apply", "--dry-run=server", "-f", str(manifest))
    assert done.stdout.count("(server dry run)") == len(
        list(yaml.safe_load_all(rendered.stdout))
    )


def test_second_up_changes_nothing(project: Project) -> None:
    done = project.pulumi("up", "--yes", "--expect-no-changes", check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_editing_a_deck_replaces_only_its_config_map_and_jobs(project: Project) -> None:
    tops = project.folder / "decks/layered/INCLUDE/GRID/layers/tops.grdecl"
    tops.write_text(tops.read_text() + "-- moved by the integration tier\n")
    changes = _changed(_steps(project.pulumi("preview", "--json")))
    assert set(changes) == {
        ("kubernetes:core/v1:ConfigMap", "deck-layered-files"),
        ("kubernetes:batch/v1:Job", "case-layered-job"),
    }
    for ops in changes.values():
        assert ops <= {"replace", "create-replacement", "delete-replaced"}
    project.pulumi("up", "--yes", "--skip-preview")
    _wait_for_jobs(
        project, {job["metadata"]["name"] for job in project.render().jobs()}
    )


def test_namespace_admission_refuses_a_pod_that_breaks_restricted(
    project: Project,
) -> None:
    job = next(iter(project.render().jobs()))
    pod_spec = copy.deepcopy(job["spec"]["template"]["spec"])
    simulator = pod_spec["containers"][0]
    simulator["securityContext"]["privileged"] = True
    simulator["securityContext"]["allowPrivilegeEscalation"] = True
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged-simulator", "namespace": NAMESPACE},
        "spec": pod_spec,
    }
    manifest = project.folder / "bad-pod.yaml"
    manifest.write_text(yaml.safe_dump(bad))
    done = project.kubectl("apply", "-f", str(manifest), check=False)
    assert done.returncode != 0
    assert 'violates PodSecurity "restricted:latest"' in done.stderr
    assert "privileged" in done.stderr


def test_destroy_removes_the_stack_and_keeps_retained_claims(project: Project) -> None:
    claims = {claim["metadata"]["name"] for claim in project.objects("pvc")}
    project.pulumi("destroy", "--yes", "--skip-preview")
    exported = json.loads(project.pulumi("stack", "export").stdout)
    assert exported["deployment"].get("resources") in (None, [])
    assert {claim["metadata"]["name"] for claim in project.objects("pvc")} == claims
    assert project.objects("jobs") == []
    assert [
        cm
        for cm in project.objects("configmaps")
        if cm["metadata"]["name"].startswith("deck-")
    ] == []
