"""Local runs: a case's pod as host processes, with uploads to a real S3 server."""

from __future__ import annotations

import copy
import csv
import os
import shutil
import subprocess
from pathlib import Path

import boto3
import numpy as np
import pytest
import resfo

from tests.conftest import (
    REPO,
    ProjectFactory,
    require_binary,
    run_tool,
    stack_file,
)
from tools import run_local
from tools.render import render

pytestmark = pytest.mark.simulator


def _run(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_tool("run_local", *args, env=env)


def _bucket(endpoint: str) -> object:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="clarissa-dev-results")
    return s3


def _keys(s3: object, prefix: str) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
        Bucket="clarissa-dev-results", Prefix=prefix
    )
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


@pytest.fixture
def broken_decks(tmp_path: Path) -> Path:
    """A deck that passes every preview check but whose PORO is one value short."""
    decks = tmp_path / "decks"
    shutil.copytree(REPO / "decks" / "layered", decks / "broken")
    (decks / "broken" / "LAYERED.DATA").rename(decks / "broken" / "BROKEN.DATA")
    grid = decks / "broken" / "INCLUDE" / "GRID" / "properties.grdecl"
    grid.write_text(grid.read_text().replace("25*0.25 25*0.18", "25*0.25 24*0.18"))
    return decks


@pytest.mark.s3
def test_spe1_runs_and_every_output_file_lands_at_the_results_uri(
    tmp_path: Path, s3_endpoint: str
) -> None:
    require_binary("flow")
    s3 = _bucket(s3_endpoint)
    workdir = tmp_path / "run"
    done = _run(
        "--stack", "dev", "--case", "spe1case1",
        "--workdir", str(workdir), "--s3-endpoint", s3_endpoint,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert "spe1case1: report step 120/120 done" in done.stderr
    assert "[spe1case1] " in done.stdout
    output = workdir / "output"
    files = {path.name for path in output.iterdir()}
    assert {"SPE1CASE1.SMSPEC", "SPE1CASE1.UNSMRY", "SPE1CASE1.PRT"} <= files
    assert _keys(s3, "results/dev/spe1case1/") == {
        f"results/dev/spe1case1/{name}" for name in files
    }

    summary = tmp_path / "summary"
    shown = run_tool(
        "results", "--stack", "dev", "--case", "spe1case1",
        "--s3-endpoint", s3_endpoint, "--out", str(summary),
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert (summary / "summary.png").stat().st_size > 10_000
    _assert_csv_matches_simulator_files(summary / "summary.csv", output)


def _assert_csv_matches_simulator_files(csv_path: Path, output: Path) -> None:
    with csv_path.open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    last = rows[-1]
    spec = dict(resfo.read(output / "SPE1CASE1.SMSPEC"))
    keywords = [_text(k) for k in spec["KEYWORDS"]]
    names = [_text(n) for n in spec["WGNAMES "]]
    params = [
        np.asarray(value)
        for key, value in resfo.read(output / "SPE1CASE1.UNSMRY")
        if key.strip() == "PARAMS"
    ]
    assert len(rows) == len(params)
    final = params[-1]
    oil_total = next(
        index
        for index, (keyword, name) in enumerate(zip(keywords, names, strict=True))
        if (keyword, name) == ("WOPT", "PROD")
    )
    assert float(last["WOPT:PROD"]) == pytest.approx(float(final[oil_total]), rel=1e-6)
    assert float(last["TIME"]) == pytest.approx(float(final[keywords.index("TIME")]))


def _text(value: bytes | str) -> str:
    return (value.decode() if isinstance(value, bytes) else value).strip()


@pytest.mark.s3
def test_a_deck_flow_rejects_fails_with_flows_status_and_still_uploads_its_log(
    tmp_path: Path, s3_endpoint: str, broken_decks: Path
) -> None:
    require_binary("flow")
    s3 = _bucket(s3_endpoint)
    done = _run(
        "--stack", "dev", "--case", "broken", "--decks", str(broken_decks),
        "--workdir", str(tmp_path / "run"), "--s3-endpoint", s3_endpoint,
    )  # fmt: skip
    assert done.returncode == 1
    assert "got 49 elements - expected : 50" in done.stdout
    assert "results/dev/broken/BROKEN.PRT" in _keys(s3, "results/dev/broken/")


def test_nested_include_deck_runs_without_upload(tmp_path: Path) -> None:
    require_binary("flow")
    workdir = tmp_path / "run"
    done = _run("--stack", "dev", "--case", "layered", "--workdir", str(workdir))
    assert done.returncode == 0, done.stderr[-3000:]
    assert (workdir / "deck/INCLUDE/GRID/layers/tops.grdecl").is_file()
    assert (workdir / "output/LAYERED.UNSMRY").is_file()
    assert "no --s3-endpoint given, skipping the upload" in done.stderr
    assert "layered: report step 12/12 done" in done.stderr


def test_missing_simulator_is_named_with_how_to_install_it(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sh").symlink_to(shutil.which("sh") or "/bin/sh")
    env = {**os.environ, "PATH": str(bin_dir)}
    workdir = tmp_path / "run"
    done = _run(
        "--stack", "dev", "--case", "layered", "--workdir", str(workdir), env=env
    )
    assert done.returncode == 2
    assert "'flow' (container simulator) is not on PATH" in done.stderr
    assert "apt-get install libopm-simulators-bin" in done.stderr
    assert not workdir.exists()


def test_unknown_case_lists_the_known_ones() -> None:
    done = _run("--stack", "dev", "--case", "spe9")
    assert done.returncode == 2
    assert done.stderr == (
        "error: unknown case 'spe9' in stack dev; known: layered, spe1case1\n"
    )


def test_a_run_folder_that_holds_a_run_is_refused(tmp_path: Path) -> None:
    (tmp_path / "output").mkdir()
    done = _run("--stack", "dev", "--case", "layered", "--workdir", str(tmp_path))
    assert done.returncode == 2
    assert "already holds a run" in done.stderr


def test_pod_features_a_host_process_cannot_reproduce_are_refused() -> None:
    pod = {
        "volumes": [{"name": "host", "hostPath": {"path": "/data"}}],
        "containers": [
            {
                "name": "simulator",
                "workingDir": "/simulation",
                "volumeMounts": [{"name": "host", "mountPath": "/data"}],
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {}}}],
            }
        ],
    }
    with pytest.raises(run_local.InputError) as caught:
        run_local.check_supported(pod)
    message = str(caught.value)
    assert "volume 'host' of type hostPath" in message
    assert "outside its workingDir /simulation" in message
    assert "env NODE uses" in message


def test_pod_result_is_the_simulators_status_when_it_fails() -> None:
    assert run_local.pod_status({"simulator": 0, "uploader": 0}) == 0
    assert run_local.pod_status({"simulator": 1, "uploader": 0}) == 1
    assert run_local.pod_status({"simulator": 0, "uploader": 255}) == 255


def test_programs_named_by_a_container_script_are_found() -> None:
    container = {
        "command": [
            "sh",
            "-c",
            'until [ -f x ]; do sleep 2; done; exec aws s3 cp a "$B"',
        ]
    }
    assert run_local.command_words(container) == ["sh", "sleep", "aws"]


def test_a_staged_deck_is_laid_out_where_its_init_container_would_put_it(
    tmp_path: Path, project: ProjectFactory
) -> None:
    config = copy.deepcopy(stack_file("dev")["config"])
    config["clarissa:decks"] = {"configMapMaxBytes": 20000}
    rendering = render("dev", project_dir=project(config=config))
    job = run_local.find_job(rendering, "spe1case1")
    pod = job["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["fetch-deck"]
    notes = run_local.lay_out(
        pod, rendering, workdir=tmp_path / "run", deck_folder=rendering.decks / "spe1"
    )
    assert notes == [
        f"laid out staged deck {rendering.decks / 'spe1'} at {tmp_path / 'run/deck'}"
    ]
    assert (tmp_path / "run/deck/SPE1CASE1.DATA").read_bytes() == (
        REPO / "decks/spe1/SPE1CASE1.DATA"
    ).read_bytes()
