"""Measures the offline render against the bare Pulumi SDK for 10 to 1,000 cases.

    python -m tools.benchmark                 # 10, 100 and 1000 cases
    python -m tools.benchmark --cases 10 50

Each measurement runs in a fresh interpreter so that its peak memory is its own.
Two floors run under the same mocks with no settings, deck scanning or
planning: "bare" registers one minimal ConfigMap and Job per case; "same"
registers the very ConfigMaps, claims and Jobs the program renders, read from
a file, so that the difference is the program's own work.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CASE_DECK = """RUNSPEC
TITLE
   GENERATED CASE {index}
DIMENS
   3 3 1 /
OIL
WATER
METRIC
START
   1 'JAN' 2020 /
GRID
INCLUDE
   'INCLUDE/grid.inc' /
END
"""


def make_project(folder: Path, cases: int) -> None:
    """Write a project with `cases` one-case decks and the repository's dev stack."""
    for name in ("Pulumi.yaml", "Pulumi.dev.yaml", "__main__.py"):
        shutil.copy(REPO / name, folder / name)
    for index in range(cases):
        deck = folder / "decks" / f"gen{index:04d}"
        (deck / "INCLUDE").mkdir(parents=True)
        (deck / f"GEN{index:04d}.DATA").write_text(CASE_DECK.format(index=index))
        (deck / "INCLUDE" / "grid.inc").write_text(f"DX\n 9*{100 + index} /\n")


def _program(folder: Path, cases: int) -> int:
    from tools.render import render

    return len(render("dev", project_dir=folder).resources)


def _bare_floor(folder: Path, cases: int) -> int:
    """Register one minimal ConfigMap and Job per case straight through the SDK."""
    import pulumi_kubernetes as k8s

    def program() -> None:
        for index in range(cases):
            k8s.core.v1.ConfigMap(
                f"deck-{index}",
                metadata={"name": f"deck-{index}"},
                data={"CASE.DATA": CASE_DECK.format(index=index)},
            )
            k8s.batch.v1.Job(
                f"job-{index}",
                metadata={"name": f"job-{index}"},
                spec={
                    "template": {
                        "spec": {
                            "restartPolicy": "Never",
                            "containers": [{"name": "simulator", "image": "flow:1"}],
                        }
                    }
                },
            )

    return _run_under_mocks(program)


def _same_floor(folder: Path, cases: int) -> int:
    """Register the program's own Kubernetes objects with no logic around them."""
    import pulumi_kubernetes as k8s

    objects = json.loads((folder / "objects.json").read_text())
    kinds = {
        "ConfigMap": k8s.core.v1.ConfigMap,
        "PersistentVolumeClaim": k8s.core.v1.PersistentVolumeClaim,
        "Job": k8s.batch.v1.Job,
    }

    def program() -> None:
        for index, obj in enumerate(objects):
            fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            kinds[obj["kind"]](f"object-{index}", **_snake(fields))

    return _run_under_mocks(program)


def _snake(fields: dict[str, Any]) -> dict[str, Any]:
    names = {"binaryData": "binary_data"}
    return {names.get(key, key): value for key, value in fields.items()}


def _run_under_mocks(program: Callable[[], None]) -> int:
    from pulumi.runtime import mocks
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _sync_await

    class Count(mocks.Mocks):
        count = 0

        def new_resource(
            self, args: mocks.MockResourceArgs
        ) -> tuple[str, dict[str, Any]]:
            Count.count += 1
            return f"{args.name}-id", args.inputs

        def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], None]:
            return {}, None

    mocks.set_mocks(Count(), project="floor", stack="dev", preview=False)
    _sync_await(run_pulumi_func(program))
    return Count.count


MEASURED = {"program": _program, "bare": _bare_floor, "same": _same_floor}


def measure_one(kind: str, cases: int, folder: Path) -> dict[str, float]:
    """Time one render of a prepared project in this process."""
    started = time.perf_counter()
    registered = MEASURED[kind](folder, cases)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "peak_mib": _peak_mib(), "resources": registered}


def _peak_mib() -> float:
    # VmHWM starts afresh at exec, unlike ru_maxrss, which a child inherits
    # from the parent that forked it.
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _prepare(folder: Path, cases: int) -> None:
    make_project(folder, cases)
    from tools.render import render

    objects = [
        obj
        for obj in render("dev", project_dir=folder).kubernetes_objects()
        if obj["kind"] in ("ConfigMap", "PersistentVolumeClaim", "Job")
    ]
    (folder / "objects.json").write_text(json.dumps(objects))


def _child(kind: str, cases: int, folder: Path) -> dict[str, float]:
    command = [sys.executable, "-m", "tools.benchmark", "--one", kind]
    done = subprocess.run(
        [*command, "--cases", str(cases), "--folder", str(folder)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.benchmark", description=__doc__
    )
    parser.add_argument("--cases", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--one", choices=sorted(MEASURED), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one is not None:
        print(json.dumps(measure_one(args.one, args.cases[0], args.folder)))
        return 0

    print(
        f"{'cases':>6} {'program s':>10} {'bare s':>7} {'same s':>7} "
        f"{'vs bare':>8} {'vs same':>8} {'program MiB':>12} {'bare MiB':>9} "
        f"{'same MiB':>9} {'resources':>10}"
    )
    for cases in args.cases:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _prepare(folder, cases)
            program, bare, same = (
                _child(kind, cases, folder) for kind in ("program", "bare", "same")
            )
        print(
            f"{cases:>6} {program['wall_s']:>10.2f} {bare['wall_s']:>7.2f} "
            f"{same['wall_s']:>7.2f} {program['wall_s'] / bare['wall_s']:>8.2f} "
            f"{program['wall_s'] / same['wall_s']:>8.2f} {program['peak_mib']:>12.0f} "
            f"{bare['peak_mib']:>9.0f} {same['peak_mib']:>9.0f} "
            f"{int(program['resources']):>10}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
