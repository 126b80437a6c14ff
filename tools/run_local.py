"""Runs one case on this machine exactly as its pod would: same files, commands, env.

python -m tools.run_local --stack dev --case spe1case1
python -m tools.run_local --stack dev --case spe1case1 --s3-endpoint http://127.0.0.1:9000
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from components.errors import InputError
from components.naming import LABEL_PREFIX
from components.podspec import FETCHER, SCRATCH_DIR, SIMULATOR, UPLOADER
from tools.render import Rendering, render

_SUPPORTED_VOLUMES = {"configMap", "emptyDir", "persistentVolumeClaim"}
# Shell words that come before the program a simple command runs, and shell
# builtins, after which nothing else runs.
_LEADING_WORDS = {"until", "while", "do", "then", "else", "elif", "if", "exec", "!"}
_BUILTINS = {
    "done", "fi", "echo", "exit", "test", "[", "true", "false", "set", "export",
    "cd", "return", "shift", "wait", "trap", "read", ":",
}  # fmt: skip
_PROGRAM = re.compile(r"^[A-Za-z][\w.+-]*$")
_SEPARATORS = re.compile(r"[;&|\n]+")
_INSTALL_HINTS = {
    "flow": "install OPM Flow: apt-get install libopm-simulators-bin",
    "aws": "install the AWS CLI into the venv: pip install -r requirements-dev.txt",
    "sh": "install a POSIX shell: apt-get install dash",
}
# While simulating, flow starts each report step with "Report step  N/M at
# day ...": N steps of M are then done. (It also prints report steps while it
# reads the schedule, before any simulation; those lines are not progress.)
_STEP = re.compile(r"^Report step\s+(\d+)/(\d+) at day")
_END = re.compile(r"=+\s+End of simulation\s+=+")


@dataclass
class Progress:
    """Report steps done out of the schedule's total, read from the simulator."""

    total: int | None = None
    done: int = 0

    def update(self, line: str) -> bool:
        """Read one output line; tell whether a report step just completed."""
        step = _STEP.search(line)
        if step is not None:
            self.done, self.total = int(step.group(1)), int(step.group(2))
            return self.done > 0
        if _END.search(line) and self.total is not None:
            self.done = self.total
            return True
        return False


@dataclass
class ContainerRun:
    """One container as a host process."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    prefix: str
    progress: Progress | None = None
    process: subprocess.Popen[str] | None = field(default=None, repr=False)


def find_job(rendering: Rendering, case: str) -> dict[str, Any]:
    """Return the case's Job, or raise InputError listing the known cases."""
    jobs = {
        job["metadata"]["labels"][f"{LABEL_PREFIX}/case"]: job
        for job in rendering.jobs()
    }
    if case not in jobs:
        known = ", ".join(sorted(jobs)) or "none"
        raise InputError(
            f"unknown case '{case}' in stack {rendering.stack}; known: {known}"
        )
    return jobs[case]


def check_supported(pod: dict[str, Any]) -> None:
    """Refuse pod features that a host process cannot reproduce faithfully."""
    problems: list[str] = []
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= _SUPPORTED_VOLUMES:
            problems.append(
                f"volume '{volume['name']}' of type {', '.join(sorted(kinds))}"
            )
    for container in [*pod.get("initContainers", []), *pod["containers"]]:
        name = container["name"]
        working_dir = container.get("workingDir")
        if working_dir is None:
            problems.append(f"container '{name}' has no workingDir")
            continue
        for mount in container.get("volumeMounts", []):
            if "subPath" in mount or "subPathExpr" in mount:
                problems.append(f"container '{name}' mounts with subPath")
            if not _inside(mount["mountPath"], working_dir):
                problems.append(
                    f"container '{name}' mounts '{mount['name']}' at "
                    f"{mount['mountPath']}, outside its workingDir {working_dir}"
                )
        if container.get("envFrom"):
            problems.append(f"container '{name}' uses envFrom")
        for variable in container.get("env", []):
            source = variable.get("valueFrom", {})
            if source and set(source) != {"secretKeyRef"}:
                problems.append(
                    f"container '{name}' env {variable['name']} uses {source}"
                )
        if container.get("restartPolicy") == "Always":
            problems.append(f"container '{name}' is a sidecar")
        if container.get("lifecycle"):
            problems.append(f"container '{name}' has lifecycle hooks")
    if problems:
        raise InputError(
            "the local run cannot reproduce this pod faithfully: " + "; ".join(problems)
        )


def lay_out(
    pod: dict[str, Any], rendering: Rendering, *, workdir: Path, deck_folder: Path
) -> list[str]:
    """Create every volume at its mount path below `workdir`; return notes."""
    notes: list[str] = []
    mounts = {
        mount["name"]: mount["mountPath"]
        for container in [*pod.get("initContainers", []), *pod["containers"]]
        for mount in container.get("volumeMounts", [])
    }
    working_dir = pod["containers"][0]["workingDir"]
    config_maps = {
        obj["metadata"]["name"]: obj
        for obj in rendering.kubernetes_objects()
        if obj["kind"] == "ConfigMap"
    }
    fetched = {
        mount["name"]
        for container in pod.get("initContainers", [])
        if container["name"] == FETCHER
        for mount in container.get("volumeMounts", [])
        if mount["name"] != SCRATCH_DIR
    }
    for volume in pod.get("volumes", []):
        name = volume["name"]
        if name not in mounts:
            continue
        target = workdir / _relative(mounts[name], working_dir)
        target.mkdir(parents=True, exist_ok=True)
        if "configMap" in volume:
            _write_items(volume["configMap"], config_maps, target)
        elif name in fetched:
            # A staged deck is the deck folder itself, copied to the prefix the
            # init container downloads from: lay the same files out directly.
            shutil.copytree(deck_folder, target, dirs_exist_ok=True)
            notes.append(f"laid out staged deck {deck_folder} at {target}")
    return notes


def _write_items(
    source: dict[str, Any], config_maps: dict[str, dict[str, Any]], target: Path
) -> None:
    config_map = config_maps[source["name"]]
    data = config_map.get("data") or {}
    binary = config_map.get("binaryData") or {}
    items = source.get("items") or [
        {"key": key, "path": key} for key in [*data, *binary]
    ]
    for item in items:
        path = target / item["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        if item["key"] in data:
            path.write_bytes(data[item["key"]].encode("utf-8"))
        else:
            path.write_bytes(base64.b64decode(binary[item["key"]]))


def command_words(container: dict[str, Any]) -> list[str]:
    """Return the programs a container runs: its command and those its script names."""
    argv = [*container.get("command", []), *container.get("args", [])]
    words = [argv[0]] if argv else []
    if len(argv) >= 3 and argv[1] == "-c":
        for command in _SEPARATORS.split(argv[2]):
            # Skip shell keywords and builtins to reach the program a simple
            # command runs; an assignment runs nothing.
            tokens = command.split()
            while tokens and tokens[0] in _LEADING_WORDS:
                tokens.pop(0)
            if tokens and tokens[0] not in _BUILTINS and _PROGRAM.match(tokens[0]):
                words.append(tokens[0])
    return list(dict.fromkeys(words))


def missing_binaries(containers: Iterable[dict[str, Any]], path: str) -> list[str]:
    """Return a message for each program that is not on PATH."""
    missing: list[str] = []
    for container in containers:
        for word in command_words(container):
            if shutil.which(word, path=path) is None:
                hint = _INSTALL_HINTS.get(word, "install it and put it on PATH")
                missing.append(
                    f"'{word}' (container {container['name']}) is not on PATH: {hint}"
                )
    return list(dict.fromkeys(missing))


def container_env(
    container: dict[str, Any],
    *,
    working_dir: str,
    workdir: Path,
    base: dict[str, str],
    endpoint: str | None,
) -> dict[str, str]:
    """Return the host environment a container's process gets."""
    env = dict(base)
    for variable in container.get("env", []):
        name = variable["name"]
        if "value" in variable:
            env[name] = _host_path(variable["value"], working_dir, workdir)
        elif name not in base:
            # Secret values are not in the render; the caller's environment
            # supplies them, or the S3 client finds ambient credentials.
            env.pop(name, None)
    if endpoint == "aws":
        env.pop("AWS_ENDPOINT_URL", None)
    elif endpoint is not None:
        env["AWS_ENDPOINT_URL"] = endpoint
    return env


def _host_path(value: str, working_dir: str, workdir: Path) -> str:
    if _inside(value, working_dir):
        return str(workdir / _relative(value, working_dir))
    return value


def _inside(path: str, folder: str) -> bool:
    return PurePosixPath(path).is_relative_to(PurePosixPath(folder))


def _relative(path: str, folder: str) -> str:
    return PurePosixPath(path).relative_to(PurePosixPath(folder)).as_posix()


def _pump(run: ContainerRun, stream: IO[str], out: IO[str], case: str) -> None:
    shown = -1
    for line in stream:
        out.write(f"{run.prefix} {line}")
        out.flush()
        progress = run.progress
        if progress is None or not progress.update(line) or not progress.total:
            continue
        # One line per tenth of the schedule keeps long runs readable.
        tenth = progress.done * 10 // progress.total
        if tenth != shown:
            shown = tenth
            print(
                f"{case}: report step {progress.done}/{progress.total} done",
                file=sys.stderr,
            )


def _start(run: ContainerRun, case: str) -> threading.Thread:
    run.process = subprocess.Popen(
        run.argv,
        cwd=run.cwd,
        env=run.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    assert run.process.stdout is not None
    pump = threading.Thread(
        target=_pump, args=(run, run.process.stdout, sys.stdout, case), daemon=True
    )
    pump.start()
    return pump


def _wait(runs: list[ContainerRun], pumps: list[threading.Thread]) -> dict[str, int]:
    codes = {}
    for run, pump in zip(runs, pumps, strict=True):
        assert run.process is not None
        codes[run.name] = run.process.wait()
        pump.join()
    return codes


def _runs(
    containers: list[dict[str, Any]],
    *,
    case: str,
    working_dir: str,
    workdir: Path,
    base: dict[str, str],
    endpoint: str | None,
) -> Iterator[ContainerRun]:
    for container in containers:
        name = container["name"]
        yield ContainerRun(
            name=name,
            argv=[*container.get("command", []), *container.get("args", [])],
            cwd=workdir / _relative(container["workingDir"], working_dir),
            env=container_env(
                container,
                working_dir=working_dir,
                workdir=workdir,
                base=base,
                endpoint=endpoint,
            ),
            prefix=f"[{case}]" if name == SIMULATOR else f"[{case} {name}]",
            progress=Progress() if name == SIMULATOR else None,
        )


def run_case(
    *,
    stack: str,
    case: str,
    workdir: Path | None,
    endpoint: str | None,
    decks: Path | None = None,
) -> int:
    """Run a case's pod on this machine and return the pod's exit status."""
    rendering = render(stack, decks=decks)
    job = find_job(rendering, case)
    pod = job["spec"]["template"]["spec"]
    check_supported(pod)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = workdir or Path("runs") / stack / case / stamp
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder} already holds a run: choose another --workdir")

    init = [c for c in pod.get("initContainers", []) if c["name"] != FETCHER]
    main = [
        c for c in pod["containers"] if endpoint is not None or c["name"] != UPLOADER
    ]
    search_path = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ["PATH"]]
    )
    missing = missing_binaries([*init, *main], search_path)
    if missing:
        raise InputError("cannot start: " + "; ".join(missing))

    folder.mkdir(parents=True, exist_ok=True)
    deck_name = job["metadata"]["labels"][f"{LABEL_PREFIX}/deck"]
    deck_folder = rendering.decks / deck_name
    for note in lay_out(pod, rendering, workdir=folder, deck_folder=deck_folder):
        print(f"{case}: {note}", file=sys.stderr)
    if endpoint is None:
        print(
            f"{case}: no --s3-endpoint given, skipping the upload; results stay in "
            f"{folder / 'output'}",
            file=sys.stderr,
        )

    working_dir = pod["containers"][0]["workingDir"]
    base = {**os.environ, "PATH": search_path}
    options = {
        "case": case,
        "working_dir": working_dir,
        "workdir": folder,
        "base": base,
        "endpoint": endpoint,
    }
    started = time.monotonic()
    for run in _runs(init, **options):
        code = _wait([run], [_start(run, case)])[run.name]
        if code != 0:
            print(
                f"{case}: init container {run.name} failed with {code}", file=sys.stderr
            )
            return code
    runs = list(_runs(main, **options))
    codes = _wait(runs, [_start(run, case) for run in runs])

    status = pod_status(codes)
    elapsed = time.monotonic() - started
    verdict = "succeeded" if status == 0 else f"failed with exit status {status}"
    print(f"{case}: {verdict} in {elapsed:.1f} s; run folder {folder}", file=sys.stderr)
    return status


def pod_status(codes: dict[str, int]) -> int:
    """Return the pod's result: 0, else the simulator's status, else any failure."""
    if codes.get(SIMULATOR, 0) != 0:
        return codes[SIMULATOR]
    return next((code for code in codes.values() if code != 0), 0)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.run_local", description=__doc__
    )
    parser.add_argument("--stack", required=True, help="stack whose Job spec to run")
    parser.add_argument(
        "--case", required=True, help="case name (see the cases output)"
    )
    parser.add_argument(
        "--workdir", type=Path, help="run folder (default runs/STACK/CASE/TIME)"
    )
    parser.add_argument(
        "--s3-endpoint",
        help="upload as the pod does: an S3-compatible endpoint URL, or 'aws'",
    )
    parser.add_argument("--decks", type=Path, help="use another decks folder")
    args = parser.parse_args(argv)
    try:
        return run_case(
            stack=args.stack,
            case=args.case,
            workdir=args.workdir,
            endpoint=args.s3_endpoint,
            decks=args.decks,
        )
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
