"""Shared fixtures: rendered stacks, throwaway projects, an S3 server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.server import ThreadedMotoServer

from tools.render import Rendering, render

REPO = Path(__file__).resolve().parents[1]


def run_tool(
    module: str,
    *args: str,
    cwd: Path = REPO,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tools.<module>` as a user would, capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", f"tools.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )


def require_binary(name: str) -> str:
    """Return the path of a program the test needs; skip, or fail under CI."""
    path = shutil.which(name)
    if path is None:
        message = f"'{name}' is not on PATH"
        if os.environ.get("CI"):
            pytest.fail(f"{message}, and CI must run every test")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def dev() -> Rendering:
    """The dev stack as the repository configures it."""
    return render("dev", project_dir=REPO)


@pytest.fixture(scope="session")
def prod() -> Rendering:
    """The prod stack as the repository configures it."""
    return render("prod", project_dir=REPO)


def stack_file(stack: str) -> dict[str, Any]:
    """Return a repository stack file's parsed content."""
    return dict(yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()))


ProjectFactory = Callable[..., Path]


@pytest.fixture
def project(tmp_path: Path) -> ProjectFactory:
    """Make a throwaway project: the real program, a given stack file and decks."""

    def make(
        stack: str = "dev",
        config: dict[str, Any] | None = None,
        decks: Path | None = None,
        name: str = "proj",
    ) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        shutil.copy(REPO / "Pulumi.yaml", folder / "Pulumi.yaml")
        shutil.copy(REPO / "__main__.py", folder / "__main__.py")
        document = {
            "config": config if config is not None else stack_file("dev")["config"]
        }
        (folder / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(document))
        shutil.copytree(decks or REPO / "decks", folder / "decks")
        return folder

    return make


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """URL of a moto S3 server on loopback, with fake credentials in the env."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto keeps buckets in-process across servers; start each test empty.
    reset = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset, timeout=10).close()
    try:
        yield url
    finally:
        server.stop()
